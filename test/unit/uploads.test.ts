/**
 * The S3 upload signer with the real AWS SDK presigners (signing is local: no S3 is called). The POST
 * policy is what S3 enforces, and s3rver does not enforce content-length-range, so the policy is
 * tested by decoding and reading it, and its signature is recomputed here with SigV4's own steps.
 */

import { createHmac } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { s3UploadSigner, uploadConditions } from '../../src/aws/upload-signer.ts';
import { createApi } from '../../src/http/api.ts';
import { taggerSettings } from '../../src/settings.ts';
import { fakeClassifier, MemoryStore } from '../helpers/fakes.ts';

const credentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};
const region = 'eu-west-1';
const aws = () => new S3Client({ region, credentials });
const local = () =>
  new S3Client({ region: 'us-east-1', credentials, endpoint: 'http://127.0.0.1:4569', forcePathStyle: true });

const MiB = 1024 * 1024;

interface Policy {
  expiration: string;
  conditions: unknown[];
}
const decodePolicy = (fields: Record<string, string>): Policy =>
  JSON.parse(Buffer.from(fields.Policy ?? '', 'base64').toString('utf8'));

/** SigV4 for a POST policy: HMAC chain date/region/s3/aws4_request, then HMAC of the base64 policy. */
function policySignature(policy: string, date: string, secret: string, signingRegion: string): string {
  const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
  const key = ['s3', 'aws4_request'].reduce(
    (k, part) => hmac(k, part),
    hmac(hmac(`AWS4${secret}`, date), signingRegion),
  );
  return createHmac('sha256', key).update(policy).digest('hex');
}

describe('s3UploadSigner: presigned POST policy', () => {
  it('signs exactly the key, 1..maxBytes, image/* and a 5-minute expiry', async () => {
    const signer = s3UploadSigner(aws(), 'photos');
    const before = Date.now();
    const post = await signer.presignPost('uploads/0b5e/cat.jpg', {
      maxBytes: 25 * MiB,
      expiresSeconds: 300,
      contentType: 'image/jpeg',
    });
    expect(post.url).toBe('https://photos.s3.eu-west-1.amazonaws.com/');
    const { fields } = post;
    expect(fields).toMatchObject({
      key: 'uploads/0b5e/cat.jpg',
      'Content-Type': 'image/jpeg',
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
    });
    const policy = decodePolicy(fields);
    expect(policy.conditions).toEqual(
      expect.arrayContaining([
        ['content-length-range', 1, 25 * MiB],
        ['starts-with', '$Content-Type', 'image/'],
        { 'Content-Type': 'image/jpeg' },
        { key: 'uploads/0b5e/cat.jpg' },
        { bucket: 'photos' },
      ]),
    );
    // Nothing in the policy lets another key or a larger file through.
    expect(JSON.stringify(policy.conditions)).not.toMatch(/"starts-with","\$key"/);
    expect(policy.conditions.filter((c) => Array.isArray(c) && c[0] === 'content-length-range')).toHaveLength(
      1,
    );
    const expires = Date.parse(policy.expiration);
    expect(expires).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 300_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 300_000);
    expect(Math.abs(post.expiresAt.getTime() - expires)).toBeLessThan(2000);
    // The signature is of this very policy, with the credential scope the fields name.
    const date = fields['X-Amz-Date']?.slice(0, 8) ?? '';
    expect(fields['X-Amz-Credential']).toBe(`${credentials.accessKeyId}/${date}/${region}/s3/aws4_request`);
    expect(fields['X-Amz-Signature']).toBe(
      policySignature(fields.Policy ?? '', date, credentials.secretAccessKey, region),
    );
  });

  it("signs the user's tags as the exact tagging field, S3's XML tag set", async () => {
    const signer = s3UploadSigner(aws(), 'photos');
    const tagging = [
      { Key: 'album', Value: 'a & b <c>' },
      { Key: 'owner', Value: 'alice' },
    ];
    const post = await signer.presignPost('uploads/x/a.jpg', { maxBytes: 10, expiresSeconds: 60, tagging });
    const xml =
      '<Tagging><TagSet><Tag><Key>album</Key><Value>a &amp; b &lt;c&gt;</Value></Tag>' +
      '<Tag><Key>owner</Key><Value>alice</Value></Tag></TagSet></Tagging>';
    expect(post.fields.tagging).toBe(xml);
    expect(decodePolicy(post.fields).conditions).toContainEqual({ tagging: xml });
    const none = await signer.presignPost('uploads/x/b.jpg', {
      maxBytes: 10,
      expiresSeconds: 60,
      tagging: [],
    });
    expect(none.fields).not.toHaveProperty('tagging');
  });

  it('signs the size that it is given, and refuses a size that is not a positive integer', async () => {
    const signer = s3UploadSigner(aws(), 'photos');
    const post = await signer.presignPost('uploads/x/a.png', { maxBytes: 1234, expiresSeconds: 60 });
    expect(decodePolicy(post.fields).conditions).toContainEqual(['content-length-range', 1, 1234]);
    expect(post.fields).not.toHaveProperty('Content-Type');
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => uploadConditions(bad)).toThrow(RangeError);
  });
});

