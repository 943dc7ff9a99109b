/**
 * An in-memory VectorIndex (fake of src/tagging/vector-index.ts) with S3 Vectors' semantics: the
 * same validation, filter language and exact cosine search as the local stand-in
 * (scripts/local/s3-vectors-engine.ts); test/helpers/vector-contract.ts holds both to one behaviour.
 * Each call is atomic. `calls` lists every operation, `failNext` makes the next call throw.
 */
import {
  checkKey,
  checkMetadata,
  checkTopK,
  checkVector,
  compileFilter,
  type EngineVector,
  nearest,
} from '../../scripts/local/s3-vectors-engine.ts';
import {
  NON_FILTERABLE_METADATA_KEYS,
  type StoredVector,
  type VectorFilter,
  type VectorIndex,
  type VectorMatch,
  type VectorMetadata,
} from '../../src/tagging/vector-index.ts';

const nonFilterable: readonly string[] = NON_FILTERABLE_METADATA_KEYS;

export class MemoryVectors implements VectorIndex {
  readonly vectors = new Map<string, EngineVector>();
  readonly calls: string[] = [];
  /** Makes the next call throw this error (a fault of the store, e.g. throttling). */
  failNext?: Error;

  constructor(readonly dimension: number) {}

  private enter(call: string): void {
    this.calls.push(call);
    const err = this.failNext;
    if (err) {
      this.failNext = undefined;
      throw err;
    }
  }

  async put(vectors: StoredVector[]): Promise<void> {
    this.enter(`put ${vectors.map((v) => v.key).join(',')}`);
    // Checked whole before any is written, as one PutVectors call is.
    const checked = vectors.map((v, i) => ({
      key: checkKey(v.key, `vectors[${i}].key`),
      data: checkVector(v.vector, this.dimension, 'cosine', `vectors[${i}].data`),
      metadata: checkMetadata(v.metadata, nonFilterable, `vectors[${i}].metadata`),
    }));
    for (const v of checked) this.vectors.set(v.key, { data: v.data, metadata: v.metadata });
  }

  async delete(keys: string[]): Promise<void> {
    this.enter(`delete ${keys.join(',')}`);
    for (const [i, k] of keys.entries()) checkKey(k, `keys[${i}]`);
    for (const k of keys) this.vectors.delete(k);
  }

  async get(keys: string[]): Promise<StoredVector[]> {
    this.enter(`get ${keys.join(',')}`);
    for (const [i, k] of keys.entries()) checkKey(k, `keys[${i}]`);
    const out: StoredVector[] = [];
    for (const key of new Set(keys)) {
      const v = this.vectors.get(key);
      if (v)
        out.push({
          key,
          vector: Float32Array.from(v.data),
          metadata: structuredClone(v.metadata) as VectorMetadata,
        });
    }
    return out;
  }

  async query(
    vector: Float32Array,
    options: { topK: number; filter?: VectorFilter },
  ): Promise<VectorMatch[]> {
    this.enter(`query ${options.topK}`);
    const topK = checkTopK(options.topK);
    const q = checkVector(vector, this.dimension, 'cosine', 'queryVector');
    const filter = options.filter ? compileFilter(options.filter, nonFilterable) : undefined;
    return nearest(this.vectors, q, topK, 'cosine', filter).map((hit) => ({
      key: hit.key,
      similarity: 1 - hit.distance,
      metadata: structuredClone(hit.vector.metadata) as VectorMetadata,
    }));
  }
}
