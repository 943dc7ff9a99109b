/** S3 Batch Operations' LambdaInvoke payloads (schemas 1.0 and 2.0) against an in-memory store and the fake classifier. */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../paths.ts';
import { taggerSettings } from '../../src/settings.ts';
import {
  type BatchOperationsEvent,
  createBatchTagger,
  isBatchOperationsEvent,
  tagBatch,
  taskObject,
} from '../../src/tagging/batch.ts';
import { encodeS3Key } from '../../src/tagging/tags.ts';
import { fakeClassifier, MemoryStore } from '../helpers/fakes.ts';

const BUCKET = 'photos-bucket';
const KEY = 'uploads/my dog+cat été.jpg';

const v2 = (...tasks: object[]): BatchOperationsEvent => ({
  invocationSchemaVersion: '2.0',
  invocationId: 'inv-2',
  job: { id: 'job-2', userArguments: {} },
  tasks: tasks.map((t, i) => ({ taskId: `t${i}`, s3VersionId: null, s3Bucket: BUCKET, ...t })) as never,
});
const v1 = (...tasks: object[]): BatchOperationsEvent => ({
  invocationSchemaVersion: '1.0',
  invocationId: 'inv-1',
  job: { id: 'job-1' },
  tasks: tasks.map((t, i) => ({
    taskId: `t${i}`,
    s3VersionId: '1',
    s3BucketArn: `arn:aws:s3:::${BUCKET}`,
    ...t,
  })) as never,
});

function setup(store = new MemoryStore()) {
  const classifier = fakeClassifier({ maxBytes: 100 });
  return { store, classifier, options: { store, classifier, ...taggerSettings({}) } };
}

