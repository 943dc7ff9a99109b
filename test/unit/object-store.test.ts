/**
 * The S3 adapter's reading of GetObject responses that the local S3 (s3rver) never sends:
 * x-amz-tagging-count, a 416 for a Range on an empty object (AWS S3's answer), and a server that
 * ignores the Range, a 412 for If-Match. The real SDK client parses the responses; only its HTTP handler is replaced
 * by one that answers from a table and records the requests.
 */
import { Readable } from 'node:stream';
import { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { s3ObjectStore, totalFromContentRange } from '../../src/aws/s3-object-store.ts';
import { ObjectChangedError, ObjectMissingError } from '../../src/tagging/object-store.ts';

interface Answer {
  statusCode: number;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

function clientAnswering(answer: Answer) {
  const requests: { method: string; path: string; headers: Record<string, string> }[] = [];
  let streamed = 0;
  const s3 = new S3Client({
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:9',
    forcePathStyle: true,
    maxAttempts: 1,
    credentials: { accessKeyId: 'k', secretAccessKey: 's' },
    requestHandler: {
      async handle(request: { method: string; path: string; headers: Record<string, string> }) {
        requests.push({ method: request.method, path: request.path, headers: request.headers });
        const bytes = Buffer.from(answer.body ?? '');
        // Served in 1 KiB chunks, counting what the client pulls.
        const chunks = Array.from({ length: Math.ceil(bytes.length / 1024) }, (_, i) =>
          bytes.subarray(i * 1024, (i + 1) * 1024),
        );
        const body = Readable.from(
          (function* () {
            for (const c of chunks) {
              streamed += c.length;
              yield c;
            }
          })(),
        );
        return {
          response: { statusCode: answer.statusCode, reason: '', headers: answer.headers ?? {}, body },
        };
      },
    } as never,
  });
  return { store: s3ObjectStore(s3), requests, streamed: () => streamed };
}

describe('s3ObjectStore.get', () => {
  it('sends a Range of at most maxBytes and reads size, ETag and tag count from the one response', async () => {
    const { store, requests } = clientAnswering({
      statusCode: 206,
      headers: {
        'content-range': 'bytes 0-9/5000',
        'content-length': '10',
        etag: '"abc"',
        'x-amz-tagging-count': '0',
      },
      body: '0123456789',
    });
    const out = await store.get('b', 'uploads/a.jpg', { maxBytes: 10 });
    expect(requests[0]?.headers.range).toBe('bytes=0-9');
    expect(out).toMatchObject({ size: 5000, etag: '"abc"' });
    expect(Buffer.from(out.bytes).toString()).toBe('0123456789');
  });

  it('ifMatch sends If-Match (quoted) and reads that version', async () => {
    const { store, requests } = clientAnswering({
      statusCode: 206,
      headers: { 'content-range': 'bytes 0-2/3', 'content-length': '3', etag: '"abc"' },
      body: 'xyz',
    });
    const out = await store.get('b', 'k', { maxBytes: 10, ifMatch: 'abc' });
    expect(requests[0]?.headers['if-match']).toBe('"abc"');
    expect(out.size).toBe(3);
  });

  it('another version is ObjectChangedError: 412 from S3, or an ETag that differs (a server ignoring If-Match)', async () => {
    const failed = clientAnswering({
      statusCode: 412,
      headers: { 'content-type': 'application/xml' },
      body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>',
    });
    await expect(failed.store.get('b', 'k', { maxBytes: 10, ifMatch: '"abc"' })).rejects.toBeInstanceOf(
      ObjectChangedError,
    );
    const ignoring = clientAnswering({
      statusCode: 206,
      headers: { 'content-range': 'bytes 0-2/3', 'content-length': '3', etag: '"def"' },
      body: 'xyz',
    });
    await expect(ignoring.store.get('b', 'k', { maxBytes: 10, ifMatch: 'abc' })).rejects.toBeInstanceOf(
      ObjectChangedError,
    );
    // Without ifMatch, any version is read.
    expect((await ignoring.store.get('b', 'k', { maxBytes: 10 })).etag).toBe('"def"');
  });

  it('an empty object answers 416 to any Range: it is read as empty, not as an error', async () => {
    const { store } = clientAnswering({
      statusCode: 416,
      headers: { 'content-type': 'application/xml', 'content-range': 'bytes */0' },
      body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidRange</Code><Message>The requested range is not satisfiable</Message></Error>',
    });
    expect(await store.get('b', 'k', { maxBytes: 100 })).toEqual({ bytes: new Uint8Array(0), size: 0 });
  });

  it('ranged: false sends no Range and still reads no more than maxBytes', async () => {
    const { store, requests } = clientAnswering({ statusCode: 200, headers: { 'content-length': '0' } });
    expect(await store.get('b', 'k', { maxBytes: 10, ranged: false })).toMatchObject({ size: 0 });
    expect(requests[0]?.headers.range).toBeUndefined();
  });

  it('a server that ignores the Range costs no more than maxBytes of body', async () => {
    const whole = Buffer.alloc(64 * 1024, 7);
    const { store, streamed } = clientAnswering({
      statusCode: 200,
      headers: { 'content-length': String(whole.length) },
      body: whole,
    });
    const out = await store.get('b', 'k', { maxBytes: 2048 });
    expect(out.bytes.length).toBe(2048);
    expect(out.size).toBe(whole.length);
    expect(streamed()).toBeLessThanOrEqual(4096);
  });

  it('a missing object is ObjectMissingError', async () => {
    const { store } = clientAnswering({
      statusCode: 404,
      headers: { 'content-type': 'application/xml' },
      body: '<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>',
    });
    await expect(store.get('b', 'gone.jpg', { maxBytes: 10 })).rejects.toBeInstanceOf(ObjectMissingError);
  });
});

describe('totalFromContentRange', () => {
  it('reads the total, and nothing from an unknown or absent one', () => {
    expect(totalFromContentRange('bytes 0-0/26214401')).toBe(26214401);
    expect(totalFromContentRange('bytes 0-9/*')).toBeUndefined();
    expect(totalFromContentRange(undefined)).toBeUndefined();
  });
});
