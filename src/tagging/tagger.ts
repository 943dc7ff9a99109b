/**
 * The S3 tagger: for each ObjectCreated record, read the object (bounded by the image limit),
 * classify, merge the tags with the object's existing ones and PutObjectTagging.
 *
 * S3 requests per image (see ObjectStore): one GetObject with a Range of at most the image limit;
 * its response carries the full size (Content-Range), the ETag and the tag count, so
 * - no HeadObject: bytes and size come from one response, hence from one object version;
 * - an object whose event size is over the limit is probed with a 1-byte read instead (the size in
 *   the event may be stale: the current version decides), so it is refused without downloading it;
 * - a size in the event that lies (or an object replaced by a larger one) can never make the tagger
 *   read more than the limit: the Range bounds it;
 * - GetObjectTagging always, right before PutObjectTagging, even when GetObject's tag count says
 *   none: S3 has no conditional tag write, and a user's tags put during the classification would
 *   otherwise be overwritten; reading them last keeps that window to one round trip;
 * - PutObjectTagging only when the tags change.
 *
 * - Bad images (unsupported, corrupt, too large) get a status tag and count as handled: retrying
 *   cannot help them.
 * - An object deleted before it is processed is skipped.
 * - Anything else (throttling, 5xx, access denied, a classifier fault) is thrown, so Lambda retries
 *   the asynchronous invocation and finally hands the event to the on-failure destination.
 * - Idempotent: a duplicate delivery computes the same tags and writes nothing when they are already
 *   there. PutObjectTagging emits s3:ObjectTagging:Put, never ObjectCreated, so it cannot re-trigger.
 */
import type { S3Event } from 'aws-lambda';
import type { Classification, Classifier } from '../classifier/classifier.ts';
import { ImageError } from '../classifier/errors.ts';
import { type S3EventBridgeEvent, toRecords } from './events.ts';
import { ObjectMissingError, type ObjectStore } from './object-store.ts';
import {
  DEFAULT_IMAGE_SUFFIXES,
  DEFAULT_UPLOAD_PREFIX,
  isTaggable,
  mergeTags,
  sameTags,
  serviceTags,
  type Tag,
  type TagStatus,
} from './tags.ts';

/** What invokes the tagger: the bucket notification, or an EventBridge S3 event for a bucket routed there. */
export type TaggerEvent = S3Event | S3EventBridgeEvent;

export interface TaggerOptions {
  store: ObjectStore;
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
  | { result: 'malformed'; detail: string }
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
  const existing = await o.store.getTags(bucket, key);
  const { tags, dropped } = mergeTags(existing, ours);
  const common = { bucket, key, status, tags, dropped, classification, detail };
  if (sameTags(existing, tags)) return { ...common, result: 'unchanged' };
  await o.store.putTags(bucket, key, tags);
  return { ...common, result: 'tagged' };
}

/**
 * Tags one object (key already decoded). `eventSize` is the size the S3 event announced, if any: over
 * the limit, only one byte is read to learn the current version's size.
 */
export async function tagObject(
  o: TaggerOptions,
  bucket: string,
  key: string,
  eventSize?: number,
): Promise<TagOutcome> {
  const prefix = o.prefix ?? DEFAULT_UPLOAD_PREFIX;
  const suffixes = o.suffixes ?? DEFAULT_IMAGE_SUFFIXES;
  if (!isTaggable(key, prefix, suffixes))
    return { bucket, key, result: 'ignored', reason: 'prefix-or-suffix' };
  const maxBytes = o.classifier.limits.maxBytes;
  try {
    const probe = eventSize !== undefined && eventSize > maxBytes;
    // An object announced as empty is asked for without a Range (none is satisfiable on it).
    let object = await o.store.get(bucket, key, {
      maxBytes: probe ? 1 : maxBytes,
      ranged: eventSize !== 0,
    });
    // The probe found a version that fits (the object was replaced since the event): read it.
    if (object.size <= maxBytes && object.bytes.length < object.size)
      object = await o.store.get(bucket, key, { maxBytes });
    if (object.size > maxBytes)
      return await writeTags(
        o,
        bucket,
        key,
        'ImageTooLarge',
        undefined,
        `object is ${object.size} bytes; the limit is ${maxBytes} bytes`,
      );
    if (object.bytes.length !== object.size)
      throw new Error(`s3://${bucket}/${key}: read ${object.bytes.length} of ${object.size} bytes`);
    let classification: Classification;
    try {
      classification = await o.classifier.classify(object.bytes, { topK: o.topK ?? 3 });
    } catch (err) {
      if (err instanceof ImageError && err.code !== 'InvalidArgument')
        return await writeTags(o, bucket, key, err.code, undefined, err.message);
      throw err;
    }
    return await writeTags(o, bucket, key, 'ok', classification);
  } catch (err) {
    if (err instanceof ObjectMissingError) return { bucket, key, result: 'missing' };
    throw err;
  }
}

/**
 * Handles every record of an S3 notification or EventBridge S3 event (src/tagging/events.ts).
 * Records are independent: each is judged alone, a malformed one is reported and skipped (no retry
 * can mend it), and the first transient error is thrown after all were attempted (a retry repeats
 * the others harmlessly: they are idempotent).
 */
export async function tagS3Event(o: TaggerOptions, event: TaggerEvent): Promise<TagOutcome[]> {
  const outcomes: TagOutcome[] = [];
  let failure: unknown;
  for (const record of toRecords(event)) {
    if (typeof record === 'string') {
      outcomes.push({ bucket: '', key: '', result: 'malformed', detail: record });
      continue;
    }
    const { bucket, key } = record;
    if (!record.eventName.startsWith('ObjectCreated:')) {
      outcomes.push({ bucket, key, result: 'ignored', reason: 'not-object-created' });
      continue;
    }
    try {
      outcomes.push(await tagObject(o, bucket, key, record.size));
    } catch (err) {
      failure ??= err;
    }
  }
  if (failure !== undefined) throw failure;
  return outcomes;
}