describe('S3 Batch Operations payloads', () => {
  it('recognises both schemas, and not S3 or EventBridge events', () => {
    expect(isBatchOperationsEvent(v1())).toBe(true);
    expect(isBatchOperationsEvent(v2())).toBe(true);
    const sample = JSON.parse(readFileSync(join(ROOT, 'events/s3-batch-operations.json'), 'utf8'));
    expect(isBatchOperationsEvent(sample)).toBe(true);
    expect(taskObject(sample.invocationSchemaVersion, sample.tasks[0])).toEqual({
      bucket: 'image-tagger-dev-uploads-local',
      key: 'uploads/my dog été.jpg',
    });
    for (const name of ['s3-object-created.json', 's3-eventbridge-object-created.json'])
      expect(isBatchOperationsEvent(JSON.parse(readFileSync(join(ROOT, 'events', name), 'utf8')))).toBe(
        false,
      );
    expect(isBatchOperationsEvent(null)).toBe(false);
    expect(isBatchOperationsEvent({ invocationSchemaVersion: '2.0', invocationId: 'x' })).toBe(false);
  });

  it('2.0: the key is used as given, the bucket is s3Bucket', async () => {
    const { store, options } = setup();
    store.put(BUCKET, KEY, Uint8Array.of(7, 7));
    const response = await tagBatch(options, v2({ s3Key: KEY }));
    expect(response).toEqual({
      invocationSchemaVersion: '2.0',
      treatMissingKeysAs: 'PermanentFailure',
      invocationId: 'inv-2',
      results: [{ taskId: 't0', resultCode: 'Succeeded', resultString: 'ok: label-7 (tagged)' }],
    });
    expect(store.tagsOf(BUCKET, KEY)).toContainEqual({ Key: 'tagger:top', Value: 'label-7' });
  });

  it('2.0: a key that looks URL-encoded is not decoded', async () => {
    const { store, options } = setup();
    store.put(BUCKET, KEY, Uint8Array.of(7, 7));
    const response = await tagBatch(options, v2({ s3Key: encodeS3Key(KEY) }));
    expect(response.results[0]?.resultCode).toBe('PermanentFailure'); // no such key: it was taken literally
    expect(store.tagsOf(BUCKET, KEY)).toEqual([]);
  });

  it('1.0: the key is URL-decoded (+ is a space) and the bucket comes from s3BucketArn', async () => {
    const { store, options } = setup();
    store.put(BUCKET, KEY, Uint8Array.of(7, 7));
    expect(encodeS3Key(KEY)).toBe('uploads/my+dog%2Bcat+%C3%A9t%C3%A9.jpg');
    const response = await tagBatch(options, v1({ s3Key: encodeS3Key(KEY) }));
    expect(response).toMatchObject({
      invocationSchemaVersion: '1.0',
      invocationId: 'inv-1',
      results: [{ taskId: 't0', resultCode: 'Succeeded' }],
    });
    expect(store.tagsOf(BUCKET, KEY)).toContainEqual({ Key: 'tagger:status', Value: 'ok' });
    expect(
      taskObject('1.0', { taskId: 'x', s3Key: 'a.jpg', s3BucketArn: 'arn:aws-cn:s3:::cn-bucket' }),
    ).toEqual({
      bucket: 'cn-bucket',
      key: 'a.jpg',
    });
  });

  it('one result per task: image errors succeed with their status tag, missing is permanent, thrown is temporary', async () => {
    const store = new MemoryStore();
    const flaky = Object.assign(Object.create(store) as MemoryStore, {
      get: async (bucket: string, key: string, options: { maxBytes: number }) => {
        if (key.includes('throttled'))
          throw Object.assign(new Error('Please reduce your request rate.'), { name: 'SlowDown' });
        return store.get(bucket, key, options);
      },
    });
    const { options } = setup(flaky);
    store.put(BUCKET, 'uploads/ok.jpg', Uint8Array.of(9));
    store.put(BUCKET, 'uploads/corrupt.jpg', Uint8Array.of(0));
    store.put(BUCKET, 'uploads/unsupported.jpg', Uint8Array.of(1));
    store.put(BUCKET, 'uploads/huge.jpg', new Uint8Array(101).fill(9));
    store.put(BUCKET, 'uploads/throttled.jpg', Uint8Array.of(9));
    store.put(BUCKET, 'notes/readme.txt', Uint8Array.of(9));
    store.put(BUCKET, 'uploads/tagged.jpg', Uint8Array.of(9));
    await tagBatch(options, v2({ s3Key: 'uploads/tagged.jpg' }));
    const response = await tagBatch(
      options,
      v2(
        { s3Key: 'uploads/ok.jpg' },
        { s3Key: 'uploads/corrupt.jpg' },
        { s3Key: 'uploads/unsupported.jpg' },
        { s3Key: 'uploads/huge.jpg' },
        { s3Key: 'uploads/gone.jpg' },
        { s3Key: 'uploads/throttled.jpg' },
        { s3Key: 'notes/readme.txt' },
        { s3Key: 'uploads/tagged.jpg' },
        { s3Key: '' },
        { s3Key: 'uploads/ok.jpg', s3Bucket: undefined },
      ),
    );
    expect(response.results.map((r) => [r.taskId, r.resultCode, r.resultString])).toEqual([
      ['t0', 'Succeeded', 'ok: label-9 (tagged)'],
      ['t1', 'Succeeded', 'CorruptImage: fake: corrupt (tagged)'],
      ['t2', 'Succeeded', 'UnsupportedFormat: fake: unsupported (tagged)'],
      ['t3', 'Succeeded', 'ImageTooLarge: object is 101 bytes; the limit is 100 bytes (tagged)'],
      ['t4', 'PermanentFailure', 'NoSuchKey: the object does not exist'],
      ['t5', 'TemporaryFailure', 'SlowDown: Please reduce your request rate.'],
      ['t6', 'Succeeded', 'Ignored: outside the upload prefix or not an image suffix'],
      ['t7', 'Succeeded', 'ok: label-9 (unchanged)'],
      ['t8', 'PermanentFailure', 'task without s3Key'],
      ['t9', 'PermanentFailure', 'task without s3Bucket or a valid s3BucketArn'],
    ]);
    expect(store.tagsOf(BUCKET, 'uploads/corrupt.jpg')).toContainEqual({
      Key: 'tagger:status',
      Value: 'CorruptImage',
    });
    expect(store.tagsOf(BUCKET, 'uploads/throttled.jpg')).toEqual([]);
    expect(store.tagsOf(BUCKET, 'notes/readme.txt')).toEqual([]);
  });

  it('1.0: a key that is not valid URL encoding is a permanent failure', async () => {
    const { options } = setup();
    const response = await tagBatch(options, v1({ s3Key: 'uploads/100%.jpg' }));
    expect(response.results[0]).toMatchObject({ resultCode: 'PermanentFailure' });
    expect(response.results[0]?.resultString).toMatch(/not valid URL encoding/);
  });

  it('createBatchTagger tags under the prefix it is given and reports to telemetry', async () => {
    const store = new MemoryStore();
    const failures: string[] = [];
    const classified: string[] = [];
    const handle = createBatchTagger({
      store,
      classifier: fakeClassifier(),
      ...taggerSettings({ UPLOAD_PREFIX: 'in/' }),
      telemetry: {
        classified: (_t, extra) => void classified.push(String(extra?.key)),
        failed: (reason) => void failures.push(reason),
        info() {},
      },
    });
    store.put(BUCKET, 'in/a.jpg', Uint8Array.of(5));
    store.put(BUCKET, 'in/b.jpg', Uint8Array.of(0));
    store.put(BUCKET, 'uploads/c.jpg', Uint8Array.of(5));
    const response = await handle(
      v2({ s3Key: 'in/a.jpg' }, { s3Key: 'in/b.jpg' }, { s3Key: 'uploads/c.jpg' }),
    );
    expect(response.results.map((r) => r.resultCode)).toEqual(['Succeeded', 'Succeeded', 'Succeeded']);
    expect(response.results[2]?.resultString).toMatch(/^Ignored/);
    expect(classified).toEqual(['in/a.jpg']);
    expect(failures).toEqual(['CorruptImage']);
  });
});
