/**
 * The ObjectStore contract (test/helpers/object-store-contract.ts) against the S3 adapter
 * (src/aws/s3-object-store.ts) on the local S3 that `npm start` runs (scripts/local/local-s3.ts).
 */
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { s3ObjectStore } from '../../src/aws/s3-object-store.ts';
import { useLocalS3 } from '../helpers/local-s3.ts';
import { objectStoreContract } from '../helpers/object-store-contract.ts';

const Bucket = 'contract';
const local = useLocalS3([Bucket]);

objectStoreContract('the S3 adapter on the local S3 (s3rver)', () => ({
  store: s3ObjectStore(local.s3),
  bucket: Bucket,
  put: async (Key, Body, tags = []) => {
    const Tagging = tags.map((t) => `${encodeURIComponent(t.Key)}=${encodeURIComponent(t.Value)}`).join('&');
    const out = await local.s3.send(
      new PutObjectCommand({ Bucket, Key, Body, ...(Tagging ? { Tagging } : {}) }),
    );
    return out.ETag as string;
  },
  delete: async (Key) => {
    await local.s3.send(new DeleteObjectCommand({ Bucket, Key }));
  },
}));
