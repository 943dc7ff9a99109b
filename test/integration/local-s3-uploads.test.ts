/**
 * What a browser gets from the bucket through the service's presigned requests, on the local S3:
 * the user's tags stored by the upload itself (presigned POST `tagging`, PUT `x-amz-tagging`), in
 * place when the object's event is emitted; the object's bytes whole by then, and a GET during an
 * overwrite reading the old bytes whole; and GET URLs that never serve markup as markup.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  GetObjectCommand,
  GetObjectTaggingCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { s3UploadSigner } from '../../src/aws/upload-signer.ts';
import { useLocalS3 } from '../helpers/local-s3.ts';

const BUCKET = 'uploads-local';
let s3: S3Client;
/** The object's tags at the moment its event was emitted. */
const tagsAtEvent = new Map<string, Promise<unknown>>();
/** The SHA-256 of the object's bytes read as its event was emitted. */
const bytesAtEvent = new Map<string, Promise<string>>();
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const bytesOf = async (key: string) =>
  sha256(
    await ((await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body?.transformToByteArray() ??
      new Uint8Array()),
  );

const tagsOf = async (key: string) =>
  (await s3.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: key }))).TagSet?.map((t) => [
    t.Key,
    t.Value,
  ]);

const local = useLocalS3([BUCKET], {
  onEvent: (event) => {
    for (const r of event.Records) {
      const key = decodeURIComponent(r.s3.object.key.replace(/\+/g, ' '));
      tagsAtEvent.set(key, tagsOf(key));
      bytesAtEvent.set(key, bytesOf(key));
    }
  },
});
beforeAll(() => {
  s3 = local.s3;
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
        { Key: 'album', Value: 'Été à Paris' },
        { Key: 'owner', Value: 'alice' },
      ],
    });
    const form = new FormData();
    for (const [name, value] of Object.entries(post.fields)) form.append(name, value);
    form.append('file', new Blob([new Uint8Array([0xff, 0xd8, 0xff])], { type: 'image/jpeg' }), 'cat.jpg');
    const res = await fetch(post.url, { method: 'POST', body: form });
    expect(res.status).toBe(204);
    const want = [
      ['album', 'Été à Paris'],
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

/** A form with the service's presigned fields (each possibly changed), then `file`. */
function formOf(
  fields: Record<string, string>,
  file: Uint8Array<ArrayBuffer>,
  type = 'image/jpeg',
): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append('file', new Blob([file], { type }), 'photo.jpg');
  return form;
}
/** The fields with some replaced or added (names compared without case, as S3 does). */
function replaced(fields: Record<string, string>, change: Record<string, string>): Record<string, string> {
  const lower = new Map(Object.keys(fields).map((k) => [k.toLowerCase(), k]));
  const out = { ...fields };
  for (const [name, value] of Object.entries(change)) out[lower.get(name.toLowerCase()) ?? name] = value;
  return out;
}
const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0]);

describe('local S3: an object is visible whole, as on S3', () => {
  // Several MB, as a phone photo: s3rver's own write was still flushing when it sent the event.
  const big = () => randomBytes(8 * 1024 * 1024);

  it('its event comes after every byte is stored (PUT and presigned POST)', async () => {
    const signer = s3UploadSigner(s3, BUCKET);
    for (let i = 0; i < 3; i++) {
      const put = big();
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `whole/put-${i}.jpg`, Body: put }));
      const posted = big();
      const grant = await signer.presignPost(`whole/post-${i}.jpg`, {
        maxBytes: 16 * 1024 * 1024,
        expiresSeconds: 300,
        contentType: 'image/jpeg',
      });
      const form = new FormData();
      for (const [name, value] of Object.entries(grant.fields)) form.append(name, value);
      form.append('file', new Blob([posted], { type: 'image/jpeg' }), 'photo.jpg');
      expect((await fetch(grant.url, { method: 'POST', body: form })).status).toBe(204);
      await expect.poll(() => bytesAtEvent.has(`whole/post-${i}.jpg`)).toBe(true);
      expect(await bytesAtEvent.get(`whole/put-${i}.jpg`)).toBe(sha256(put));
      expect(await bytesAtEvent.get(`whole/post-${i}.jpg`)).toBe(sha256(posted));
    }
  });

  it('a GET begun before an overwrite reads the old bytes whole; the next GET the new ones', async () => {
    const [before, after] = [big(), big()];
    const Key = 'whole/overwritten.jpg';
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body: before }));
    const reading = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key }));
    const body = reading.Body as unknown as AsyncIterable<Uint8Array>;
    const chunks: Uint8Array[] = [];
    const iterator = body[Symbol.asyncIterator]();
    const first = await iterator.next();
    if (!first.done) chunks.push(first.value);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body: after }));
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) chunks.push(next.value);
    expect(sha256(Buffer.concat(chunks))).toBe(sha256(before));
    expect(await bytesOf(Key)).toBe(sha256(after));
  });
});

