/** The in-memory TaughtLabelStore fake holds to the contract; the tagger's scoring and its cache of the labels. */
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../models/resnet18.ts';
import {
  cachedTaughtLabels,
  DOT_PRODUCTS_MIN_VALUES,
  type DotProducts,
  MAX_NAMES_PER_IMAGE,
  scoreNames,
} from '../../src/tagging/taught-labels.ts';
import { l2Normalize } from '../../src/tagging/vector-index.ts';
import { MemoryTaughtLabels } from '../helpers/memory-taught-labels.ts';
import { taughtLabel, taughtLabelsContract } from '../helpers/taught-labels-contract.ts';

taughtLabelsContract('MemoryTaughtLabels (fake)', async () => new MemoryTaughtLabels());

const unit = (...v: number[]) => l2Normalize(Float32Array.from(v));

describe('scoreNames', () => {
  const dogs = taughtLabel('my dogs', { centroid: unit(1, 0, 0), threshold: 0.8, group: 'dog' });
  const red = taughtLabel('red things', { centroid: unit(0, 1, 0), threshold: 0.5, group: undefined });
  const other = taughtLabel('other model', { centroid: unit(1, 0, 0), threshold: 0.1, model: 'other@2' });
  it('keeps the names of the model the image passes (group and threshold), best first', async () => {
    const image = { embedding: unit(0.9, 0.4, 0), categories: [{ label: 'dog', score: 0.9 }] };
    const got = await scoreNames([red, dogs, other], 'fake@1', image);
    expect(got.map((n) => n.label)).toEqual(['my dogs']);
    expect(got[0]?.score).toBeCloseTo(0.9 / Math.hypot(0.9, 0.4), 6);
    expect(
      await scoreNames([red, dogs], 'fake@1', { ...image, categories: [{ label: 'cat', score: 0.9 }] }),
    ).toEqual([]);
    const both = await scoreNames([red, dogs], 'fake@1', { ...image, embedding: unit(0.9, 0.7, 0) });
    expect(both.map((n) => n.label)).toEqual(['red things']);
  });
  it('gives at most MAX_NAMES_PER_IMAGE names', async () => {
    const many = Array.from({ length: 9 }, (_, i) =>
      taughtLabel(`n${i}`, { centroid: unit(1, i / 100, 0), threshold: 0.1, group: undefined }),
    );
    expect(await scoreNames(many, 'fake@1', { embedding: unit(1, 0, 0), categories: [] })).toHaveLength(
      MAX_NAMES_PER_IMAGE,
    );
  });
  it('multiplies through the DotProducts port from DOT_PRODUCTS_MIN_VALUES values of names that pass their group, the loop below', async () => {
    // The port's products, computed here the plain way, counting its calls.
    let calls = 0;
    const port: DotProducts = async (rows, vector) => {
      calls++;
      return Float32Array.from({ length: rows.length / vector.length }, (_, k) =>
        vector.reduce((sum, x, i) => sum + x * (rows[k * vector.length + i] as number), 0),
      );
    };
    const d = 64;
    const random = seededRandom(7);
    const vector = () => l2Normalize(Float32Array.from({ length: d }, () => random() - 0.5));
    // A third of the names are birds: a dog image's check leaves them out, and they are not counted.
    const groups = ['bird', 'dog', undefined];
    const names = (count: number) =>
      Array.from({ length: count }, (_, i) =>
        taughtLabel(`n${i}`, { centroid: vector(), threshold: 0.1, group: groups[i % 3] }),
      );
    const image = { embedding: vector(), categories: [{ label: 'dog', score: 0.9 }] };
    const enough = DOT_PRODUCTS_MIN_VALUES / d; // names that pass
    const few = names(enough * 1.5 - 1);
    expect(few.length * d).toBeGreaterThan(DOT_PRODUCTS_MIN_VALUES);
    expect(await scoreNames(few, 'fake@1', image, port)).toEqual(await scoreNames(few, 'fake@1', image));
    expect(calls).toBe(0);
    const many = names(enough * 1.5);
    const viaPort = await scoreNames(many, 'fake@1', image, port);
    expect(calls).toBe(1);
    const byLoop = await scoreNames(many, 'fake@1', image);
    expect(viaPort.map((n) => n.label)).toEqual(byLoop.map((n) => n.label));
    expect(viaPort).toHaveLength(MAX_NAMES_PER_IMAGE);
    viaPort.forEach((n, i) => {
      expect(n.score).toBeCloseTo(byLoop[i]?.score as number, 6);
    });
    // The group check still applies to the port's products: no bird name for a dog.
    expect(viaPort.every((n) => Number(n.label.slice(1)) % 3 !== 0)).toBe(true);
    // A list of another model has nothing to multiply.
    expect(await scoreNames(many, 'other@1', image, port)).toEqual([]);
    expect(calls).toBe(1);
  });
});

describe('cachedTaughtLabels', () => {
  it('reads the store once per bucket and TTL, again after forget or a failure', async () => {
    const store = new MemoryTaughtLabels();
    await store.put('b', taughtLabel('my dogs'));
    let t = 0;
    const list = cachedTaughtLabels(store, 1000, () => t);
    expect((await list('b')).map((l) => l.name)).toEqual(['my dogs']);
    await store.put('b', taughtLabel('my cats'));
    t = 999;
    expect(await list('b')).toHaveLength(1);
    t = 1000;
    expect(await list('b')).toHaveLength(2);
    await store.delete('b', 'my cats');
    list.forget('b');
    expect(await list('b')).toHaveLength(1);
    expect(store.calls.filter((c) => c === 'list')).toHaveLength(3);
    let fail = true;
    const flaky = cachedTaughtLabels(
      { list: async () => (fail ? Promise.reject(new Error('throttled')) : []) },
      1000,
      () => t,
    );
    await expect(flaky('b')).rejects.toThrow('throttled');
    fail = false;
    expect(await flaky('b')).toEqual([]);
  });
});
