/** The in-memory TaughtLabelStore fake holds to the contract; the tagger's scoring and its cache of the labels. */
import { describe, expect, it } from 'vitest';
import { cachedTaughtLabels, MAX_NAMES_PER_IMAGE, scoreNames } from '../../src/tagging/taught-labels.ts';
import { l2Normalize } from '../../src/tagging/vector-index.ts';
import { MemoryTaughtLabels } from '../helpers/memory-taught-labels.ts';
import { taughtLabel, taughtLabelsContract } from '../helpers/taught-labels-contract.ts';

taughtLabelsContract('MemoryTaughtLabels (fake)', async () => new MemoryTaughtLabels());

const unit = (...v: number[]) => l2Normalize(Float32Array.from(v));

describe('scoreNames', () => {
  const dogs = taughtLabel('my dogs', { centroid: unit(1, 0, 0), threshold: 0.8, group: 'dog' });
  const red = taughtLabel('red things', { centroid: unit(0, 1, 0), threshold: 0.5, group: undefined });
  const other = taughtLabel('other model', { centroid: unit(1, 0, 0), threshold: 0.1, model: 'other@2' });
  it('keeps the names of the model the image passes (group and threshold), best first', () => {
    const image = { embedding: unit(0.9, 0.4, 0), categories: [{ label: 'dog', score: 0.9 }] };
    const got = scoreNames([red, dogs, other], 'fake@1', image);
    expect(got.map((n) => n.label)).toEqual(['my dogs']);
    expect(got[0]?.score).toBeCloseTo(0.9 / Math.hypot(0.9, 0.4), 6);
    expect(
      scoreNames([red, dogs], 'fake@1', { ...image, categories: [{ label: 'cat', score: 0.9 }] }),
    ).toEqual([]);
    const both = scoreNames([red, dogs], 'fake@1', { ...image, embedding: unit(0.9, 0.7, 0) });
    expect(both.map((n) => n.label)).toEqual(['red things']);
  });
  it('gives at most MAX_NAMES_PER_IMAGE names', () => {
    const many = Array.from({ length: 9 }, (_, i) =>
      taughtLabel(`n${i}`, { centroid: unit(1, i / 100, 0), threshold: 0.1, group: undefined }),
    );
    expect(scoreNames(many, 'fake@1', { embedding: unit(1, 0, 0), categories: [] })).toHaveLength(
      MAX_NAMES_PER_IMAGE,
    );
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
