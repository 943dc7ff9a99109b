/**
 * S3 Batch Operations' LambdaInvoke: the tagger run over a manifest (a CSV of bucket,key or an S3
 * Inventory report). Batch Operations invokes the function synchronously with
 * `{invocationSchemaVersion, invocationId, job, tasks: [{taskId, s3Key, s3VersionId, ...}]}` and
 * reads one result per task from the response.
 *
 * The two schemas differ in how they name the object:
 * - 1.0 (the default): `s3BucketArn` ("arn:aws:s3:::bucket") and `s3Key` URL-encoded as in the
 *   manifest (the S3 User Guide's example decodes it; '+' is a space, as Powertools for Python
 *   decodes it with unquote_plus);
 * - 2.0: `s3Bucket` (the bucket name) and `s3Key` as the object's key, not encoded; `job` may carry
 *   `userArguments`.
 *
 * Results, per task:
 * - the object was tagged, or already had these tags: Succeeded, whatever the status (an image the
 *   classifier refuses gets its status tag: that tag is the result, retrying cannot change it);
 * - not taggable (outside the tagger's prefix, not an image suffix): Succeeded, "Ignored: ...",
 *   as the event tagger ignores it;
 * - the object does not exist, or the task cannot be read: PermanentFailure;
 * - anything thrown (throttling, 5xx, access denied, a classifier fault): TemporaryFailure, so
 *   Batch Operations retries the task.
 * `treatMissingKeysAs: PermanentFailure`: a task missing from the results failed for good.
 *
 * A task names a version (`s3VersionId`) when the manifest has one; the tagger reads and tags the
 * current version (as for events), so a manifest of old versions tags the current objects.
 */
import { silentTelemetry, type Telemetry } from '../telemetry.ts';
import { isObject } from './events.ts';
import { type TaggerOptions, type TagOutcome, tagObject } from './tagger.ts';
import { decodeS3Key } from './tags.ts';

export type BatchResultCode = 'Succeeded' | 'TemporaryFailure' | 'PermanentFailure';

export interface BatchTask {
  taskId: string;
  s3Key: string;
  s3VersionId?: string | null;
  /** Schema 1.0. */
  s3BucketArn?: string;
  /** Schema 2.0. */
  s3Bucket?: string;
}

export interface BatchOperationsEvent {
  invocationSchemaVersion: '1.0' | '2.0' | string;
  invocationId: string;
  job: { id: string; userArguments?: Record<string, string> };
  tasks: BatchTask[];
}

export interface BatchResult {
  taskId: string;
  resultCode: BatchResultCode;
  resultString: string;
}

export interface BatchResponse {
  invocationSchemaVersion: string;
  treatMissingKeysAs: BatchResultCode;
  invocationId: string;
  results: BatchResult[];
}

/** An S3 Batch Operations LambdaInvoke payload (either schema), as opposed to an S3 or EventBridge event. */
export function isBatchOperationsEvent(event: unknown): event is BatchOperationsEvent {
  return (
    isObject(event) &&
    typeof event.invocationSchemaVersion === 'string' &&
    typeof event.invocationId === 'string' &&
    Array.isArray(event.tasks)
  );
}

/** The bucket and decoded key of a task, or why it cannot be read. */
export function taskObject(schema: string, task: unknown): { bucket: string; key: string } | string {
  if (!isObject(task) || typeof task.s3Key !== 'string' || task.s3Key === '') return 'task without s3Key';
  let bucket: string | undefined;
  if (typeof task.s3Bucket === 'string' && task.s3Bucket) bucket = task.s3Bucket;
  else if (typeof task.s3BucketArn === 'string')
    bucket = /^arn:[\w-]+:s3:[^:]*:[^:]*:(.+)$/.exec(task.s3BucketArn)?.[1];
  if (!bucket) return 'task without s3Bucket or a valid s3BucketArn';
  if (schema !== '1.0') return { bucket, key: task.s3Key };
  try {
    return { bucket, key: decodeS3Key(task.s3Key) };
  } catch {
    return `s3Key ${JSON.stringify(task.s3Key.slice(0, 200))} is not valid URL encoding`;
  }
}

function resultOf(out: TagOutcome): Pick<BatchResult, 'resultCode' | 'resultString'> {
  switch (out.result) {
    case 'tagged':
    case 'unchanged': {
      const what = out.status === 'ok' ? (out.classification?.labels[0]?.label ?? 'ok') : out.detail;
      return {
        resultCode: 'Succeeded',
        resultString: `${out.status}${what ? `: ${what}` : ''} (${out.result})`,
      };
    }
    case 'ignored':
      return {
        resultCode: 'Succeeded',
        resultString: 'Ignored: outside the upload prefix or not an image suffix',
      };
    case 'missing':
      return { resultCode: 'PermanentFailure', resultString: 'NoSuchKey: the object does not exist' };
    case 'malformed':
      return { resultCode: 'PermanentFailure', resultString: out.detail };
    case 'stale':
    case 'superseded':
      return {
        resultCode: 'Succeeded',
        resultString: `${out.result}: a newer S3 event for this key owns its tags`,
      };
    case 'removed':
      return { resultCode: 'Succeeded', resultString: 'removed from the index' };
  }
}

/**
 * Runs every task through tagObject (one after the other) and reports each one's result. Never
 * throws: a failure belongs to its task, and Batch Operations redrives TemporaryFailure tasks.
 */
export async function tagBatch(
  o: TaggerOptions,
  event: BatchOperationsEvent,
  telemetry: Telemetry = silentTelemetry,
): Promise<BatchResponse> {
  const results: BatchResult[] = [];
  for (const task of event.tasks) {
    const taskId = isObject(task) && typeof task.taskId === 'string' ? task.taskId : '';
    const object = taskObject(event.invocationSchemaVersion, task);
    if (typeof object === 'string') {
      results.push({ taskId, resultCode: 'PermanentFailure', resultString: object });
      continue;
    }
    const where = { ...object, taskId, jobId: event.job?.id };
    try {
      const out = await tagObject(o, object.bucket, object.key);
      if ((out.result === 'tagged' || out.result === 'unchanged') && out.classification)
        telemetry.classified(out.classification.timings, { ...where, result: out.result });
      else if (out.result === 'tagged' || out.result === 'unchanged')
        telemetry.failed(out.status, out.detail ?? out.status, { ...where, result: out.result });
      else telemetry.info(`skipped: ${out.result}`, where);
      results.push({ taskId, ...resultOf(out) });
    } catch (err) {
      const e = err as Error;
      telemetry.failed('Transient', e?.message ?? String(err), { ...where, error: e?.name });
      results.push({
        taskId,
        resultCode: 'TemporaryFailure',
        resultString: `${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`.slice(0, 1000),
      });
    }
  }
  return {
    invocationSchemaVersion: event.invocationSchemaVersion,
    treatMissingKeysAs: 'PermanentFailure',
    invocationId: event.invocationId,
    results,
  };
}

/**
 * The Batch Operations handler wired to telemetry: what src/handlers/tagger.ts dispatches a Batch
 * payload to.
 */
export function createBatchTagger(o: TaggerOptions & { telemetry?: Telemetry }) {
  return (event: BatchOperationsEvent): Promise<BatchResponse> =>
    tagBatch(o, event, o.telemetry ?? silentTelemetry);
}
