/**
 * The image routes of the HTTP API: search the label index, read one object's tags, and hand out a
 * presigned S3 POST so that a browser uploads straight to the bucket (any size up to the image
 * limit, past API Gateway's and Lambda's payload limits).
 *
 *   GET  /images?label=<label>&limit=1..100&cursor=   {items: [{key, score, top, labels, url}], cursor?}
 *   GET  /images/<key, URL-encoded>                    {key, status, top?, labels, model?, tags, url}
 *   POST /uploads {filename, contentType?, size?}      {key, url, fields, expiresAt, maxBytes}
 *
 * Each handler answers an HttpError for bad input (400, 404, 413, 415), which the API turns into
 * its JSON error shape; anything else is thrown (500).
 */
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { UploadSigner } from '../aws/upload-signer.ts';
import { ConfigError } from '../classifier/errors.ts';
import { contentTypeOf } from '../classifier/image-formats.ts';
import type { Settings, TaggerSettings } from '../settings.ts';
import { InvalidCursorError, type LabelIndex, normalizeLabel } from '../tagging/label-index.ts';
import { ObjectMissingError, type ObjectStore } from '../tagging/object-store.ts';
import { isTaggable, parseLabelList, TAG_LABELS, TAG_MODEL, TAG_STATUS, TAG_TOP } from '../tagging/tags.ts';
import { bodyBytes } from './body.ts';

export interface ImagesConfig {
  /** The upload bucket (the one the tagger tags and the index describes). */
  bucket: string;
  /** Key prefix of uploads (UPLOAD_PREFIX): new keys go under it, only keys under it are read. */
  prefix: string;
  index: Pick<LabelIndex, 'search'>;
  store: Pick<ObjectStore, 'getTags'>;
  signer: UploadSigner;
  /** The suffixes the tagger reads (IMAGE_SUFFIXES). */
  suffixes: readonly string[];
}

/** What the image routes need to know: the shared settings, validated once at init (src/settings.ts). */
export interface ImageSettings extends TaggerSettings {
  bucket: string;
  /** The label index table. */
  table: string;
}

/**
 * UPLOAD_BUCKET (the upload bucket) and INDEX_TABLE (the label index table) together turn the image
 * routes on, neither leaves them off (the routes answer 404 and the page offers neither search nor
 * upload); one without the other is a ConfigError naming the missing one. No client is made here
 * (see lazyImages).
 */
export function imageSettings(settings: Settings): ImageSettings | undefined {
  const { bucket, table, prefix, suffixes } = settings;
  if (bucket === undefined && table === undefined) return undefined;
  if (bucket === undefined)
    throw new ConfigError('UPLOAD_BUCKET is not set: the image routes need it with INDEX_TABLE');
  if (table === undefined)
    throw new ConfigError('INDEX_TABLE is not set: the image routes need it with UPLOAD_BUCKET');
  return { bucket, prefix, suffixes, table };
}

/** The ports the image routes use (src/handlers/image-ports.ts makes the AWS ones). */
export type ImagePorts = Pick<ImagesConfig, 'index' | 'store' | 'signer'>;

/**
 * The image routes' configuration with ports made on first use: the AWS SDK clients, the presigners
 * and the DynamoDB adapter load when a request needs them (an image route, or the page's CSP), not at
 * init, so POST /classify and /health keep the cold start they had without them. A failed load is
 * tried again by the next request.
 */
export function lazyImages(settings: ImageSettings, load: () => Promise<ImagePorts>): ImagesConfig {
  let ports: Promise<ImagePorts> | undefined;
  const get = () =>
    (ports ??= load().catch((err: unknown) => {
      ports = undefined;
      throw err;
    }));
  return {
    bucket: settings.bucket,
    prefix: settings.prefix,
    suffixes: settings.suffixes,
    index: { search: async (...args) => (await get()).index.search(...args) },
    store: { getTags: async (...args) => (await get()).store.getTags(...args) },
    signer: {
      presignPost: async (...args) => (await get()).signer.presignPost(...args),
      presignGet: async (...args) => (await get()).signer.presignGet(...args),
      origin: async () => (await get()).signer.origin(),
    },
  };
}

