/**
 * The vector index (port): each image's embedding (the classifier's pooled features, L2-normalised
 * float32) under its object key, with metadata, for "photos like this one" and near-duplicates.
 * The tagger writes it after the label index, the HTTP API queries it. The adapter on Amazon S3
 * Vectors is src/aws/s3-vector-index.ts; unit tests use the in-memory fake of
 * test/helpers/memory-vectors.ts, `npm start` and the integration tests the local stand-in that
 * speaks S3 Vectors' HTTP API (scripts/local/local-s3-vectors.ts), and one contract suite
 * (test/helpers/vector-contract.ts) holds all of them to the same behaviour (docs/vector-index.md).
 *
 * One index per model (name@version: vectorIndexName), so vectors of two models never mix. Key = the
 * S3 object key. Similarity is cosine similarity (1 - S3 Vectors' cosine distance), best first.
 * Calls that S3 Vectors refuses (a vector of another dimension, a zero or non-finite vector, a key or
 * metadata over its limits, topK out of 1..100) fail with an error named ValidationException, as the
 * SDK's does, in every implementation.
 */

export interface VectorMetadata {
  /** The ETag (without quotes) of the object version the vector was computed from. Filterable. */
  etag: string;
  /** "<name>@<version>" of the model (belt and braces: the index is per model). Filterable. */
  model: string;
  /** The top labels, as normalised search words (normalizeLabel), best first. Filterable. */
  labels: string[];
  /** The vocabulary's everyday categories, best first. Filterable. */
  categories: string[];
  /** SHA-256 of the object's bytes, hex (exact copies). Filterable. */
  sha256?: string;
  /**
   * Extras. A key listed in NON_FILTERABLE_METADATA_KEYS is stored beside the vector but cannot be
   * filtered on (up to 40 KB in all); any other key is filterable and counts towards the 2 KB.
   */
  [extra: string]: string | string[] | number | number[] | boolean | undefined;
}

export interface StoredVector {
  key: string;
  vector: Float32Array;
  metadata: VectorMetadata;
}

/** A neighbour: cosine similarity = 1 - cosine distance (1 for the same direction). */
export interface VectorMatch {
  key: string;
  similarity: number;
  metadata: VectorMetadata;
}

/**
 * S3 Vectors' filter syntax: `{ field: value }` ($eq), `{ field: { $eq | $ne | $gt | $gte | $lt |
 * $lte | $in | $nin | $exists: ... } }`, `{ $and: [...] }`, `{ $or: [...] }`. On a list value (labels,
 * categories) $eq and $in match when any element matches.
 */
export type VectorFilter = Record<string, unknown>;

export interface VectorIndex {
  /** The number of values of every vector of this index. */
  readonly dimension: number;
  /** Writes (or overwrites) vectors; the S3 Vectors adapter sends them in calls of at most 500. */
  put(vectors: StoredVector[]): Promise<void>;
  /** Deletes vectors; keys that are not there are no error (idempotent). */
  delete(keys: string[]): Promise<void>;
  /** The stored vectors of these keys; missing keys are simply absent (any order). */
  get(keys: string[]): Promise<StoredVector[]>;
  /** The topK (1..100) nearest vectors that pass the filter, most similar first. */
  query(vector: Float32Array, options: { topK: number; filter?: VectorFilter }): Promise<VectorMatch[]>;
}

/**
 * S3 Vectors' limits (Amazon S3 User Guide, "Limitations and restrictions" of S3 Vectors), which the
 * adapter batches by and the fake and the local stand-in enforce.
 */
export const VECTOR_LIMITS = {
  minDimension: 1,
  maxDimension: 4096,
  /** Vector keys: 1 to 1,024 characters. */
  maxKeyLength: 1024,
  /** Vectors per PutVectors and per DeleteVectors call. */
  putBatch: 500,
  deleteBatch: 500,
  /** Keys per GetVectors call. */
  getBatch: 100,
  maxTopK: 100,
  /** Metadata per vector, filterable and non-filterable together (bytes of its JSON). */
  maxMetadataBytes: 40 * 1024,
  /** Filterable metadata per vector (bytes of its JSON). */
  maxFilterableMetadataBytes: 2 * 1024,
  /** Metadata keys per vector. */
  maxMetadataKeys: 50,
  /** Non-filterable metadata keys declared per index. */
  maxNonFilterableKeys: 10,
  /** Request payload of any call. */
  maxPayloadBytes: 20 * 1024 * 1024,
  /** Per index: PutVectors + DeleteVectors requests per second, and vectors written + deleted per second. */
  writeRequestsPerSecond: 1000,
  vectorWritesPerSecond: 2500,
} as const;

/**
 * The metadata keys every index of this service declares non-filterable (serverless.yml's
 * AWS::S3Vectors::Index, the local stand-in's CreateIndex): stored and returned, never filtered on,
 * so they do not count towards the 2 KB of filterable metadata.
 * - classes, scores: the model's top class indices and their probabilities (ranking similar photos
 *   by what they show as well as by how they look);
 * - vocabulary: "<name>@<version>" of the vocabulary the categories come from.
 */
export const NON_FILTERABLE_METADATA_KEYS = ['classes', 'scores', 'vocabulary'] as const;

/** S3 Vectors' index and bucket names: 3 to 63 of a-z 0-9 - ., starting and ending with a letter or digit. */
const INDEX_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * The name of a model's vector index: "<name>@<version>" -> "<name>-<version>", lower case, any
 * character S3 Vectors refuses in a name turned into '-' (e.g. "resnet18@1" -> "resnet18-1").
 * Throws when no valid name results.
 */
export function vectorIndexName(modelRef: string): string {
  const name = modelRef
    .toLowerCase()
    .replace(/[^a-z0-9.]+/g, '-')
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '')
    .slice(0, 63)
    .replace(/[^a-z0-9]+$/, '');
  if (!INDEX_NAME.test(name))
    throw new Error(`model "${modelRef}" gives no valid S3 Vectors index name (3-63 of a-z 0-9 - .)`);
  return name;
}

/** The vector scaled to length 1 (cosine similarity is then a dot product); a zero vector stays zero. */
export function l2Normalize(vector: Float32Array): Float32Array {
  let sum = 0;
  for (const v of vector) sum += v * v;
  const norm = Math.sqrt(sum);
  const out = new Float32Array(vector.length);
  if (norm === 0) return out;
  for (let i = 0; i < vector.length; i++) out[i] = (vector[i] as number) / norm;
  return out;
}

/** Cosine similarity of two vectors of the same length (0 when either is zero). */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}
