/**
 * The backfill's vector writes stay under S3 Vectors' write limits per index (1,000 PutVectors +
 * DeleteVectors requests and 2,500 vectors written or deleted per second: VECTOR_LIMITS), at a share
 * of them that leaves the rest to the live tagger writing into the same index: each write waits until
 * the writes of the last second leave room for it. (The SDK would also retry a 429
 * TooManyRequestsException, but only a few times: a bulk job that relies on that fails.)
 */
import { type StoredVector, VECTOR_LIMITS, type VectorIndex } from '../../src/tagging/vector-index.ts';

export interface WriteRate {
  /** PutVectors + DeleteVectors requests per second (default half of S3 Vectors' 1,000). */
  requestsPerSecond: number;
  /** Vectors written + deleted per second (default half of S3 Vectors' 2,500). */
  vectorsPerSecond: number;
}

export const DEFAULT_BACKFILL_WRITE_RATE: WriteRate = {
  requestsPerSecond: VECTOR_LIMITS.writeRequestsPerSecond / 2,
  vectorsPerSecond: VECTOR_LIMITS.vectorWritesPerSecond / 2,
};

/** The index with its put and delete paced to `rate` (a sliding window of one second). */
export function limitVectorWrites(
  index: VectorIndex,
  rate: WriteRate = DEFAULT_BACKFILL_WRITE_RATE,
  clock: { now(): number; sleep(ms: number): Promise<void> } = {
    now: Date.now,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  },
): VectorIndex & { writes: number; waitedMs: number } {
  const window: [number, number][] = [];
  let queue: Promise<void> = Promise.resolve();
  const paced = {
    writes: 0,
    waitedMs: 0,
    dimension: index.dimension,
    get: (keys: string[]) => index.get(keys),
    query: index.query.bind(index),
    put: (vectors: StoredVector[]) => admit(vectors.length).then(() => index.put(vectors)),
    delete: (keys: string[]) => admit(keys.length).then(() => index.delete(keys)),
  };
  /** Waits (in call order) until one more request of `n` vectors fits in the last second. */
  function admit(n: number): Promise<void> {
    const turn = queue.then(async () => {
      // A call larger than the whole per-second budget goes alone (the adapter sends <= 500 per request).
      const vectors = Math.min(n, rate.vectorsPerSecond);
      for (;;) {
        const t = clock.now();
        while (window.length && (window[0] as [number, number])[0] <= t - 1000) window.shift();
        const written = window.reduce((s, [, k]) => s + k, 0);
        if (window.length < rate.requestsPerSecond && written + vectors <= rate.vectorsPerSecond) {
          window.push([t, vectors]);
          paced.writes++;
          return;
        }
        const wait = Math.max(1, (window[0] as [number, number])[0] + 1000 - t);
        paced.waitedMs += wait;
        await clock.sleep(wait);
      }
    });
    queue = turn.catch(() => {});
    return turn;
  }
  return paced;
}