export const SEARCH_DEFAULT_LIMIT = 24;
export const SEARCH_MAX_LIMIT = 100;
/** Longer than any label a model has; a longer search term is a mistake or an attack. */
export const MAX_LABEL_CHARS = 200;
export const MAX_CURSOR_CHARS = 2048;
/** S3's own limit on key length (UTF-8 bytes). */
export const MAX_KEY_BYTES = 1024;
/** Characters kept from the file name's stem in a new key. */
export const MAX_NAME_CHARS = 100;
export const UPLOAD_EXPIRES_SECONDS = 300;
/** Presigned GET of a thumbnail or of the object (the page reloads search results to refresh them). */
export const VIEW_EXPIRES_SECONDS = 900;
/** The JSON body of POST /uploads describes a file; it is never large. */
export const MAX_UPLOAD_REQUEST_BYTES = 8 * 1024;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

const invalid = (message: string) => new HttpError(400, 'InvalidArgument', message);

/**
 * A file name made safe for a key: the last path segment, accents dropped, anything but letters,
 * digits, '.', '_' and '-' turned into '-', the stem cut to MAX_NAME_CHARS; the suffix is kept
 * (lower-cased) so the tagger sees it. `photo (1).JPG` -> `photo-1.jpg`.
 */
export function sanitizeFilename(name: string): string {
  const base = name.split(/[/\\]/).pop() ?? '';
  const ascii = base
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(/[^A-Za-z0-9._-]+/g, '-');
  const dot = ascii.lastIndexOf('.');
  const rawStem = dot > 0 ? ascii.slice(0, dot) : dot === 0 ? '' : ascii;
  const suffix = dot >= 0 ? ascii.slice(dot).toLowerCase() : '';
  const stem = rawStem
    .replace(/\.+/g, '.')
    .replace(/-+/g, '-')
    .replace(/^[.-]+|[.-]+$/g, '')
    .slice(0, MAX_NAME_CHARS)
    .replace(/[.-]+$/, '');
  return `${stem || 'image'}${suffix.replace(/[^a-z0-9.]/g, '')}`;
}

/** Whole decimal digits only ("10", not "1e1", " 10" or "10.0"). */
function parseLimit(raw: string | undefined): number {
  if (raw === undefined || raw === '') return SEARCH_DEFAULT_LIMIT;
  const n = /^\d{1,4}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > SEARCH_MAX_LIMIT)
    throw invalid(`limit must be an integer from 1 to ${SEARCH_MAX_LIMIT}, got "${raw.slice(0, 20)}"`);
  return n;
}

/**
 * The key of GET /images/<key>. API Gateway HTTP APIs hand the path to Lambda already decoded;
 * locally (and on Function URLs) it arrives percent-encoded. Decoding once more is harmless for keys
 * without a '%' (which covers every key POST /uploads makes); a '%' that is not an escape is kept.
 */
export function keyFromPath(rest: string): string {
  try {
    return decodeURIComponent(rest);
  } catch {
    return rest;
  }
}

