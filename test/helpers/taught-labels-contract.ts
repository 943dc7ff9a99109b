/**
 * One contract for every TaughtLabelStore (src/tagging/taught-labels.ts): the in-memory fake
 * (test/unit/taught-labels.test.ts) and the DynamoDB adapter on dynalite
 * (test/integration/dynamo-taught-labels.test.ts) run exactly these tests.
 */
import { describe, expect, it } from 'vitest';
import type { TaughtLabel, TaughtLabelStore } from '../../src/tagging/taught-labels.ts';
import { l2Normalize } from '../../src/tagging/vector-index.ts';
import { freshBucket } from './index-contract.ts';

export const taughtLabel = (name: string, extra: Partial<TaughtLabel> = {}): TaughtLabel => ({
  name,
  model: 'fake@1',
  group: 'dog',
  centroid: l2Normalize(Float32Array.from({ length: 1280 }, (_, i) => Math.sin(i + name.length))),
  threshold: 0.61,
  leaveOneOut: [0.7, 0.66, 0.72],
  examples: ['uploads/a.jpg', 'uploads/b.jpg', 'uploads/c.jpg'],
  not: [],
  createdBy: 'ann',
  createdAt: '2026-12-07T04:00:00.000Z',
  labelled: 0,
  complete: false,
  ...extra,
});

export function taughtLabelsContract(name: string, store: () => Promise<TaughtLabelStore>) {
  describe(`TaughtLabelStore contract: ${name}`, () => {
    it('keeps a label whole: centroid bit for bit, examples as keys, Chinese names; created, then replaced', async () => {
      const s = await store();
      const b = freshBucket();
      const dogs = taughtLabel('my dogs', { not: ['uploads/cat.jpg'], createdByEmail: 'ann@example.com' });
      expect(await s.put(b, dogs)).toBe('created');
      const got = await s.get(b, 'My  Dogs');
      expect(got).toEqual(dogs);
      expect(got?.centroid).toBeInstanceOf(Float32Array);
      const { group: _, ...noGroup } = taughtLabel('我的猫', {
        examples: ['uploads/猫 1.jpg', 'uploads/x.jpg', 'uploads/y.jpg'],
      });
      expect(await s.put(b, noGroup)).toBe('created');
      expect(await s.get(b, '我的猫')).toEqual(noGroup);
      expect(await s.put(b, { ...dogs, threshold: 0.7 })).toBe('replaced');
      expect((await s.get(b, 'my dogs'))?.threshold).toBe(0.7);
      expect(await s.get(b, 'my cats')).toBeUndefined();
      expect(await s.get(freshBucket(), 'my dogs')).toBeUndefined();
    });

    it('lists a bucket by name, and only that bucket', async () => {
      const s = await store();
      const b = freshBucket();
      for (const n of ['zebra crossing', 'my dogs', 'b', '我的猫']) await s.put(b, taughtLabel(n));
      await s.put(freshBucket(), taughtLabel('elsewhere'));
      expect((await s.list(b)).map((l) => l.name)).toEqual(['b', 'my dogs', 'zebra crossing', '我的猫']);
      expect(await s.list(freshBucket())).toEqual([]);
    });

    it('records progress only on the label taught at that time', async () => {
      const s = await store();
      const b = freshBucket();
      const first = taughtLabel('my dogs', { progress: 'running' });
      await s.put(b, first);
      expect(await s.progress(b, 'my dogs', first.createdAt, { labelled: 7, complete: true })).toBe(true);
      const got = await s.get(b, 'my dogs');
      expect(got).toMatchObject({ labelled: 7, complete: true });
      expect(got?.progress).toBeUndefined();
      // Taught again meanwhile: the older teaching's progress does not overwrite the new one.
      await s.put(b, taughtLabel('my dogs', { createdAt: '2026-12-07T05:00:00.000Z' }));
      expect(await s.progress(b, 'my dogs', first.createdAt, { labelled: 9, complete: true })).toBe(false);
      expect(await s.get(b, 'my dogs')).toMatchObject({ labelled: 0, complete: false });
      expect(
        await s.progress(b, 'my dogs', '2026-12-07T05:00:00.000Z', {
          labelled: 2,
          complete: false,
          progress: 'stopped after 2,000 images',
        }),
      ).toBe(true);
      expect(await s.get(b, 'my dogs')).toMatchObject({
        labelled: 2,
        progress: 'stopped after 2,000 images',
      });
      expect(await s.progress(b, 'nobody', first.createdAt, { labelled: 1, complete: true })).toBe(false);
      expect(await s.get(b, 'nobody')).toBeUndefined();
    });

    it('deletes: returns what was there, then nothing', async () => {
      const s = await store();
      const b = freshBucket();
      const dogs = taughtLabel('my dogs');
      await s.put(b, dogs);
      expect(await s.delete(b, 'MY DOGS')).toEqual(dogs);
      expect(await s.get(b, 'my dogs')).toBeUndefined();
      expect(await s.delete(b, 'my dogs')).toBeUndefined();
      expect(await s.list(b)).toEqual([]);
    });

    it('a name that normalises to nothing (spaces, "?", an emoji) is no label: get and delete answer undefined', async () => {
      const s = await store();
      const b = freshBucket();
      for (const name of ['', '  ', '?', '\u{1F600}']) {
        expect(await s.get(b, name)).toBeUndefined();
        expect(await s.delete(b, name)).toBeUndefined();
      }
    });
  });
}
