/**
 * One contract for every VectorIndex (src/tagging/vector-index.ts): the in-memory fake
 * (test/unit/vector-memory.test.ts) and the S3 Vectors adapter against the local stand-in
 * (test/integration/local-s3-vectors.test.ts) run exactly these tests.
 */
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../models/resnet18.ts';
import {
  cosineSimilarity,
  l2Normalize,
  type StoredVector,
  type VectorIndex,
  type VectorMetadata,
} from '../../src/tagging/vector-index.ts';

export interface VectorContractTarget {
  /** A fresh, empty index of this dimension (cosine, the service's non-filterable keys). */
  index(dimension: number): Promise<VectorIndex>;
}

/** A random unit vector (seeded). */
export function unitVector(dimension: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  return l2Normalize(Float32Array.from({ length: dimension }, () => random() * 2 - 1));
}

/** `base` moved a little towards a random direction: cosine with base about 1 - amount. */
export function nudged(base: Float32Array, amount: number, seed: number): Float32Array {
  const noise = unitVector(base.length, seed);
  return l2Normalize(base.map((v, i) => v * (1 - amount) + (noise[i] as number) * amount));
}

export const meta = (extra: Partial<VectorMetadata> = {}): VectorMetadata => ({
  etag: 'e1',
  model: 'fake@1',
  labels: ['golden retriever'],
  categories: ['dog', 'animal'],
  ...extra,
});

const sv = (key: string, vector: Float32Array, metadata = meta()): StoredVector => ({
  key,
  vector,
  metadata,
});

const keysOf = (list: { key: string }[]) => list.map((v) => v.key);

const rejectsWith = (p: Promise<unknown>, name: string) => expect(p).rejects.toMatchObject({ name });

