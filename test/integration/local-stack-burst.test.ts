/**
 * A burst into the `npm start` stack (issue 16, item 1): 200 objects put into the local bucket at
 * once, the first thing a user tries (`aws s3 cp --recursive`). Before, every event invoked the
 * tagger at once, serverless-offline loaded the model in one worker per event and died; now the
 * events queue as Lambda's asynchronous invocations do (bounded concurrency, warm workers reused,
 * retries): all 200 are tagged, the stack stays up, and it loaded the model no more often than its
 * concurrency. And a key the local S3 cannot store (a segment over a file name's 255 bytes): 404 on
 * reads, 400 on writes, where it answered 500 and crashed the stack (item 10).
 */
import { readFile } from 'node:fs/promises';
import { GetObjectTaggingCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localS3Client } from '../../scripts/local/local-s3.ts';
import { type LocalStack, startLocalStack } from '../helpers/local-stack.ts';
import { photo, sharedModelFolder, skipUnlessShared } from '../helpers/shared.ts';

const BUCKET = 'image-tagger-dev-uploads-local';
const OBJECTS = 200;

describe.skipIf(skipUnlessShared('the npm start burst test'))('npm start: a burst of 200 uploads', () => {
  let stack: LocalStack;

  beforeAll(async () => {
    stack = await startLocalStack(['--model-dir', sharedModelFolder(), '--public']);
  }, 200_000);
  afterAll(() => stack?.stop(), 30_000);

  it('tags all 200 with the stack alive, with at most its concurrency of tagger workers', async () => {
    const bytes = new Uint8Array(await readFile(photo('207-Golden-Retriever.jpg')));
    const keys = Array.from({ length: OBJECTS }, (_, i) => `uploads/burst/${i}.jpg`);
    const puts = await Promise.all(
      keys.map((key) => fetch(`${stack.s3}/${BUCKET}/${key}`, { method: 'PUT', body: bytes })),
    );
    expect(puts.map((r) => r.status)).toEqual(Array(OBJECTS).fill(200));

    const done = () => stack.output().match(/\[start\] tagger done for ObjectCreated:Put /g)?.length ?? 0;
    for (let i = 0; i < 240 * 2 && done() < OBJECTS && stack.child.exitCode === null; i++)
      await new Promise((r) => setTimeout(r, 500));
    expect(stack.child.exitCode, stack.output().slice(-3000)).toBeNull();
    expect(done()).toBe(OBJECTS);

    const s3 = localS3Client(stack.s3);
    try {
      const tops = await Promise.all(
        keys.map(async (Key) => {
          const { TagSet = [] } = await s3.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key }));
          return TagSet.find((t) => t.Key === 'tagger:top')?.Value;
        }),
      );
      expect(tops).toEqual(Array(OBJECTS).fill('Golden Retriever'));
    } finally {
      s3.destroy();
    }
    const health = await fetch(`${stack.base}/health`);
    expect(health.status).toBe(200);
    expect(((await health.json()) as { status?: string }).status).toBe('ok');

    const output = stack.output();
    const concurrency = Number(output.match(/S3 events run at most (\d+) at a time/)?.[1]);
    expect(concurrency).toBeGreaterThanOrEqual(1);
    // Each serverless-offline worker logs "classifier ready" once, when it loads the model (npm
    // start prints Powertools' line compacted: "[tagger] classifier ready model=...").
    const taggerWorkers = output.split('\n').filter((l) => l.startsWith('[tagger] classifier ready')).length;
    expect(taggerWorkers).toBeGreaterThanOrEqual(1);
    expect(taggerWorkers).toBeLessThanOrEqual(concurrency);
    expect(output).not.toContain('FAILURE QUEUE');
  }, 300_000);

  it('a key segment too long for the local S3: GET /image answers 404, a PUT 400, the stack stays up', async () => {
    const key = `uploads/${'a'.repeat(300)}.jpg`;
    const image = await fetch(`${stack.base}/image?key=${key}`);
    expect(image.status).toBe(404);
    expect(((await image.json()) as { error?: { code?: string } }).error?.code).toBe('NotFound');
    const put = await fetch(`${stack.s3}/${BUCKET}/${key}`, { method: 'PUT', body: 'x' });
    expect(put.status).toBe(400);
    expect(await put.text()).toContain('<Code>KeyTooLongError</Code>');
    expect((await fetch(`${stack.base}/health`)).status).toBe(200);
    expect(stack.child.exitCode).toBeNull();
  });
});
