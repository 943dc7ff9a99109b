/**
 * The VectorIndex port (src/tagging/vector-index.ts) on Amazon S3 Vectors
 * (@aws-sdk/client-s3vectors): one index of one vector bucket, cosine distance.
 *
 * - put: PutVectors in calls of at most 500 vectors and well under the 20 MiB request limit; a key
 *   given twice keeps its last vector (as two puts in a row would).
 * - delete: DeleteVectors in calls of at most 500 keys (missing keys are no error on S3 Vectors).
 * - get: GetVectors in calls of at most 100 keys, with data and metadata.
 * - query: QueryVectors with returnMetadata and returnDistance; similarity = 1 - cosine distance.
 *   (With a filter or returnMetadata S3 Vectors also checks s3vectors:GetVectors: the api's role has both.)
 * Calls of one put or delete go one after another, in order. Errors are the SDK's (ValidationException,
 * NotFoundException, TooManyRequestsException after the SDK's own retries...), thrown as they come.
 * Locally AWS_ENDPOINT_URL_S3VECTORS points the client at the stand-in (scripts/local/local-s3-vectors.ts).
 */
import {
  DeleteVectorsCommand,
  GetVectorsCommand,
  PutVectorsCommand,
  QueryVectorsCommand,
  S3VectorsClient,
} from '@aws-sdk/client-s3vectors';
import { ConfigError } from '../classifier/errors.ts';
import type { ModelFolder } from '../classifier/model-folder.ts';
import {
  type StoredVector,
  VECTOR_LIMITS,
  type VectorFilter,
  type VectorIndex,
  type VectorMatch,
  type VectorMetadata,
} from '../tagging/vector-index.ts';

export interface S3VectorIndexOptions {
  /** The vector bucket's name. */
  bucket: string;
  /** The index's name (vectorIndexName of the model). */
  index: string;
  /** The index's dimension (the model's embedding size). */
  dimension: number;
}

/** A PutVectors call stays under this many bytes of JSON (S3 Vectors refuses requests over 20 MiB). */
const PUT_PAYLOAD_BUDGET = 16 * 1024 * 1024;

/** Metadata without undefined values (a JSON document has none). */
function plainMetadata(metadata: VectorMetadata): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(metadata)) if (v !== undefined) out[k] = v;
  return out;
}

/** Groups items in order into batches of at most `max` items and `budget` estimated bytes. */
export function batches<T>(items: readonly T[], max: number, size?: (item: T) => number, budget = Infinity) {
  const out: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const n = size ? size(item) : 0;
    if (current.length > 0 && (current.length === max || bytes + n > budget)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += n;
  }
  if (current.length > 0) out.push(current);
  return out;
}

export function s3VectorIndex(client: S3VectorsClient, options: S3VectorIndexOptions): VectorIndex {
  const target = { vectorBucketName: options.bucket, indexName: options.index };
  return {
    dimension: options.dimension,

    async put(vectors) {
      const last = new Map<string, StoredVector>();
      for (const v of vectors) {
        last.delete(v.key);
        last.set(v.key, v);
      }
      const input = [...last.values()].map((v) => ({
        key: v.key,
        data: { float32: Array.from(v.vector) },
        metadata: plainMetadata(v.metadata),
      }));
      // A float32 in JSON takes at most ~16 bytes; metadata its JSON length.
      const size = (v: (typeof input)[number]) =>
        v.data.float32.length * 16 + JSON.stringify(v.metadata).length + v.key.length * 3 + 64;
      for (const batch of batches(input, VECTOR_LIMITS.putBatch, size, PUT_PAYLOAD_BUDGET))
        await client.send(new PutVectorsCommand({ ...target, vectors: batch as never }));
    },

    async delete(keys) {
      for (const batch of batches([...new Set(keys)], VECTOR_LIMITS.deleteBatch))
        await client.send(new DeleteVectorsCommand({ ...target, keys: batch }));
    },

    async get(keys) {
      const out: StoredVector[] = [];
      for (const batch of batches([...new Set(keys)], VECTOR_LIMITS.getBatch)) {
        const res = await client.send(
          new GetVectorsCommand({ ...target, keys: batch, returnData: true, returnMetadata: true }),
        );
        for (const v of res.vectors ?? [])
          out.push({
            key: v.key as string,
            vector: Float32Array.from(v.data?.float32 ?? []),
            metadata: (v.metadata ?? {}) as VectorMetadata,
          });
      }
      return out;
    },

    async query(vector, { topK, filter }: { topK: number; filter?: VectorFilter }) {
      const res = await client.send(
        new QueryVectorsCommand({
          ...target,
          topK,
          queryVector: { float32: Array.from(vector) },
          ...(filter ? { filter: filter as never } : {}),
          returnMetadata: true,
          returnDistance: true,
        }),
      );
      return (res.vectors ?? []).map(
        (v): VectorMatch => ({
          key: v.key as string,
          similarity: 1 - (v.distance ?? 1),
          metadata: (v.metadata ?? {}) as VectorMetadata,
        }),
      );
    },
  };
}

/**
 * The served model's vector index (both functions, at init): undefined when vectors are off
 * (VECTOR_BUCKET and VECTOR_INDEX unset); a ConfigError when they are on but the model folder gives
 * no embedding (a folder imported --without-embedding: deploy it with --param=vectors=false).
 */
export function servedVectorIndex(
  vectors: { bucket: string; index: string } | undefined,
  folder: Pick<ModelFolder, 'dir' | 'meta'>,
  client: S3VectorsClient = new S3VectorsClient({}),
): VectorIndex | undefined {
  if (!vectors) return undefined;
  const dimension = folder.meta.embedding?.dimension;
  if (!dimension)
    throw new ConfigError(
      `VECTOR_INDEX is set but the model folder ${folder.dir} has no embedding (model.json "embedding"): rebuild it with model:build or model:import, or turn vectors off (--param=vectors=false, or unset VECTOR_BUCKET and VECTOR_INDEX)`,
    );
  return s3VectorIndex(client, { ...vectors, dimension });
}