describe("local S3: the service's POST policy is enforced as S3 enforces it", () => {
  const key = 'uploads/policy/photo.jpg';
  const grant = (options: Partial<Parameters<ReturnType<typeof s3UploadSigner>['presignPost']>[1]> = {}) =>
    s3UploadSigner(s3, BUCKET).presignPost(key, {
      maxBytes: 100,
      expiresSeconds: 60,
      contentType: 'image/jpeg',
      tagging: [{ Key: 'owner', Value: 'alice' }],
      ...options,
    });
  const post = async (url: string, form: FormData) => {
    const res = await fetch(url, { method: 'POST', body: form });
    const text = await res.text();
    return { status: res.status, code: /<Code>([^<]*)<\/Code>/.exec(text)?.[1], text };
  };
  const exists = async (k: string) => {
    const res = await fetch(`${local.server.endpoint}/${BUCKET}/${k}`, { method: 'HEAD' });
    return res.status === 200;
  };

  it('stores the form exactly as signed', async () => {
    const g = await grant();
    expect((await post(g.url, formOf(g.fields, JPEG))).status).toBe(204);
    expect(await exists(key)).toBe(true);
  });

  it.each([
    ['a changed key', { key: 'uploads/policy/other.jpg' }, 'AccessDenied'],
    ['a key outside the grant', { key: 'elsewhere/photo.jpg' }, 'AccessDenied'],
    ['Content-Type text/html', { 'Content-Type': 'text/html' }, 'AccessDenied'],
    [
      'a forged tagging field with tagger:status',
      { tagging: '<Tagging><TagSet><Tag><Key>tagger:status</Key><Value>ok</Value></Tag></TagSet></Tagging>' },
      'AccessDenied',
    ],
    ['a field the policy does not name', { acl: 'public-read' }, 'AccessDenied'],
    [
      'a changed policy',
      { policy: Buffer.from('{"expiration":"2999-01-01T00:00:00Z","conditions":[]}').toString('base64') },
      'SignatureDoesNotMatch',
    ],
    ['a wrong signature', { 'X-Amz-Signature': '0'.repeat(64) }, 'SignatureDoesNotMatch'],
  ])('refuses %s', async (_what, change, code) => {
    const g = await grant();
    const fields = replaced(g.fields, change);
    const res = await post(g.url, formOf(fields, JPEG));
    expect([res.status, res.code]).toEqual([403, code]);
    expect(await exists(fields.key as string)).toBe(key === fields.key && (await exists(key)));
  });

  it('refuses a form without a signature or without a policy', async () => {
    const g = await grant();
    const unsigned = Object.fromEntries(
      Object.entries(g.fields).filter(([k]) => !/^x-amz-signature$/i.test(k)),
    );
    expect((await post(g.url, formOf(unsigned, JPEG))).status).toBe(400);
    const bare = { key: 'uploads/policy/bare.jpg', 'Content-Type': 'image/jpeg' };
    expect(await post(g.url, formOf(bare, JPEG))).toMatchObject({ status: 403, code: 'AccessDenied' });
    expect(await exists('uploads/policy/bare.jpg')).toBe(false);
  });

  it('refuses a file over the range, an empty one, and an expired grant', async () => {
    const g = await grant({ key: 'uploads/policy/size.jpg' } as never);
    expect(await post(g.url, formOf(g.fields, new Uint8Array(101)))).toMatchObject({
      status: 400,
      code: 'EntityTooLarge',
    });
    expect(await post(g.url, formOf(g.fields, new Uint8Array(0)))).toMatchObject({
      status: 400,
      code: 'EntityTooSmall',
    });
    const expired = await s3UploadSigner(s3, BUCKET).presignPost('uploads/policy/late.jpg', {
      maxBytes: 100,
      expiresSeconds: -1,
      contentType: 'image/jpeg',
    });
    const late = await post(expired.url, formOf(expired.fields, JPEG));
    expect([late.status, late.code, late.text.includes('Policy expired')]).toEqual([
      403,
      'AccessDenied',
      true,
    ]);
    expect(await exists('uploads/policy/late.jpg')).toBe(false);
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
