/**
 * What invokes the tagger, as a list of object records. Two shapes arrive:
 *
 * - an S3 event notification: `Records[]`, each with `eventName` (e.g. `ObjectCreated:Put`,
 *   `ObjectRemoved:Delete`), `s3.bucket.name` and `s3.object.{key,size,eTag,sequencer}`;
 * - an EventBridge event from S3 (for a bucket routed through EventBridge; one object per event):
 *   `source: "aws.s3"`, `detail-type` (`Object Created`, `Object Deleted`...), `detail.bucket.name`,
 *   `detail.object.{key,size,etag,sequencer}`, `detail.reason` (e.g. `PutObject`) and, for
 *   deletions, `detail.deletion-type`.
 *
 * The sequencer orders the events of one key; the ETag names the object version a created record
 * is about (the tagger reads exactly that version, or learns that a newer one replaced it).
 *
 * In both, S3 writes the key URL-encoded with '+' for spaces; records carry it decoded. A record
 * that cannot be read (missing fields, bad percent-encoding) becomes a string saying why, in its
 * place, so the caller can judge each record alone.
 */
import { decodeS3Key } from './tags.ts';

export interface ObjectRecord {
  bucket: string;
  /** The object key, decoded. */
  key: string;
  /** Bytes, as the event reports them. */
  size?: number;
  /** In S3 notification terms: `ObjectCreated:Put`, `ObjectCreated:CompleteMultipartUpload`... */
  eventName: string;
  /** Orders events of one key (hexadecimal string). */
  sequencer?: string;
  /** ETag of the version a created record is about (as S3 writes it: no quotes). */
  etag?: string;
}

/** A record, or why it cannot be read. */
export type RecordOrProblem = ObjectRecord | string;

/** The EventBridge S3 event, as far as the tagger reads it. */
export interface S3EventBridgeEvent {
  source: 'aws.s3';
  'detail-type': string;
  detail: {
    bucket: { name: string };
    object: { key: string; size?: number; etag?: string; sequencer?: string };
    reason?: string;
    'deletion-type'?: string;
  };
}

/** EventBridge `detail.reason` of Object Created -> the S3 notification event name. */
const CREATED_BY_REASON: Record<string, string> = {
  PutObject: 'ObjectCreated:Put',
  'POST Object': 'ObjectCreated:Post',
  CopyObject: 'ObjectCreated:Copy',
  CompleteMultipartUpload: 'ObjectCreated:CompleteMultipartUpload',
};

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const field = (v: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>((o, k) => (isObject(o) ? o[k] : undefined), v);

function record(
  bucket: unknown,
  key: unknown,
  eventName: unknown,
  size: unknown,
  sequencer: unknown,
  etag: unknown,
  where: string,
): RecordOrProblem {
  if (typeof bucket !== 'string' || typeof key !== 'string' || typeof eventName !== 'string')
    return `${where} without bucket name, object key or event name`;
  let decoded: string;
  try {
    decoded = decodeS3Key(key);
  } catch {
    return `object key ${JSON.stringify(key.slice(0, 200))} is not valid percent-encoding`;
  }
  const out: ObjectRecord = { bucket, key: decoded, eventName };
  if (typeof size === 'number' && Number.isFinite(size) && size >= 0) out.size = size;
  if (typeof sequencer === 'string') out.sequencer = sequencer;
  if (typeof etag === 'string' && etag !== '') out.etag = etag;
  return out;
}

/**
 * The S3 notification event name of an EventBridge S3 event (`Object Created` + `PutObject`...;
 * `Object Deleted` + deletion-type `Permanently Deleted` or `Delete Marker Created`).
 */
export function eventBridgeEventName(
  detailType: string,
  reason: string | undefined,
  deletionType?: string,
): string {
  if (detailType === 'Object Created')
    return CREATED_BY_REASON[reason ?? ''] ?? `ObjectCreated:${reason ?? 'Unknown'}`;
  if (detailType === 'Object Deleted')
    return deletionType === 'Delete Marker Created'
      ? 'ObjectRemoved:DeleteMarkerCreated'
      : 'ObjectRemoved:Delete';
  return `${detailType.replace(/\s+/g, '')}:${reason ?? 'Unknown'}`;
}

/** Turns an S3 notification or an EventBridge S3 event into records (or problems, one per record). */
export function toRecords(event: unknown): RecordOrProblem[] {
  if (isObject(event) && Array.isArray(event.Records))
    return event.Records.map((r: unknown) =>
      record(
        field(r, 's3', 'bucket', 'name'),
        field(r, 's3', 'object', 'key'),
        field(r, 'eventName'),
        field(r, 's3', 'object', 'size'),
        field(r, 's3', 'object', 'sequencer'),
        field(r, 's3', 'object', 'eTag'),
        'S3 notification record',
      ),
    );
  if (isObject(event) && event.source === 'aws.s3' && isObject(event.detail)) {
    const detailType = event['detail-type'];
    const reason = field(event, 'detail', 'reason');
    const deletion = field(event, 'detail', 'deletion-type');
    return [
      record(
        field(event, 'detail', 'bucket', 'name'),
        field(event, 'detail', 'object', 'key'),
        typeof detailType === 'string'
          ? eventBridgeEventName(
              detailType,
              typeof reason === 'string' ? reason : undefined,
              typeof deletion === 'string' ? deletion : undefined,
            )
          : undefined,
        field(event, 'detail', 'object', 'size'),
        field(event, 'detail', 'object', 'sequencer'),
        field(event, 'detail', 'object', 'etag'),
        'EventBridge S3 event',
      ),
    ];
  }
  // The test message S3 sends when a notification configuration is saved carries no object.
  if (isObject(event) && event.Event === 's3:TestEvent') return [];
  return ['event is neither an S3 notification (Records) nor an EventBridge S3 event (source aws.s3)'];
}