describe('s3UploadSigner: presigned GET and origin', () => {
  it('on AWS: virtual-hosted URLs, the origin the POST goes to', async () => {
    const signer = s3UploadSigner(aws(), 'photos');
    const url = new URL(await signer.presignGet('uploads/a b/cat.jpg', 900));
    expect(url.origin).toBe('https://photos.s3.eu-west-1.amazonaws.com');
    expect(url.pathname).toBe('/uploads/a%20b/cat.jpg');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('900');
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    const post = await signer.presignPost('uploads/x/a.jpg', { maxBytes: 10, expiresSeconds: 300 });
    expect(await signer.origin()).toBe(new URL(post.url).origin);
    expect(await signer.origin()).toBe('https://photos.s3.eu-west-1.amazonaws.com');
  });

  it('pins the response type and disposition: a raster type inline, anything else an octet-stream download', async () => {
    const signer = s3UploadSigner(aws(), 'photos');
    const params = async (type?: string) => {
      const url = new URL(await signer.presignGet('uploads/x/cat.jpg', 60, type));
      return [
        url.searchParams.get('response-content-type'),
        url.searchParams.get('response-content-disposition'),
      ];
    };
    expect(await params('image/jpeg')).toEqual(['image/jpeg', 'inline']);
    expect(await params('image/png')).toEqual(['image/png', 'inline']);
    for (const type of [undefined, 'image/svg+xml', 'text/html', 'image/jpeg; x=1'])
      expect(await params(type)).toEqual(['application/octet-stream', 'attachment']);
  });

  it('on a local S3: path-style URLs on its endpoint', async () => {
    const signer = s3UploadSigner(local(), 'photos');
    expect(await signer.origin()).toBe('http://127.0.0.1:4569');
    const post = await signer.presignPost('uploads/x/a.jpg', { maxBytes: 10, expiresSeconds: 300 });
    expect(post.url).toBe('http://127.0.0.1:4569/photos');
    expect(new URL(await signer.presignGet('uploads/x/a.jpg', 60)).pathname).toBe('/photos/uploads/x/a.jpg');
  });
});

describe('POST /uploads with the real signer', () => {
  it("grants a policy whose size limit is the classifier's image limit and whose key is the one answered", async () => {
    const classifier = fakeClassifier({ maxBytes: 12 * MiB });
    const api = createApi({
      classifier,
      images: {
        bucket: 'photos',
        ...taggerSettings({}),
        index: { search: async () => ({ items: [] }), get: async () => undefined },
        store: new MemoryStore(),
        signer: s3UploadSigner(aws(), 'photos'),
      },
    });
    const res = await api({
      rawPath: '/uploads',
      requestContext: { http: { method: 'POST' } },
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ filename: 'IMG_0001.HEIC.jpg', contentType: 'image/jpeg', size: 9 * MiB }),
      isBase64Encoded: false,
    } as unknown as APIGatewayProxyEventV2);
    expect(res.statusCode).toBe(200);
    const grant = JSON.parse(res.body);
    expect(grant.maxBytes).toBe(12 * MiB);
    expect(grant.url).toBe('https://photos.s3.eu-west-1.amazonaws.com/');
    const policy = decodePolicy(grant.fields);
    expect(policy.conditions).toContainEqual(['content-length-range', 1, 12 * MiB]);
    expect(policy.conditions).toContainEqual({ key: grant.key });
    expect(grant.key).toMatch(/^uploads\/[0-9a-f-]{36}\/IMG_0001.HEIC.jpg$/);
    const ttl = Date.parse(policy.expiration) - Date.now();
    expect(ttl).toBeGreaterThan(290_000);
    expect(ttl).toBeLessThanOrEqual(300_000);
    expect(Date.parse(grant.expiresAt)).toBeGreaterThan(Date.now() + 290_000);
  });
});
