/**
 * A real local S3 (s3rver, the server behind serverless-s3-local) on loopback, with its event
 * stream turned into AWS-shaped S3 notifications: s3rver reports raw keys, AWS URL-encodes them
 * with '+' for spaces, so keys are re-encoded here exactly as S3 does before anyone sees the event.
 * Used by `npm start` and by the integration tests.
 */
import { createCipheriv, createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { S3Client } from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';
import busboy from 'busboy';
import { taggingXml } from '../../src/aws/upload-signer.ts';
import { encodeS3Key, type Tag } from '../../src/tagging/tags.ts';
import { checkPostPolicy } from './post-policy.ts';
import { tagSetProblem } from './tag-rules.ts';

/** The parts of s3rver's Koa context that the hooks here read. */
interface S3rverContext {
  method: string;
  /** Path-style (s3rver's vhost middleware has rewritten virtual-hosted requests): /<bucket>[/<key>]. */
  path: string;
  query: Record<string, unknown>;
  status: number;
  params?: { bucket?: string };
  body: unknown;
  headers: Record<string, unknown>;
  ip: string;
  req: NodeJS.ReadableStream;
  store: S3rverStore;
}
/** The part of s3rver's store the upload-tagging hook wraps. */
type Middleware = (ctx: S3rverContext, next: () => Promise<void>) => Promise<void>;

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  on(event: 'event', listener: (event: S3Event) => void): void;
  emit(event: 'event', payload: S3Event): boolean;
  /** Koa's middleware stack (s3rver is a Koa app; its router is the last entry). */
  middleware: Middleware[];
  store: S3rverStore;
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverInstance;
type S3rverEventClass = new (
  data: { bucket: string; eventType: 'Delete'; S3Item: { key: string } },
  request: { reqHeaders: Record<string, unknown>; sourceIp: string },
) => S3Event;

/** s3rver comes with serverless-s3-local; resolve it from there rather than relying on hoisting. */
function s3rverRequire(): NodeJS.Require {
  const require = createRequire(import.meta.url);
  try {
    require.resolve('s3rver');
    return require;
  } catch {
    return createRequire(require.resolve('serverless-s3-local'));
  }
}
function loadS3rver(): S3rverClass {
  return s3rverRequire()('s3rver') as S3rverClass;
}

/**
 * The bucket CORS configuration that lets pages from these origins POST uploads (presigned POST)
 * to the bucket and GET (or HEAD) its objects: the local twin of the stack's CorsConfiguration.
 */
export function corsConfigXml(origins: readonly string[], maxAgeSeconds = 3600): string {
  const xml = (text: string) =>
    text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  const allowed = origins.map((o) => `<AllowedOrigin>${xml(o)}</AllowedOrigin>`).join('');
  const methods = ['POST', 'GET', 'HEAD'].map((m) => `<AllowedMethod>${m}</AllowedMethod>`).join('');
  return `<CORSConfiguration><CORSRule>${allowed}${methods}<MaxAgeSeconds>${maxAgeSeconds}</MaxAgeSeconds></CORSRule></CORSConfiguration>`;
}

/**
 * s3rver reports no event for DeleteObjects (the multi-object delete, what `aws s3 rm --recursive`
 * and most SDK bulk deletes send); S3 notifies ObjectRemoved:Delete for each key. This hook sits
 * in front of s3rver's router and emits one event per deleted key, built by s3rver's own event model.
 */
function emitMultiDeleteEvents(server: S3rverInstance): void {
  const S3rverEvent = s3rverRequire()('s3rver/lib/models/event') as S3rverEventClass;
  const hook: Middleware = async (ctx, next) => {
    await next();
    if (ctx.method !== 'POST' || !('delete' in ctx.query) || ctx.status !== 200) return;
    const bucket = ctx.params?.bucket;
    const deleted = (ctx.body as { DeleteResult?: { Deleted?: { Key: string }[] } } | undefined)?.DeleteResult
      ?.Deleted;
    if (!bucket || !deleted) return;
    for (const { Key } of deleted)
      server.emit(
        'event',
        new S3rverEvent(
          { bucket, eventType: 'Delete', S3Item: { key: Key } },
          { reqHeaders: ctx.headers, sourceIp: ctx.ip },
        ),
      );
  };
  server.middleware.splice(server.middleware.length - 1, 0, hook);
}

/** An S3 error answered as S3 does (XML body, status), also for codes s3rver's table lacks. */
function s3Error(status: number, code: string, message: string, detail?: Record<string, string>): Error {
  const S3Error = s3rverRequire()('s3rver/lib/models/error') as S3rverErrorClass;
  return Object.assign(new S3Error(code, message, detail), { status, expose: true });
}

/** The tag set a Tagging XML document holds (the POST form's `tagging`, a PutObjectTagging body). */
function parseTaggingXml(xml: string): Tag[] {
  const require = s3rverRequire();
  const parser = require('fast-xml-parser') as {
    validate(xml: string): true | object;
    parse(xml: string, options: object): { Tagging?: { TagSet?: { Tag?: unknown } | '' } };
  };
  const he = require('he') as { decode(text: string): string };
  if (parser.validate(xml) !== true)
    throw s3Error(
      400,
      'MalformedXML',
      'The XML you provided was not well-formed or did not validate against our published schema',
    );
  const doc = parser.parse(xml, { parseNodeValue: false, tagValueProcessor: (v: string) => he.decode(v) });
  const set = doc.Tagging?.TagSet;
  if (set === undefined)
    throw s3Error(
      400,
      'MalformedXML',
      'The XML you provided was not well-formed or did not validate against our published schema',
    );
  const list = set === '' || set.Tag === undefined ? [] : Array.isArray(set.Tag) ? set.Tag : [set.Tag];
  return list.map((t: { Key?: unknown; Value?: unknown }) => ({
    Key: t?.Key === undefined ? '' : String(t.Key),
    Value: t?.Value === undefined ? '' : String(t.Value),
  }));
}

/** Throws S3's 400 InvalidTag when the tag set breaks one of S3's rules (tag-rules.ts). */
function checkTags(tags: Tag[]): Tag[] {
  const problem = tagSetProblem(tags);
  if (problem) throw s3Error(400, 'InvalidTag', problem);
  return tags;
}

/** The tag set as stored: S3's XML, written as is (s3rver's model turned "007" into 7). */
const taggingResource = (tags: readonly Tag[]): S3rverSubresource => ({
  type: 'tagging',
  toXML: () => taggingXml(tags),
});

/** The request's body, read whole (bounded by the caller), and a stream that replays it for s3rver. */
async function readBody(req: NodeJS.ReadableStream, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max)
      throw s3Error(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * S3's rules for the tags of an object, which s3rver lacks:
 *   - the tags sent with an upload (a PUT's `x-amz-tagging` header, URL-encoded; a POST form's
 *     `tagging` field, XML) are stored with the object before its event is sent (s3rver drops
 *     both): the store's putObject is wrapped for that request so the tag set is written right
 *     after the object and before s3rver emits the event;
 *   - a new version has only the tags sent with it: an upload (PUT, POST, CompleteMultipartUpload)
 *     without tags leaves none (s3rver kept the previous version's); a CopyObject copies the
 *     source's tags, or takes the request's with `x-amz-tagging-directive: REPLACE`;
 *   - every tag set (these, and PutObjectTagging's) is checked against S3's rules: 400 InvalidTag
 *     (tag-rules.ts), nothing stored;
 *   - GetObjectTagging answers the stored XML as it was written (s3rver re-parsed it, making "007" 7).
 */
function s3TaggingRules(server: S3rverInstance): void {
  const store = server.store;
  const { getSubresource } = store;
  store.getSubresource = async (bucket, key, type) => {
    if (type !== 'tagging') return getSubresource.call(store, bucket, key, type);
    try {
      const xml = await readFile(store.getResourcePath(bucket, key ?? '', 'tagging.xml'), 'utf8');
      return { type, toXML: () => xml };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  };
  const hook: Middleware = async (ctx, next) => {
    const onObject = /^\/[^/]+\/./.test(ctx.path);
    const query = Object.keys(ctx.query);
    // Not a subresource (?tagging, ?uploadId...): the SDK's x-id and a presigned URL's X-Amz-* are fine.
    const noQuery = query.every((k) => /^(x-id|x-amz-.*)$/i.test(k));
    const header = ctx.headers['x-amz-tagging'];
    const headerTags = () =>
      typeof header === 'string'
        ? checkTags([...new URLSearchParams(header)].map(([Key, Value]) => ({ Key, Value })))
        : undefined;

    if (ctx.method === 'PUT' && onObject && query.includes('tagging')) {
      const xml = (await readBody(ctx.req, 1024 * 1024)).toString('utf8');
      const tags = checkTags(parseTaggingXml(xml));
      ctx.req = Readable.from([Buffer.from(xml)]) as unknown as NodeJS.ReadableStream;
      ctx.store = Object.create(store, {
        putSubresource: {
          value: (bucket: string, key: string) => store.putSubresource(bucket, key, taggingResource(tags)),
        },
      });
      return next();
    }

    let tagging: Tag[] | undefined;
    const plainPut = ctx.method === 'PUT' && onObject && noQuery;
    const formPost = ctx.method === 'POST' && !onObject && noQuery;
    const completeUpload = ctx.method === 'POST' && onObject && query.includes('uploadId');
    if (plainPut) tagging = headerTags();
    if (formPost) {
      // s3rver pipes the request into busboy; the fields come before the file, so before putObject.
      const pipe = ctx.req.pipe.bind(ctx.req);
      ctx.req.pipe = ((parser: NodeJS.WritableStream & NodeJS.EventEmitter) => {
        parser.on('field', (name: string, value: string) => {
          if (name === 'tagging') tagging = parseTaggingXml(value);
        });
        return pipe(parser);
      }) as typeof ctx.req.pipe;
    }
    if (!(plainPut || formPost || completeUpload)) return next();
    const setTags = async (bucket: string, key: string, tags: readonly Tag[] | undefined) => {
      if (tags === undefined) await store.deleteSubresource(bucket, key, 'tagging');
      else await store.putSubresource(bucket, key, taggingResource(checkTags([...tags])));
    };
    ctx.store = Object.create(store, {
      putObject: {
        value: async (object: { bucket: string; key: string }) => {
          // A form's tags are checked before the object is stored (the fields come first).
          if (tagging) checkTags(tagging);
          const stored = await store.putObject(object);
          await setTags(object.bucket, object.key, tagging);
          return stored;
        },
      },
      copyObject: {
        value: async (
          srcBucket: string,
          srcKey: string,
          destBucket: string,
          destKey: string,
          ...rest: unknown[]
        ) => {
          const replace =
            String(ctx.headers['x-amz-tagging-directive'] ?? 'COPY').toUpperCase() === 'REPLACE';
          const source = replace ? undefined : await store.getSubresource(srcBucket, srcKey, 'tagging');
          const copied = await store.copyObject(srcBucket, srcKey, destBucket, destKey, ...rest);
          if (source) await store.putSubresource(destBucket, destKey, source);
          else await setTags(destBucket, destKey, replace ? tagging : undefined);
          return copied;
        },
      },
    });
    return next();
  };
  server.middleware.splice(server.middleware.length - 1, 0, hook);
}

/** The largest form the local S3 reads whole to check its policy (S3's own POST limit is 5 GB). */
export const MAX_LOCAL_POST_BYTES = 64 * 1024 * 1024;

/**
 * S3 stores a browser-based upload (POST with a form) only when its policy allows it and its
 * signature is right; s3rver stored any form. This hook reads the form (up to
 * MAX_LOCAL_POST_BYTES), checks it as S3 does (post-policy.ts: signature V4 with the local
 * credentials, expiry, every condition, no field the policy does not name, the file's size) and
 * answers S3's error, or hands the same bytes on to s3rver.
 */
function enforcePostPolicy(server: S3rverInstance): void {
  const { registry } = s3rverRequire()('s3rver/lib/models/account') as {
    registry: Map<string, { accessKeys: Map<string, string> }>;
  };
  const secretOf = (id: string) => registry.get(id)?.accessKeys.get(id);
  const hook: Middleware = async (ctx, next) => {
    const bucket = /^\/([^/]+)\/?$/.exec(ctx.path)?.[1];
    const form = String(ctx.headers['content-type'] ?? '')
      .toLowerCase()
      .startsWith('multipart/form-data');
    if (ctx.method !== 'POST' || bucket === undefined || !form || Object.keys(ctx.query).length > 0)
      return next();
    const body = await readBody(ctx.req, MAX_LOCAL_POST_BYTES);
    const fields = new Map<string, string>();
    let fileSize = -1;
    await new Promise<void>((resolve, reject) => {
      const parser = busboy({
        headers: ctx.headers as Record<string, string>,
        limits: { fieldSize: 1024 * 1024 },
      });
      parser.on('field', (name, value) => {
        if (fileSize < 0 && !fields.has(name.toLowerCase())) fields.set(name.toLowerCase(), value);
      });
      parser.on('file', (name, stream) => {
        if (name !== 'file' || fileSize >= 0) return stream.resume();
        fileSize = 0;
        stream.on('data', (chunk: Buffer) => {
          fileSize += chunk.length;
        });
      });
      parser.on('close', resolve);
      parser.on('error', (err: Error) =>
        reject(
          s3Error(
            400,
            'MalformedPOSTRequest',
            `The body of your POST request is not well-formed multipart/form-data: ${err.message}`,
          ),
        ),
      );
      parser.end(body);
    });
    if (fileSize >= 0) {
      const failure = checkPostPolicy(fields, fileSize, decodeURIComponent(bucket), secretOf);
      if (failure) throw s3Error(failure.status, failure.code, failure.message);
    }
    // s3rver answers a form without a file (400 InvalidArgument) itself.
    ctx.req = Object.assign(Readable.from([body]), {
      headers: ctx.headers,
    }) as unknown as NodeJS.ReadableStream;
    return next();
  };
  server.middleware.splice(server.middleware.length - 1, 0, hook);
}

/**
 * S3 keys may hold empty segments ("a//b", "/a"); s3rver's router matches none of them and
 * answered a bare "Not Found" text that the SDK cannot parse, and its store (a directory per
 * segment) could not keep them apart from "a/b". Locally such an object cannot exist: reads answer
 * as for any missing key (404 NoSuchKey, in XML), deletes do nothing (204), writes 400
 * KeyNotSupportedLocally naming the local limit.
 */
function answerEmptySegmentKeys(server: S3rverInstance): void {
  const hook: Middleware = async (ctx, next) => {
    const match = /^\/[^/]+\/(.*)$/.exec(ctx.path);
    const key = match?.[1];
    if (key === undefined || !(key.startsWith('/') || key.includes('//'))) return next();
    if (ctx.method === 'DELETE') {
      ctx.status = 204;
      return;
    }
    if (ctx.method === 'GET' || ctx.method === 'HEAD')
      throw s3Error(404, 'NoSuchKey', 'The specified key does not exist.', { Key: safeDecode(key) });
    throw s3Error(
      400,
      'KeyNotSupportedLocally',
      'The local S3 (s3rver) stores each key segment as a directory: a key with an empty segment ("//" or a leading "/") cannot be stored here (real S3 accepts it)',
      { Key: safeDecode(key) },
    );
  };
  server.middleware.splice(server.middleware.length - 1, 0, hook);
}

const safeDecode = (text: string) => {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
};

/** A bucket or object configuration s3rver stores beside the object (its tagging, for one). */
interface S3rverSubresource {
  type: string;
  toXML(indent: number): string;
}

/** The parts of s3rver's filesystem store that this file uses or wraps. */
interface S3rverStore {
  getResourcePath(bucket: string, key: string, resource: string): string;
  putSubresource(
    bucket: string,
    key: string,
    resource: { type: string; toXML(indent: number): string },
  ): Promise<void>;
  getSubresource(bucket: string, key: string | undefined, type: string): Promise<S3rverSubresource | null>;
  deleteSubresource(bucket: string, key: string, type: string): Promise<void>;
  existsObject(bucket: string, key: string): Promise<boolean>;
  getObject(bucket: string, key: string, options?: unknown): Promise<unknown>;
  putObject(object: {
    bucket: string;
    key: string;
    content?: NodeJS.ReadableStream | Buffer;
    metadata?: Record<string, string>;
  }): Promise<unknown>;
  putMetadata(bucket: string, key: string, metadata: unknown, md5?: string): Promise<void>;
  copyObject(
    srcBucket: string,
    srcKey: string,
    destBucket: string,
    destKey: string,
    ...rest: unknown[]
  ): Promise<unknown>;
  initiateUpload(bucket: string, key: string, ...rest: unknown[]): Promise<unknown>;
}
type S3rverErrorClass = new (code: string, message: string, detail?: Record<string, string>) => Error;

/**
 * S3 replaces an object's tag set atomically. s3rver writes it with fs.writeFile (truncate, then
 * write), so a GetObjectTagging in between read an empty set, and the tagger, merging its tags with
 * "no user tags", wrote the user's tags away. Written to a temporary file and renamed, a reader sees
 * the old set or the new one.
 */
/**
 * A temporary file in `path`'s folder (a rename within it is atomic), with a short name: the final
 * name may already be as long as the file system allows (refuseKeysTooLongForDisk).
 */
const temporaryBeside = (path: string) => join(dirname(path), `.${randomUUID()}.tmp`);

function writeSubresourcesAtomically(store: S3rverStore): void {
  store.putSubresource = async (bucket, key, resource) => {
    const path = store.getResourcePath(bucket, key, `${resource.type}.xml`);
    const temporary = temporaryBeside(path);
    await writeFile(temporary, resource.toXML(2));
    await rename(temporary, path);
  };
}

/**
 * S3 makes an object visible whole, once its bytes are stored, and a GET of a replaced object reads
 * the old bytes or the new ones. s3rver's putObject resolved when its input ended, before its file
 * was flushed, and rewrote files in place: the object's event could reach a reader of a half-written
 * file (the tagger read a truncated JPEG, CorruptImage, or waited on a body shorter than its
 * Content-Length), and a GET during an overwrite was cut off. The bytes go to a temporary file that
 * is renamed over the old one once written, then the metadata the same way, so a reader sees the
 * object before or after the write (only between the two renames can a reader of a replaced object
 * see the new bytes with the old metadata).
 */
function writeObjectsAtomically(store: S3rverStore): void {
  const { putMetadata } = store;
  const renameInto = async (write: (temporary: string) => Promise<void>, path: string) => {
    const temporary = temporaryBeside(path);
    try {
      await write(temporary);
      await rename(temporary, path);
    } catch (err) {
      await rm(temporary, { force: true });
      throw err;
    }
  };
  store.putMetadata = async (bucket, key, metadata, md5) => {
    const written = new Map<string, string>();
    // s3rver's own writer (it picks the metadata S3 keeps), pointed at temporary names.
    const temporaries = Object.create(store, {
      getResourcePath: {
        value: (b: string, k: string, resource: string) => {
          const path = store.getResourcePath(b, k, resource);
          const temporary = temporaryBeside(path);
          written.set(path, temporary);
          return temporary;
        },
      },
    }) as S3rverStore;
    try {
      await putMetadata.call(temporaries, bucket, key, metadata, md5);
    } catch (err) {
      await Promise.all([...written.values()].map((temporary) => rm(temporary, { force: true })));
      throw err;
    }
    // The MD5 (the ETag) before the metadata, which readers open first.
    const last = ([path]: [string, string]) => path.endsWith('metadata.json');
    const entries = [...written];
    for (const [path, temporary] of [...entries.filter((e) => !last(e)), ...entries.filter(last)])
      await rename(temporary, path);
  };
  store.putObject = async (object) => {
    const path = store.getResourcePath(object.bucket, object.key, 'object');
    await mkdir(dirname(path), { recursive: true });
    const md5 = createHash('md5');
    let size = 0;
    const content = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : object.content;
    if (!content) throw new Error(`no content for ${object.key}`);
    await renameInto(
      (temporary) =>
        pipeline(
          content,
          new Transform({
            transform(chunk: Buffer, _encoding, done) {
              md5.update(chunk);
              size += chunk.length;
              done(null, chunk);
            },
          }),
          createWriteStream(temporary),
        ),
      path,
    );
    const digest = md5.digest('hex');
    await store.putMetadata(object.bucket, object.key, object.metadata, digest);
    return { size, md5: digest };
  };
}

/** A file name's limit on Linux and macOS file systems, in bytes. */
const NAME_MAX = 255;
/** S3's limit on a key, in UTF-8 bytes (it answers KeyTooLongError past it). */
const KEY_MAX = 1024;

/**
 * s3rver stores a key as a path (each `/`-separated segment a directory or file name, the last one
 * with a `._S3rver_metadata.json` suffix), so a segment over about 233 bytes exceeds the file system's
 * 255-byte names: reads failed with InternalError (500) and a PUT crashed the process with an
 * unhandled ENAMETOOLONG. Real S3 keys may have segments of any length (up to 1,024 bytes in all).
 * Locally such an object cannot exist, so reads answer as for any missing key (404 NoSuchKey),
 * deletes do nothing, and writes answer 400 KeyTooLongError naming the local limit. A key over
 * S3's own 1,024 bytes is refused the same way (s3rver took it, where S3 refuses it).
 */
function refuseKeysTooLongForDisk(store: S3rverStore): void {
  const S3Error = s3rverRequire()('s3rver/lib/models/error') as S3rverErrorClass;
  const fits = (bucket: string, key: string) =>
    Buffer.byteLength(key) <= KEY_MAX &&
    store
      .getResourcePath(bucket, key, 'metadata.json')
      .split('/')
      .every((name) => Buffer.byteLength(name) <= NAME_MAX);
  const refuse = (key: string) =>
    new S3Error(
      'KeyTooLongError',
      Buffer.byteLength(key) > KEY_MAX
        ? `Your key is too long: S3 keys are at most ${KEY_MAX} bytes`
        : `The local S3 (s3rver) stores each key segment as a file name: a segment over ${NAME_MAX} bytes with its suffix cannot be stored here (real S3 accepts it)`,
      { Key: key },
    );
  const { existsObject, getObject, putObject, copyObject, initiateUpload } = store;
  store.existsObject = async (bucket, key) => fits(bucket, key) && existsObject.call(store, bucket, key);
  store.getObject = async (bucket, key, options) =>
    fits(bucket, key) ? getObject.call(store, bucket, key, options) : null;
  store.putObject = async (object) => {
    if (!fits(object.bucket, object.key)) throw refuse(object.key);
    return putObject.call(store, object);
  };
  store.copyObject = async (srcBucket, srcKey, destBucket, destKey, ...rest) => {
    if (!fits(destBucket, destKey)) throw refuse(destKey);
    return copyObject.call(store, srcBucket, srcKey, destBucket, destKey, ...rest);
  };
  store.initiateUpload = async (bucket, key, ...rest) => {
    if (!fits(bucket, key)) throw refuse(key);
    return initiateUpload.call(store, bucket, key, ...rest);
  };
}

/** The event as AWS would deliver it: keys URL-encoded, '+' for spaces. */
export function awsShapedEvent(event: S3Event): S3Event {
  return {
    Records: event.Records.map((r) => ({
      ...r,
      s3: { ...r.s3, object: { ...r.s3.object, key: encodeS3Key(r.s3.object.key) } },
    })),
  };
}

let lastSequencer = 0n;

/**
 * A sequencer as AWS's orders events: strictly increasing (here over all keys), 16 hex digits.
 * s3rver's own is Date.now() in hex, equal for two events within a millisecond.
 */
export function nextSequencer(): string {
  const now = BigInt(Date.now()) << 16n;
  lastSequencer = now > lastSequencer ? now : lastSequencer + 1n;
  return lastSequencer.toString(16).toUpperCase().padStart(16, '0');
}

/** The event with a sequencer from nextSequencer on each record (in the order s3rver emits them). */
export function withSequencer(event: S3Event): S3Event {
  return {
    Records: event.Records.map((r) => ({
      ...r,
      s3: { ...r.s3, object: { ...r.s3.object, sequencer: nextSequencer() } },
    })),
  };
}

/**
 * Whether s3rver can hand out listing continuation tokens here: it encrypts them with DES, which
 * Node's OpenSSL 3 offers only with --openssl-legacy-provider. Without it, every truncated listing
 * (over 1,000 keys, or MaxKeys) fails with InternalError. `npm start` passes the flag.
 */
export function listingTokensWork(): boolean {
  try {
    createCipheriv('des', Buffer.alloc(8), Buffer.alloc(8));
    return true;
  } catch {
    return false;
  }
}

export interface LocalS3 {
  endpoint: string;
  close(): Promise<void>;
}

/** An S3 client for a local S3 at `endpoint`: path-style, s3rver's credentials. */
export function localS3Client(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
}

export async function startLocalS3(options: {
  directory: string;
  buckets: string[];
  port?: number;
  address?: string;
  /** Page origins allowed to upload to and read from the buckets (see corsConfigXml). */
  corsOrigins?: readonly string[];
  onEvent?: (event: S3Event) => void;
}): Promise<LocalS3> {
  await mkdir(options.directory, { recursive: true });
  const S3rver = loadS3rver();
  const cors = options.corsOrigins?.length ? [corsConfigXml(options.corsOrigins)] : [];
  const server = new S3rver({
    address: options.address ?? '127.0.0.1',
    port: options.port ?? 0,
    directory: options.directory,
    silent: true,
    allowMismatchedSignatures: true,
    configureBuckets: options.buckets.map((name) => ({ name, configs: cors })),
  });
  answerEmptySegmentKeys(server);
  enforcePostPolicy(server);
  s3TaggingRules(server);
  writeObjectsAtomically(server.store);
  refuseKeysTooLongForDisk(server.store);
  writeSubresourcesAtomically(server.store);
  if (options.onEvent) {
    const onEvent = options.onEvent;
    emitMultiDeleteEvents(server);
    server.on('event', (event) => onEvent(awsShapedEvent(withSequencer(event))));
  }
  const address = await server.run();
  return {
    endpoint: `http://${options.address ?? '127.0.0.1'}:${address.port}`,
    close: () => server.close(),
  };
}
