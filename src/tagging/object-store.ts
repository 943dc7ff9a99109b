/**
 * The object store the tagger needs (port), and its S3 adapter. The tagger speaks only to this
 * interface, so its rules are unit-tested against an in-memory store and integration-tested
 * against a real local S3 through the adapter.
 */
import {
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutObjectTaggingCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Tag } from './tags.ts';

export interface ObjectStore {
  head(bucket: string, key: string): Promise<{ size: number; etag?: string }>;
  /** `ifMatch`: fail (as a transient error) when the object changed since that ETag. */
  get(bucket: string, key: string, ifMatch?: string): Promise<{ bytes: Uint8Array; etag?: string }>;
  getTags(bucket: string, key: string): Promise<Tag[]>;
  putTags(bucket: string, key: string, tags: Tag[]): Promise<void>;
}

/** The object is gone (deleted before the tagger got to it): nothing to tag, nothing to retry. */
export class ObjectMissingError extends Error {
  constructor(bucket: string, key: string) {
    super(`s3://${bucket}/${key} does not exist`);
    this.name = 'ObjectMissingError';
  }
}

const isNotFound = (err: unknown): boolean => {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
};

export function s3ObjectStore(s3: S3Client): ObjectStore {
  async function call<T>(bucket: string, key: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (isNotFound(err)) throw new ObjectMissingError(bucket, key);
      throw err;
    }
  }
  return {
    head: (Bucket, Key) =>
      call(Bucket, Key, async () => {
        const head = await s3.send(new HeadObjectCommand({ Bucket, Key }));
        return { size: head.ContentLength ?? 0, etag: head.ETag };
      }),
    get: (Bucket, Key, IfMatch) =>
      call(Bucket, Key, async () => {
        const object = await s3.send(new GetObjectCommand({ Bucket, Key, IfMatch }));
        if (!object.Body) throw new Error(`GetObject s3://${Bucket}/${Key} returned no body`);
        return { bytes: await object.Body.transformToByteArray(), etag: object.ETag };
      }),
    getTags: (Bucket, Key) =>
      call(Bucket, Key, async () => {
        const current = await s3.send(new GetObjectTaggingCommand({ Bucket, Key }));
        return (current.TagSet ?? []).map((t) => ({ Key: t.Key ?? '', Value: t.Value ?? '' }));
      }),
    putTags: (Bucket, Key, TagSet) =>
      call(Bucket, Key, async () => {
        await s3.send(new PutObjectTaggingCommand({ Bucket, Key, Tagging: { TagSet } }));
      }),
  };
}