export function createImageRoutes(config: ImagesConfig, maxBytes: number) {
  const { bucket, prefix, suffixes, index, store, signer } = config;

  function checkKey(key: string): void {
    if (key === '') throw invalid('the key is empty');
    if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES)
      throw invalid(`the key is over ${MAX_KEY_BYTES} bytes`);
    if (!key.startsWith(prefix) || key.length === prefix.length)
      throw invalid(`only keys under "${prefix}" can be read`);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
    if (/[\u0000-\u001f\u007f]/.test(key)) throw invalid('the key contains control characters');
    if (key.split('/').some((s) => s === '..' || s === '.'))
      throw invalid('the key contains a "." or ".." segment');
  }

  async function search(event: APIGatewayProxyEventV2) {
    const q = event.queryStringParameters ?? {};
    const raw = q.label;
    if (raw === undefined) throw invalid('label is required: GET /images?label=<label>');
    const label = normalizeLabel(raw);
    if (label === '') throw invalid('label is empty');
    if (Array.from(label).length > MAX_LABEL_CHARS)
      throw invalid(`label is over ${MAX_LABEL_CHARS} characters`);
    const limit = parseLimit(q.limit);
    const cursor = q.cursor === undefined || q.cursor === '' ? undefined : q.cursor;
    if (cursor !== undefined && cursor.length > MAX_CURSOR_CHARS)
      throw invalid('cursor is not one this API returned');
    let page: Awaited<ReturnType<LabelIndex['search']>>;
    try {
      page = await index.search(bucket, label, { limit, cursor });
    } catch (err) {
      if (err instanceof InvalidCursorError) throw invalid(err.message);
      throw err;
    }
    const items = await Promise.all(
      page.items.map(async (item) => ({
        key: item.key,
        score: item.score,
        top: item.top,
        labels: item.labels,
        url: await signer.presignGet(item.key, VIEW_EXPIRES_SECONDS),
      })),
    );
    return page.cursor === undefined ? { items } : { items, cursor: page.cursor };
  }

  async function describe(rest: string) {
    const key = keyFromPath(rest);
    checkKey(key);
    let list: { Key: string; Value: string }[];
    try {
      list = await store.getTags(bucket, key);
    } catch (err) {
      if (err instanceof ObjectMissingError) throw new HttpError(404, 'NotFound', `no object ${key}`);
      throw err;
    }
    const tags: Record<string, string> = {};
    for (const t of list) tags[t.Key] = t.Value;
    const status = tags[TAG_STATUS] ?? (isTaggable(key, prefix, suffixes) ? 'pending' : 'ignored');
    return {
      key,
      status,
      top: tags[TAG_TOP],
      labels: parseLabelList(tags[TAG_LABELS] ?? ''),
      model: tags[TAG_MODEL],
      tags,
      url: await signer.presignGet(key, VIEW_EXPIRES_SECONDS),
    };
  }

  async function upload(event: APIGatewayProxyEventV2) {
    const body = bodyBytes(event.body, event.isBase64Encoded);
    if (body.length > MAX_UPLOAD_REQUEST_BYTES)
      throw invalid(
        `the request body is over ${MAX_UPLOAD_REQUEST_BYTES} bytes: send {filename, contentType?, size?}`,
      );
    let request: unknown;
    try {
      request = JSON.parse(body.toString('utf8'));
    } catch {
      throw invalid('the body must be JSON {filename, contentType?, size?}');
    }
    if (typeof request !== 'object' || request === null || Array.isArray(request))
      throw invalid('the body must be a JSON object {filename, contentType?, size?}');
    const { filename, contentType, size } = request as Record<string, unknown>;
    if (typeof filename !== 'string' || filename.trim() === '')
      throw invalid('filename is required (a non-empty string)');
    if (filename.length > MAX_KEY_BYTES) throw invalid(`filename is over ${MAX_KEY_BYTES} characters`);
    if (size !== undefined && size !== null) {
      if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
        throw invalid('size must be a whole number of bytes');
      if (size === 0) throw invalid('the file is empty');
      if (size > maxBytes)
        throw new HttpError(
          413,
          'ImageTooLarge',
          `the file is ${size} bytes; the limit is ${maxBytes} bytes`,
        );
    }
    const name = sanitizeFilename(filename);
    const key = `${prefix}${randomUUID()}/${name}`;
    if (!isTaggable(key, prefix, suffixes))
      throw new HttpError(
        415,
        'UnsupportedFormat',
        `"${name}" does not end with a suffix the tagger reads (${suffixes.join(' ')})`,
      );
    let type: string | undefined;
    if (contentType !== undefined && contentType !== null && contentType !== '') {
      if (typeof contentType !== 'string') throw invalid('contentType must be a string');
      if (!/^image\/[A-Za-z0-9][\w.+-]{0,100}$/.test(contentType))
        throw new HttpError(
          415,
          'UnsupportedFormat',
          `contentType must be image/*, got "${contentType.slice(0, 100)}"`,
        );
      type = contentType;
    } else {
      const suffix = name.slice(name.lastIndexOf('.'));
      type = contentTypeOf(suffix) ?? `image/${suffix.slice(1)}`;
    }
    if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) throw invalid('the key would be over 1024 bytes');
    const post = await signer.presignPost(key, {
      maxBytes,
      expiresSeconds: UPLOAD_EXPIRES_SECONDS,
      contentType: type,
    });
    return { key, url: post.url, fields: post.fields, expiresAt: post.expiresAt.toISOString(), maxBytes };
  }

  return { search, describe, upload };
}
