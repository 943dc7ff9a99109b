/**
 * The local S3 and keys with a segment too long for a file name (issue 16, item 10). s3rver stores
 * each key segment as a file name (255 bytes at most, the last one with a suffix): reads of such a
 * key answered 500 InternalError once the parent folder existed, and a PUT crashed the process.
 * Real S3 takes segments of any length; locally such an object cannot exist, so reads answer 404 as
 * S3 does for a missing key, and writes a clear 400.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { useLocalS3 } from '../helpers/local-s3.ts';

const Bucket = 'long-keys';

describe('local S3: a key segment too long for a file name', () => {
  const created: string[] = [];
  const local = useLocalS3([Bucket], {
    onEvent: (e) => created.push(...e.Records.map((r) => r.s3.object.key)),
  });

  beforeAll(async () => {
    // The parent folder exists: what made reads fail with ENAMETOOLONG instead of ENOENT.
    await local.s3.send(new PutObjectCommand({ Bucket, Key: 'uploads/dog.jpg', Body: 'x' }));
  });

  /** 200, or the error's status and name. */
  const status = (request: Promise<unknown>) =>
    request.then(
      () => 200,
      (err: { name: string; $metadata?: { httpStatusCode?: number } }) =>
        `${err.$metadata?.httpStatusCode} ${err.name}`,
    );

  it('reads answer 404 as for any missing key, deletes 204', async () => {
    for (const Key of [`uploads/${'a'.repeat(300)}.jpg`, `uploads/${'a'.repeat(300)}/x.jpg`]) {
      expect(await status(local.s3.send(new GetObjectTaggingCommand({ Bucket, Key }))), Key).toBe(
        '404 NoSuchKey',
      );
      expect(await status(local.s3.send(new GetObjectCommand({ Bucket, Key }))), Key).toBe('404 NoSuchKey');
      expect(await status(local.s3.send(new HeadObjectCommand({ Bucket, Key }))), Key).toBe('404 NotFound');
      expect(await status(local.s3.send(new DeleteObjectCommand({ Bucket, Key }))), Key).toBe(200);
    }
  });

  it('writes answer 400 KeyTooLongError, and the server keeps serving', async () => {
    const Key = `uploads/${'a'.repeat(300)}.jpg`;
    const put = await local.s3
      .send(new PutObjectCommand({ Bucket, Key, Body: 'x' }))
      .catch((err: Error) => err);
    expect(put).toMatchObject({ name: 'KeyTooLongError', $metadata: { httpStatusCode: 400 } });
    expect((put as Error).message).toContain('real S3 accepts it');
    expect(await status(local.s3.send(new GetObjectCommand({ Bucket, Key: 'uploads/dog.jpg' })))).toBe(200);
    expect(created).not.toContain(Key);
  });

  it('a key over 1,024 bytes is refused as S3 refuses it (KeyTooLongError); 1,024 bytes are stored', async () => {
    // Segments short enough for file names: only the key's total length is over.
    const keyOf = (bytes: number) => {
      const segments = Array.from({ length: 8 }, () => 'c'.repeat(120));
      return `uploads/${segments.join('/')}`.padEnd(bytes, 'd');
    };
    const over = await local.s3
      .send(new PutObjectCommand({ Bucket, Key: keyOf(1025), Body: 'x' }))
      .catch((err: Error) => err);
    expect(over).toMatchObject({ name: 'KeyTooLongError', $metadata: { httpStatusCode: 400 } });
    expect((over as Error).message).not.toContain('real S3 accepts it');
    expect(created).not.toContain(keyOf(1025));
    expect(await status(local.s3.send(new GetObjectCommand({ Bucket, Key: keyOf(1025) })))).toBe(
      '404 NoSuchKey',
    );
    expect(await status(local.s3.send(new PutObjectCommand({ Bucket, Key: keyOf(1024), Body: 'x' })))).toBe(
      200,
    );
  });

  it('the longest segment that fits is stored and read back', async () => {
    // 255 bytes less the suffix "._S3rver_metadata.json" (22 bytes).
    const Key = `uploads/${'b'.repeat(233)}`;
    expect(await status(local.s3.send(new PutObjectCommand({ Bucket, Key, Body: 'x' })))).toBe(200);
    expect(await status(local.s3.send(new GetObjectCommand({ Bucket, Key })))).toBe(200);
    expect(await status(local.s3.send(new PutObjectCommand({ Bucket, Key: `${Key}b`, Body: 'x' })))).toBe(
      '400 KeyTooLongError',
    );
  });
});
