/**
 * The S3 adapter of the ObjectStore port (src/tagging/object-store.ts): one GetObject bounded by a
 * Range (it also tells the object's full size and ETag), GetObjectTagging, PutObjectTagging; no
 * HeadObject. Not-found answers become ObjectMissingError, a failed If-Match ObjectChangedError.
 */
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  GetObjectTaggingCommand,
  PutObjectTaggingCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { bareEtag } from '../tagging/label-index.ts';
import { ObjectChangedError, ObjectMissingError, type ObjectStore } from '../tagging/object-store.ts';

const status = (err: unknown) =>
  (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
const isNotFound = (err: unknown): boolean => {
  const name = (err as { name?: string })?.name;
  return name === 'NoSuchKey' || name === 'NotFound' || status(err) === 404;
};
const isPreconditionFailed = (err: unknown): boolean =>
  (err as { name?: string })?.name === 'PreconditionFailed' || status(err) === 412;
/** A Range on an empty object is not satisfiable (416): the object is empty. */
const isEmptyRange = (err: unknown): boolean =>
  (err as { name?: string })?.name === 'InvalidRange' || status(err) === 416;

/** "bytes 0-99/1234" -> 1234; undefined when absent or unknown ("*"). */
export function totalFromContentRange(contentRange: string | undefined): number | undefined {
  const m = /\/(\d+)\s*$/.exec(contentRange ?? '');
  return m ? Number(m[1]) : undefined;
}

/** Reads a body stream up to `max` bytes and stops it there (a server that ignores Range costs no more). */
async function readAtMost(body: AsyncIterable<Uint8Array> & { destroy?: () => void }, max: number) {
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of body) {
    const room = max - length;
    chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
    length += Math.min(chunk.length, room);
    if (length >= max) break;
  }
  body.destroy?.();
  return Buffer.concat(chunks, length);
}

export function s3ObjectStore(s3: S3Client): ObjectStore {
  async function call<T>(bucket: string, key: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (isNotFound(err)) throw new ObjectMissingError(bucket, key);
      throw err;
    }
  }
  return {
    get: (Bucket, Key, { maxBytes, ranged = true, ifMatch }) =>
      call(Bucket, Key, async () => {
        const max = Math.max(1, Math.floor(maxBytes));
        const Range = ranged ? `bytes=0-${max - 1}` : undefined;
        const wanted = bareEtag(ifMatch);
        const IfMatch = wanted === undefined ? undefined : `"${wanted}"`;
        let object: GetObjectCommandOutput;
        try {
          object = await s3.send(new GetObjectCommand({ Bucket, Key, Range, IfMatch }));
        } catch (err) {
          if (wanted !== undefined && isPreconditionFailed(err))
            throw new ObjectChangedError(Bucket, Key, wanted);
          if (isEmptyRange(err)) return { bytes: new Uint8Array(0), size: 0 };
          throw err;
        }
        if (wanted !== undefined && object.ETag !== undefined && bareEtag(object.ETag) !== wanted) {
          (object.Body as { destroy?: () => void } | undefined)?.destroy?.();
          throw new ObjectChangedError(Bucket, Key, wanted);
        }
        if (!object.Body) throw new Error(`GetObject s3://${Bucket}/${Key} returned no body`);
        const bytes = await readAtMost(object.Body as unknown as AsyncIterable<Uint8Array>, max);
        const size = totalFromContentRange(object.ContentRange) ?? object.ContentLength ?? bytes.length;
        return {
          bytes,
          size: Math.max(size, bytes.length),
          etag: object.ETag,
          ...(object.LastModified ? { lastModified: object.LastModified } : {}),
        };
      }),
    getTags: (Bucket, Key) =>
      call(Bucket, Key, async () => {
        const current = await s3.send(new GetObjectTaggingCommand({ Bucket, Key }));
        return (current.TagSet ?? []).map((t) => ({ Key: t.Key ?? '', Value: t.Value ?? '' }));
      }),
    putTags: (Bucket, Key, TagSet) =>
      call(Bucket, Key, async () => {
        await s3.send(new PutObjectTaggingCommand({ Bucket, Key, Tagging: { TagSet } }));
      }),
  };
}
