/**
 * The ObjectStore contract (test/helpers/object-store-contract.ts) against the S3 adapter
 * (src/aws/s3-object-store.ts) on the local S3 that `npm start` runs (scripts/local/local-s3.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll } from 'vitest';
import { type LocalS3, localS3Client, startLocalS3 } from '../../scripts/local/local-s3.ts';
import { s3ObjectStore } from '../../src/aws/s3-object-store.ts';
import { objectStoreContract } from '../helpers/object-store-contract.ts';

const Bucket = 'contract';
let dir: string;
let server: LocalS3;
let s3: S3Client;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'object-store-contract-'));
  server = await startLocalS3({ directory: dir, buckets: [Bucket] });
  s3 = localS3Client(server.endpoint);
});
afterAll(async () => {
  s3?.destroy();
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

objectStoreContract('the S3 adapter on the local S3 (s3rver)', () => ({
  store: s3ObjectStore(s3),
  bucket: Bucket,
  put: async (Key, Body, tags = []) => {
    const Tagging = tags.map((t) => `${encodeURIComponent(t.Key)}=${encodeURIComponent(t.Value)}`).join('&');
    const out = await s3.send(new PutObjectCommand({ Bucket, Key, Body, ...(Tagging ? { Tagging } : {}) }));
    return out.ETag as string;
  },
  delete: async (Key) => {
    await s3.send(new DeleteObjectCommand({ Bucket, Key }));
  },
}));
