/**
 * The local S3 Vectors stand-in (scripts/local/local-s3-vectors.ts): the VectorIndex contract through
 * the SDK adapter (src/aws/s3-vector-index.ts), and the HTTP API itself as the SDK sees it: S3
 * Vectors' per-call limits, error codes, write rate limits, and data that survives a restart.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateIndexCommand,
  CreateVectorBucketCommand,
  DeleteIndexCommand,
  DeleteVectorBucketCommand,
  GetIndexCommand,
  GetVectorsCommand,
  ListIndexesCommand,
  ListVectorBucketsCommand,
  ListVectorsCommand,
  PutVectorsCommand,
  QueryVectorsCommand,
  S3VectorsClient,
} from '@aws-sdk/client-s3vectors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LOCAL_VECTORS_CREDENTIALS,
  type LocalS3Vectors,
  startLocalS3Vectors,
} from '../../scripts/local/local-s3-vectors.ts';
import { s3VectorIndex } from '../../src/aws/s3-vector-index.ts';
import { NON_FILTERABLE_METADATA_KEYS } from '../../src/tagging/vector-index.ts';
import { meta, unitVector, vectorContract } from '../helpers/vector-contract.ts';

const BUCKET = 'vectors-contract';
let local: LocalS3Vectors;
let data: string;
beforeAll(async () => {
  data = await mkdtemp(join(tmpdir(), 'local-s3-vectors-'));
  local = await startLocalS3Vectors({ directory: data, rateLimits: false });
  await local.client.send(new CreateVectorBucketCommand({ vectorBucketName: BUCKET }));
});
afterAll(async () => {
  await local?.close();
  await rm(data, { recursive: true, force: true });
});

let counter = 0;
vectorContract('S3 Vectors adapter on the local stand-in', {
  index: async (dimension) => {
    const indexName = `contract-${++counter}`;
    await local.client.send(
      new CreateIndexCommand({
        vectorBucketName: BUCKET,
        indexName,
        dataType: 'float32',
        dimension,
        distanceMetric: 'cosine',
        metadataConfiguration: { nonFilterableMetadataKeys: [...NON_FILTERABLE_METADATA_KEYS] },
      }),
    );
    return s3VectorIndex(local.client, { bucket: BUCKET, index: indexName, dimension });
  },
});

const vec = (key: string, seed: number, dimension = 8) => ({
  key,
  data: { float32: Array.from(unitVector(dimension, seed)) },
  metadata: meta() as never, // a JSON document
});

describe('local S3 Vectors HTTP API', () => {
  const target = { vectorBucketName: BUCKET, indexName: 'api' };
  beforeAll(async () => {
    await local.client.send(
      new CreateIndexCommand({ ...target, dataType: 'float32', dimension: 8, distanceMetric: 'cosine' }),
    );
  });

  it('answers S3 Vectors error codes the SDK turns into its exceptions', async () => {
    const send = (command: unknown) => local.client.send(command as never);
    await expect(
      send(
        new PutVectorsCommand({
          ...target,
          vectors: Array.from({ length: 501 }, (_, i) => vec(`k${i}`, i + 1)),
        }),
      ),
    ).rejects.toMatchObject({ name: 'ValidationException', $metadata: { httpStatusCode: 400 } });
    await expect(
      send(new GetVectorsCommand({ ...target, keys: Array.from({ length: 101 }, (_, i) => `k${i}`) })),
    ).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(
      send(
        new QueryVectorsCommand({ ...target, indexName: 'missing', topK: 1, queryVector: { float32: [1] } }),
      ),
    ).rejects.toMatchObject({ name: 'NotFoundException', $metadata: { httpStatusCode: 404 } });
    await expect(
      send(
        new CreateIndexCommand({ ...target, dataType: 'float32', dimension: 8, distanceMetric: 'cosine' }),
      ),
    ).rejects.toMatchObject({ name: 'ConflictException', $metadata: { httpStatusCode: 409 } });
    await expect(
      send(
        new CreateIndexCommand({
          ...target,
          indexName: 'wide',
          dataType: 'float32',
          dimension: 4097,
          distanceMetric: 'cosine',
        }),
      ),
    ).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(
      send(
        new CreateIndexCommand({
          ...target,
          indexName: 'Bad_Name',
          dataType: 'float32',
          dimension: 8,
          distanceMetric: 'cosine',
        }),
      ),
    ).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(send(new DeleteVectorBucketCommand({ vectorBucketName: BUCKET }))).rejects.toMatchObject({
      name: 'ConflictException',
    });
    const res = await fetch(`${local.endpoint}/QueryVectors`, { method: 'POST', body: '{not json' });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-errortype')).toBe('ValidationException');
  });

  it('returns only what was asked for: distance, metadata, data', async () => {
    await local.client.send(new PutVectorsCommand({ ...target, vectors: [vec('a', 1), vec('b', 2)] }));
    const bare = await local.client.send(
      new QueryVectorsCommand({ ...target, topK: 2, queryVector: { float32: Array.from(unitVector(8, 1)) } }),
    );
    expect(bare.distanceMetric).toBe('cosine');
    expect(bare.vectors?.[0]).toEqual({ key: 'a' });
    const full = await local.client.send(
      new QueryVectorsCommand({
        ...target,
        topK: 1,
        queryVector: { float32: Array.from(unitVector(8, 1)) },
        returnDistance: true,
        returnMetadata: true,
      }),
    );
    expect(full.vectors?.[0]?.distance).toBeCloseTo(0, 6);
    expect(full.vectors?.[0]?.metadata).toEqual(meta());
    const got = await local.client.send(new GetVectorsCommand({ ...target, keys: ['a'] }));
    expect(got.vectors).toEqual([{ key: 'a' }]);
    const index = await local.client.send(new GetIndexCommand(target));
    expect(index.index).toMatchObject({ dimension: 8, distanceMetric: 'cosine', dataType: 'float32' });
    expect(index.index?.creationTime).toBeInstanceOf(Date);
  });

  it('lists vectors in pages and in segments that together hold each key once', async () => {
    const t = { vectorBucketName: BUCKET, indexName: 'listing' };
    await local.client.send(
      new CreateIndexCommand({ ...t, dataType: 'float32', dimension: 8, distanceMetric: 'cosine' }),
    );
    const keys = Array.from({ length: 25 }, (_, i) => `uploads/${i}.jpg`);
    await local.client.send(new PutVectorsCommand({ ...t, vectors: keys.map((k, i) => vec(k, i + 1)) }));
    const seen: string[] = [];
    for (const segmentIndex of [0, 1, 2]) {
      let nextToken: string | undefined;
      for (let page = 0; page < 20; page++) {
        const out = await local.client.send(
          new ListVectorsCommand({ ...t, maxResults: 4, segmentCount: 3, segmentIndex, nextToken }),
        );
        seen.push(...(out.vectors ?? []).map((v) => v.key as string));
        nextToken = out.nextToken;
        if (!nextToken) break;
      }
    }
    expect(seen.sort()).toEqual([...keys].sort());
    const indexes = await local.client.send(
      new ListIndexesCommand({ vectorBucketName: BUCKET, prefix: 'list' }),
    );
    expect(indexes.indexes?.map((i) => i.indexName)).toEqual(['listing']);
    // Buckets page the same way: by name, after the token, at most maxResults.
    for (const name of ['paged-c', 'paged-a', 'paged-b'])
      await local.client.send(new CreateVectorBucketCommand({ vectorBucketName: name }));
    const names: string[][] = [];
    let nextToken: string | undefined;
    for (let page = 0; page < 5; page++) {
      const out = await local.client.send(
        new ListVectorBucketsCommand({ prefix: 'paged-', maxResults: 2, nextToken }),
      );
      names.push((out.vectorBuckets ?? []).map((b) => b.vectorBucketName as string));
      nextToken = out.nextToken;
      if (!nextToken) break;
    }
    expect(names).toEqual([['paged-a', 'paged-b'], ['paged-c']]);
  });

  it('keeps its data across a restart (and forgets deleted indexes)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'local-s3-vectors-restart-'));
    try {
      const want = [{ bucket: 'restart', index: 'model-1', dimension: 8 }];
      let one = await startLocalS3Vectors({ directory: dir, indexes: want });
      const index = s3VectorIndex(one.client, { bucket: 'restart', index: 'model-1', dimension: 8 });
      await index.put(
        [0, 1, 2].map((i) => ({ key: `k${i}`, vector: unitVector(8, i + 1), metadata: meta() })),
      );
      await index.delete(['k1']);
      await index.put([{ key: 'k2', vector: unitVector(8, 9), metadata: meta({ etag: 'e2' }) }]);
      await one.client.send(
        new CreateIndexCommand({
          vectorBucketName: 'restart',
          indexName: 'gone',
          dataType: 'float32',
          dimension: 2,
          distanceMetric: 'cosine',
        }),
      );
      await one.client.send(new DeleteIndexCommand({ vectorBucketName: 'restart', indexName: 'gone' }));
      await one.close();
      one = await startLocalS3Vectors({ directory: dir, indexes: want });
      const again = s3VectorIndex(one.client, { bucket: 'restart', index: 'model-1', dimension: 8 });
      const got = await again.get(['k0', 'k1', 'k2']);
      expect(got.map((v) => v.key).sort()).toEqual(['k0', 'k2']);
      expect(got.find((v) => v.key === 'k2')?.metadata.etag).toBe('e2');
      expect(Array.from(got.find((v) => v.key === 'k2')?.vector ?? [])).toEqual(Array.from(unitVector(8, 9)));
      const indexes = await one.client.send(new ListIndexesCommand({ vectorBucketName: 'restart' }));
      expect(indexes.indexes?.map((i) => i.indexName)).toEqual(['model-1']);
      await one.close();
      // An index of another dimension under the same name is refused with the way out.
      await expect(
        startLocalS3Vectors({ directory: dir, indexes: [{ ...want[0], dimension: 4 } as (typeof want)[0]] }),
      ).rejects.toThrow(/dimension 8/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("enforces S3 Vectors' write rate per index (2,500 vectors a second), which the SDK retries", async () => {
    const limited = await startLocalS3Vectors({ indexes: [{ bucket: 'rate', index: 'i-1', dimension: 2 }] });
    try {
      let t = 1_000_000;
      limited.store.clock = () => t;
      const noRetry = new S3VectorsClient({
        endpoint: limited.endpoint,
        region: 'us-east-1',
        credentials: LOCAL_VECTORS_CREDENTIALS,
        maxAttempts: 1,
      });
      const put = (client: S3VectorsClient, from: number) =>
        client.send(
          new PutVectorsCommand({
            vectorBucketName: 'rate',
            indexName: 'i-1',
            vectors: Array.from({ length: 500 }, (_, i) => ({
              key: `k${from + i}`,
              data: { float32: [1, (from + i) / 1e4] },
            })),
          }),
        );
      for (let i = 0; i < 5; i++) await put(noRetry, i * 500);
      await expect(put(noRetry, 2500)).rejects.toMatchObject({
        name: 'TooManyRequestsException',
        $metadata: { httpStatusCode: 429 },
      });
      t += 999;
      await expect(put(noRetry, 2500)).rejects.toMatchObject({ name: 'TooManyRequestsException' });
      // The SDK's standard retry backs off and gets through once the second is over.
      let checks = 0;
      limited.store.clock = () => (++checks === 1 ? t : t + 2);
      const out = await put(limited.client, 3000);
      expect(out.$metadata.attempts).toBe(2);
      noRetry.destroy();
    } finally {
      await limited.close();
    }
  });
});
