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
import type { Classifier } from '../../src/classifier/classifier.ts';
import {
  l2Normalize,
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

/** The fake embedding of some bytes (dimension EMBEDDING_DIMENSION): a function of the first byte, as the fake labels are. */
export const EMBEDDING_DIMENSION = 4;
export function fakeEmbedding(bytes: Uint8Array): Float32Array {
  const b = bytes[0] ?? 0;
  return l2Normalize(Float32Array.of(1, b, (b * 7) % 5, (b * 3) % 7));
}

/** The classifier with an embedding on every classification (fakeEmbedding of the bytes). */
export function withEmbedding<C extends Pick<Classifier, 'classify' | 'folder'>>(classifier: C): C {
  classifier.folder.meta.embedding = { output: 'pooled', dimension: EMBEDDING_DIMENSION, pooling: 'fake' };
  const classify = classifier.classify.bind(classifier);
  classifier.classify = async (bytes, options) => ({
    ...(await classify(bytes, options)),
    embedding: fakeEmbedding(bytes),
  });
  return classifier;
}
