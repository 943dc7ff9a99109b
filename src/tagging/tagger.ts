/**
 * The S3 tagger: for each ObjectCreated record, HeadObject (skip what is too large), GetObject,
 * classify, merge the tags with the object's existing ones and PutObjectTagging.
 *
 * - Bad images (unsupported, corrupt, too large) get a status tag and count as handled: retrying
 *   cannot help them.
 * - An object deleted before it is processed is skipped.
 * - Anything else (throttling, 5xx, access denied, a classifier fault) is thrown, so Lambda retries
 *   the asynchronous invocation and finally hands the event to the on-failure destination.
 * - Idempotent: a duplicate delivery computes the same tags and writes nothing when they are already
 *   there. PutObjectTagging emits s3:ObjectTagging:Put, never ObjectCreated, so it cannot re-trigger.
 */
import {
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutObjectTaggingCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';
import type { Classification, Classifier } from '../classifier/classifier.ts';
import { ImageError } from '../classifier/errors.ts';
import {
  DEFAULT_IMAGE_SUFFIXES,
  DEFAULT_UPLOAD_PREFIX,
  decodeS3Key,
  isTaggable,
  mergeTags,
  sameTags,
  serviceTags,
  type Tag,
  type TagStatus,
} from './tags.ts';

export interface TaggerOptions {
  s3: S3Client;
  classifier: Pick<Classifier, 'classify' | 'folder' | 'limits'>;
  prefix?: string;
  suffixes?: readonly string[];
  topK?: number;
}

export type TagOutcome = {
  bucket: string;
  key: string;
} & (
  | { result: 'ignored'; reason: 'not-object-created' | 'prefix-or-suffix' }
  | { result: 'missing' }
  | {
      result: 'tagged' | 'unchanged';
      status: TagStatus;
      tags: Tag[];
      /** Service tags that did not fit next to the user's tags. */
      dropped: string[];
      classification?: Classification;
      /** Message of the image error, when status is not ok. */
      detail?: string;
    }
);

const isNotFound = (err: unknown): boolean => {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
};

async function writeTags(
  o: TaggerOptions,
  bucket: string,
  key: string,
  status: TagStatus,
  classification?: Classification,
  detail?: string,
): Promise<TagOutcome> {
  const { meta } = o.classifier.folder;
  const ours = serviceTags(status, meta, classification?.labels);
  const current = await o.s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }));
  const existing = (current.TagSet ?? []).map((t) => ({ Key: t.Key ?? '', Value: t.Value ?? '' }));
  const { tags, dropped } = mergeTags(existing, ours);
  const common = { bucket, key, status, tags, dropped, classification, detail };
  if (sameTags(existing, tags)) return { ...common, result: 'unchanged' };
  await o.s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: key, Tagging: { TagSet: tags } }));
  return { ...common, result: 'tagged' };
}

/** Tags one object (key already decoded). */
export async function tagObject(o: TaggerOptions, bucket: string, key: string): Promise<TagOutcome> {
  const prefix = o.prefix ?? DEFAULT_UPLOAD_PREFIX;
  const suffixes = o.suffixes ?? DEFAULT_IMAGE_SUFFIXES;
  if (!isTaggable(key, prefix, suffixes))
    return { bucket, key, result: 'ignored', reason: 'prefix-or-suffix' };
  const maxBytes = o.classifier.limits.maxBytes;
  try {
    const head = await o.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    if ((head.ContentLength ?? 0) > maxBytes)
      return await writeTags(
        o,
        bucket,
        key,
        'ImageTooLarge',
        undefined,
        `object is ${head.ContentLength} bytes; the limit is ${maxBytes} bytes`,
      );
    const object = await o.s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: key, IfMatch: head.ETag ?? undefined }),
    );
    if (!object.Body) throw new Error(`GetObject s3://${bucket}/${key} returned no body`);
    const bytes = await object.Body.transformToByteArray();
    let classification: Classification;
    try {
      classification = await o.classifier.classify(bytes, { topK: o.topK ?? 3 });
    } catch (err) {
      if (err instanceof ImageError && err.code !== 'InvalidArgument')
        return await writeTags(o, bucket, key, err.code, undefined, err.message);
      throw err;
    }
    return await writeTags(o, bucket, key, 'ok', classification);
  } catch (err) {
    if (isNotFound(err)) return { bucket, key, result: 'missing' };
    throw err;
  }
}

/**
 * Handles every record of an S3 notification. Records are independent: all are attempted, and the
 * first error is thrown afterwards (a retry repeats the others harmlessly: they are idempotent).
 */
export async function tagS3Event(o: TaggerOptions, event: S3Event): Promise<TagOutcome[]> {
  const outcomes: TagOutcome[] = [];
  let failure: unknown;
  for (const record of event.Records ?? []) {
    const bucket = record.s3.bucket.name;
    const key = decodeS3Key(record.s3.object.key);
    if (!record.eventName.startsWith('ObjectCreated:')) {
      outcomes.push({ bucket, key, result: 'ignored', reason: 'not-object-created' });
      continue;
    }
    try {
      outcomes.push(await tagObject(o, bucket, key));
    } catch (err) {
      failure ??= err;
    }
  }
  if (failure !== undefined) throw failure;
  return outcomes;
}
