/**
 * Presigned S3 requests for the browser (the S3 adapter of src/tagging/upload-signer.ts): a POST policy that lets the page put
 * one image straight into the upload bucket, and short-lived GET URLs for thumbnails. Both are signed
 * locally with the function's credentials; nothing here calls S3.
 *
 * The POST policy (what S3 enforces, whatever the browser sends):
 *   - the exact key (no other object can be written with it);
 *   - `content-length-range` 1..maxBytes (the tagger's own size check stays the guard where a server,
 *     like s3rver, does not enforce it);
 *   - `Content-Type` starting with `image/` (and equal to the one signed, when one is given);
 *   - the user's own tags (`tagging`), when given: exactly those, stored with the object, so they
 *     are there before the tagger runs (no PutObjectTagging afterwards to race with its write);
 *   - an expiry (`expiration`), about 5 minutes from now.
 *
 * Every presigned GET pins how S3 answers it (response-content-type and -disposition): a raster type
 * the tagger decodes is served inline as that type, anything else as an application/octet-stream
 * attachment. Whatever bytes an object holds and whatever Content-Type it was stored with, a URL
 * from this service never makes a browser render markup (an SVG with a script, an HTML page).
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost, type PresignedPostOptions } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Tag } from '../tagging/tags.ts';
import { RASTER_TYPES, type UploadSigner } from '../tagging/upload-signer.ts';

/** S3's XML tag set: the `tagging` field of a POST upload, and a PutObjectTagging body. */
export function taggingXml(tags: readonly Tag[]): string {
  const xml = (text: string) =>
    text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  const set = tags.map((t) => `<Tag><Key>${xml(t.Key)}</Key><Value>${xml(t.Value)}</Value></Tag>`).join('');
  return `<Tagging><TagSet>${set}</TagSet></Tagging>`;
}

/** What S3 answers a presigned GET with: `type` inline when it is a raster type, else a download. */
export function viewResponse(type: string | undefined) {
  return type !== undefined && RASTER_TYPES.has(type)
    ? { ResponseContentType: type, ResponseContentDisposition: 'inline' }
    : { ResponseContentType: 'application/octet-stream', ResponseContentDisposition: 'attachment' };
}

/** The conditions of the POST policy, besides those the presigner adds for each field and the key. */
export function uploadConditions(maxBytes: number): NonNullable<PresignedPostOptions['Conditions']> {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1)
    throw new RangeError(`maxBytes must be a positive integer, got ${maxBytes}`);
  return [
    ['content-length-range', 1, maxBytes],
    ['starts-with', '$Content-Type', 'image/'],
  ];
}

export function s3UploadSigner(s3: S3Client, bucket: string): UploadSigner {
  let origin: Promise<string> | undefined;
  const presignGet = (key: string, expiresSeconds: number, type?: string) =>
    getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key, ...viewResponse(type) }), {
      expiresIn: expiresSeconds,
    });
  return {
    async presignPost(key, { maxBytes, expiresSeconds, contentType, tagging }) {
      const now = Date.now();
      const { url, fields } = await createPresignedPost(s3, {
        Bucket: bucket,
        Key: key,
        Conditions: uploadConditions(maxBytes),
        Fields: {
          ...(contentType ? { 'Content-Type': contentType } : {}),
          ...(tagging?.length ? { tagging: taggingXml(tagging) } : {}),
        },
        Expires: expiresSeconds,
      });
      return { url, fields, expiresAt: new Date(now + expiresSeconds * 1000) };
    },
    presignGet,
    origin() {
      // The endpoint S3 resolves for this bucket (virtual-hosted on AWS, path-style on a local S3).
      origin ??= presignGet('origin-probe', 60).then(
        (u) => new URL(u).origin,
        (err: unknown) => {
          origin = undefined;
          throw err;
        },
      );
      return origin;
    },
  };
}
