/**
 * What a browser gets from the bucket through the service's presigned requests, on the local S3:
 * the user's tags stored by the upload itself (presigned POST `tagging`, PUT `x-amz-tagging`), in
 * place when the object's event is emitted; and GET URLs that never serve markup as markup.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectTaggingCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalS3, localS3Client, startLocalS3 } from '../../scripts/local/local-s3.ts';
import { s3UploadSigner } from '../../src/aws/upload-signer.ts';

const BUCKET = 'uploads-local';
let dir: string;
let server: LocalS3;
let s3: S3Client;
/** The object's tags at the moment its event was emitted. */
const tagsAtEvent = new Map<string, Promise<unknown>>();

const tagsOf = async (key: string) =>
  (await s3.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: key }))).TagSet?.map((t) => [
    t.Key,
    t.Value,
  ]);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'local-s3-uploads-'));
  server = await startLocalS3({
    directory: dir,
    buckets: [BUCKET],
    onEvent: (event: S3Event) => {
      for (const r of event.Records) {
        const key = decodeURIComponent(r.s3.object.key.replace(/\+/g, ' '));
        tagsAtEvent.set(key, tagsOf(key));
      }
    },
  });
  s3 = localS3Client(server.endpoint);
});
afterAll(async () => {
  s3?.destroy();
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('local S3: tags sent with the upload', () => {
  it('keeps the tagging field of a presigned POST, there before the event', async () => {
    const signer = s3UploadSigner(s3, BUCKET);
    const key = 'uploads/a/cat.jpg';
    const post = await signer.presignPost(key, {
      maxBytes: 1000,
      expiresSeconds: 60,
      contentType: 'image/jpeg',
      tagging: [
        { Key: 'album', Value: 'Été & co' },
        { Key: 'owner', Value: 'alice' },
      ],
    });
    const form = new FormData();
    for (const [name, value] of Object.entries(post.fields)) form.append(name, value);
    form.append('file', new Blob([new Uint8Array([0xff, 0xd8, 0xff])], { type: 'image/jpeg' }), 'cat.jpg');
    const res = await fetch(post.url, { method: 'POST', body: form });
    expect(res.status).toBe(204);
    const want = [
      ['album', 'Été & co'],
      ['owner', 'alice'],
    ];
    expect(await tagsOf(key)).toEqual(want);
    expect(await tagsAtEvent.get(key)).toEqual(want);
  });

  it("keeps a PUT's x-amz-tagging; an upload without tags has none", async () => {
    await s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: 'uploads/b/dog.jpg',
        Body: 'x',
        Tagging: 'a=1&b=two%20words',
      }),
    );
    expect(await tagsOf('uploads/b/dog.jpg')).toEqual([
      ['a', '1'],
      ['b', 'two words'],
    ]);
    expect(await tagsAtEvent.get('uploads/b/dog.jpg')).toEqual([
      ['a', '1'],
      ['b', 'two words'],
    ]);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'uploads/c/plain.jpg', Body: 'x' }));
    expect(await tagsOf('uploads/c/plain.jpg')).toEqual([]);
  });
});

describe('local S3: presigned GET URLs', () => {
  it('serve an SVG stored under an image name as a download, and a raster type inline', async () => {
    const key = 'uploads/d/evil.jpg';
    const svg = '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>';
    await s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: svg, ContentType: 'image/svg+xml' }),
    );
    const signer = s3UploadSigner(s3, BUCKET);
    const download = await fetch(await signer.presignGet(key, 60));
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('application/octet-stream');
    expect(download.headers.get('content-disposition')).toBe('attachment');
    expect(await download.text()).toBe(svg);
    const inline = await fetch(await signer.presignGet(key, 60, 'image/jpeg'));
    expect(inline.headers.get('content-type')).toBe('image/jpeg');
    expect(inline.headers.get('content-disposition')).toBe('inline');
    await inline.arrayBuffer();
  });
});