export function vectorContract(name: string, target: VectorContractTarget): void {
  describe(`VectorIndex contract: ${name}`, () => {
    const D = 16;

    it('gives back what was put (float32 values, metadata); missing keys are absent', async () => {
      const index = await target.index(D);
      expect(index.dimension).toBe(D);
      const a = unitVector(D, 1);
      const m = meta({
        sha256: 'ab'.repeat(32),
        classes: [207, 208],
        scores: [0.9, 0.05],
        vocabulary: 'v@1',
      });
      await index.put([sv('uploads/a.jpg', a, m)]);
      const got = await index.get(['uploads/a.jpg', 'uploads/missing.jpg']);
      expect(keysOf(got)).toEqual(['uploads/a.jpg']);
      expect(Array.from(got[0]?.vector ?? [])).toEqual(Array.from(a));
      expect(got[0]?.metadata).toEqual(m);
      expect(await index.get(['nothing'])).toEqual([]);
    });

    it('overwrites a key (the last put wins, also within one call)', async () => {
      const index = await target.index(D);
      const [a, b, c] = [unitVector(D, 1), unitVector(D, 2), unitVector(D, 3)];
      await index.put([sv('k', a, meta({ etag: 'old' }))]);
      await index.put([sv('k', b, meta({ etag: 'mid' })), sv('k', c, meta({ etag: 'new' }))]);
      const [got] = await index.get(['k']);
      expect(got?.metadata.etag).toBe('new');
      expect(Array.from(got?.vector ?? [])).toEqual(Array.from(c));
      const hits = await index.query(a, { topK: 10 });
      expect(keysOf(hits)).toEqual(['k']);
    });

    it('deletes idempotently; a deleted vector is neither got nor found', async () => {
      const index = await target.index(D);
      await index.put([sv('a', unitVector(D, 1)), sv('b', unitVector(D, 2))]);
      await index.delete(['a', 'never-there']);
      await index.delete(['a']);
      expect(keysOf(await index.get(['a', 'b']))).toEqual(['b']);
      expect(keysOf(await index.query(unitVector(D, 1), { topK: 10 }))).toEqual(['b']);
    });

    it('queries nearest first, with cosine similarity, at most topK', async () => {
      const index = await target.index(D);
      const base = unitVector(D, 7);
      const near = nudged(base, 0.1, 8);
      const mid = nudged(base, 0.5, 9);
      const far = unitVector(D, 10);
      await index.put([sv('far', far), sv('mid', mid), sv('same', base), sv('near', near)]);
      const hits = await index.query(base, { topK: 3 });
      expect(keysOf(hits)).toEqual(['same', 'near', 'mid']);
      expect(hits[0]?.similarity).toBeCloseTo(1, 5);
      expect(hits[1]?.similarity).toBeCloseTo(cosineSimilarity(base, near), 5);
      expect(hits[2]?.similarity).toBeCloseTo(cosineSimilarity(base, mid), 5);
      expect(hits[0]?.metadata).toEqual(meta());
      expect(await index.query(base, { topK: 100 })).toHaveLength(4);
      // The query vector need not be normalised: cosine ignores length.
      const scaled = base.map((v) => v * 3);
      expect(keysOf(await index.query(scaled, { topK: 1 }))).toEqual(['same']);
    });

    it('filters on filterable metadata: $eq on lists, $in, $nin, $ne, $exists, numbers, $and, $or', async () => {
      const index = await target.index(D);
      const q = unitVector(D, 1);
      await index.put([
        sv(
          'dog',
          nudged(q, 0.1, 2),
          meta({ labels: ['golden retriever'], categories: ['dog', 'animal'], width: 640 }),
        ),
        sv('cat', nudged(q, 0.2, 3), meta({ labels: ['tabby'], categories: ['cat', 'animal'], width: 1024 })),
        sv(
          'car',
          nudged(q, 0.3, 4),
          meta({ labels: ['sports car'], categories: ['vehicle'], sha256: 'f'.repeat(64), width: 2048 }),
        ),
      ]);
      const keys = async (filter: Record<string, unknown>) =>
        keysOf(await index.query(q, { topK: 10, filter }));
      expect(await keys({ categories: 'animal' })).toEqual(['dog', 'cat']);
      expect(await keys({ categories: { $eq: 'dog' } })).toEqual(['dog']);
      expect(await keys({ labels: { $in: ['tabby', 'sports car'] } })).toEqual(['cat', 'car']);
      expect(await keys({ categories: { $nin: ['animal'] } })).toEqual(['car']);
      expect(await keys({ categories: { $ne: 'animal' } })).toEqual(['car']);
      expect(await keys({ sha256: { $exists: true } })).toEqual(['car']);
      expect(await keys({ sha256: { $exists: false } })).toEqual(['dog', 'cat']);
      expect(await keys({ width: { $gte: 1024 } })).toEqual(['cat', 'car']);
      expect(await keys({ width: { $gt: 640, $lt: 2048 } })).toEqual(['cat']);
      expect(await keys({ $and: [{ categories: 'animal' }, { width: { $lte: 640 } }] })).toEqual(['dog']);
      expect(await keys({ $or: [{ categories: 'cat' }, { labels: 'sports car' }] })).toEqual(['cat', 'car']);
      expect(await keys({ categories: 'animal', model: 'fake@1', etag: 'e1' })).toEqual(['dog', 'cat']);
      expect(await keys({ model: 'other@1' })).toEqual([]);
    });

    it('puts, gets and deletes more vectors than one S3 Vectors call takes', async () => {
      const index = await target.index(4);
      const all = Array.from({ length: 1203 }, (_, i) => sv(`uploads/${i}.jpg`, unitVector(4, i + 1)));
      await index.put(all);
      const keys = all.map((v) => v.key);
      expect((await index.get(keys.slice(0, 250))).length).toBe(250);
      await index.delete(keys.slice(0, 600));
      expect((await index.get(keys.slice(590, 610))).map((v) => v.key).sort()).toEqual(
        keys.slice(600, 610).sort(),
      );
      expect(await index.query(unitVector(4, 1), { topK: 100 })).toHaveLength(100);
    });

    it('keeps keys of any characters (spaces, ?, #, %, Chinese) apart', async () => {
      const index = await target.index(D);
      const keys = ['uploads/a b.jpg', 'uploads/a?b#c%20.jpg', 'uploads/狗/照片.jpg', 'uploads/a+b.jpg'];
      await index.put(keys.map((k, i) => sv(k, unitVector(D, i + 1))));
      expect(keysOf(await index.get(keys)).sort()).toEqual([...keys].sort());
      const [hit] = await index.query(unitVector(D, 3), { topK: 1 });
      expect(hit?.key).toBe('uploads/狗/照片.jpg');
    });

    it('refuses what S3 Vectors refuses, with its error name, and writes nothing of a refused put', async () => {
      const index = await target.index(D);
      const ok = unitVector(D, 1);
      await rejectsWith(index.put([sv('a', ok), sv('b', unitVector(D + 1, 2))]), 'ValidationException');
      expect(await index.get(['a'])).toEqual([]);
      await rejectsWith(index.put([sv('z', new Float32Array(D))]), 'ValidationException');
      const nan = Float32Array.from(ok);
      nan[3] = Number.NaN;
      await rejectsWith(index.put([sv('n', nan)]), 'ValidationException');
      await rejectsWith(index.put([sv('', ok)]), 'ValidationException');
      await rejectsWith(index.put([sv('k'.repeat(1025), ok)]), 'ValidationException');
      await index.put([sv('k'.repeat(1024), ok)]);
      // 2 KB of filterable metadata at most; non-filterable keys may hold up to 40 KB in all.
      await rejectsWith(index.put([sv('f', ok, meta({ note: 'x'.repeat(2100) }))]), 'ValidationException');
      await index.put([sv('big', ok, meta({ scores: Array.from({ length: 1000 }, (_, i) => i / 1000) }))]);
      await rejectsWith(
        index.put([sv('huge', ok, meta({ vocabulary: 'x'.repeat(41 * 1024) }))]),
        'ValidationException',
      );
      await rejectsWith(index.query(ok, { topK: 0 }), 'ValidationException');
      await rejectsWith(index.query(ok, { topK: 101 }), 'ValidationException');
      await rejectsWith(index.query(unitVector(D + 1, 1), { topK: 1 }), 'ValidationException');
      await rejectsWith(
        index.query(ok, { topK: 1, filter: { labels: { $regex: 'dog' } } }),
        'ValidationException',
      );
      await rejectsWith(
        index.query(ok, { topK: 1, filter: { scores: { $gt: 0.5 } } }),
        'ValidationException',
      );
      await rejectsWith(index.query(ok, { topK: 1, filter: { $or: [] } }), 'ValidationException');
    });
  });
}
