/**
 * The environment both functions share, read and validated here only, once at init; each error is a
 * ConfigError naming its variable. The handlers read it (src/handlers/api.ts, tagger.ts), and so does
 * `npm run backfill`, so the three agree on what is taggable, which table and which S3.
 *
 *   UPLOAD_PREFIX   key prefix of uploads, the only keys tagged and read (default uploads/):
 *                   non-empty, ends with '/', no leading '/'
 *   IMAGE_SUFFIXES  comma-separated key suffixes the tagger reads (default: src/classifier/image-formats.ts)
 *   MIN_CONFIDENCE  0 to 1 (default DEFAULT_MIN_CONFIDENCE): labels and categories scoring less are
 *                   neither tagged nor indexed
 *   TAG_LANGUAGE    en or zh (default en): the language of the names in the tags; the index keeps
 *                   English and search takes both
 *   INDEX_TABLE     the label index table; unset: the tagger writes tags only, the api has no image routes
 *   UPLOAD_BUCKET   the upload bucket (the api's image routes)
 *   S3_ENDPOINT or AWS_ENDPOINT_URL_S3   a local S3, addressed path-style (`npm start` sets it)
 */
import { ConfigError } from './classifier/errors.ts';
import { IMAGE_SUFFIXES } from './classifier/image-formats.ts';
import { DEFAULT_MIN_CONFIDENCE } from './classifier/postprocess.ts';

type Env = Record<string, string | undefined>;

export const DEFAULT_UPLOAD_PREFIX = 'uploads/';

/** The language of the names in the tags (TAG_LANGUAGE). */
export type TagLanguage = 'en' | 'zh';

/** What the tagger takes: keys under `prefix` ending in one of `suffixes`; what it writes of them. */
export interface TaggerSettings {
  prefix: string;
  suffixes: readonly string[];
  minConfidence: number;
  language: TagLanguage;
}

export interface Settings extends TaggerSettings {
  /** INDEX_TABLE, trimmed; undefined when unset or blank. */
  table: string | undefined;
  /** UPLOAD_BUCKET, trimmed; undefined when unset or blank. */
  bucket: string | undefined;
  /** The S3 client's endpoint options: {} on AWS. */
  s3: S3Endpoint;
}

export type S3Endpoint = { endpoint?: string; forcePathStyle?: boolean };

/** S3's bucket naming rules (general purpose buckets). */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * UPLOAD_PREFIX. A prefix that is empty or `/` would open every key of the bucket to GET /images and
 * to the tagger; one without the trailing `/` would glue upload keys to it (`uploadsd3f9…/a.jpg`); S3
 * keys never start with `/`.
 */
export function uploadPrefix(env: Env): string {
  const prefix = env.UPLOAD_PREFIX ?? DEFAULT_UPLOAD_PREFIX;
  if (prefix === '' || !prefix.endsWith('/') || prefix.startsWith('/'))
    throw new ConfigError(
      `UPLOAD_PREFIX must be a key prefix that ends with '/' and does not start with it (e.g. ${DEFAULT_UPLOAD_PREFIX}), got "${prefix}"`,
    );
  return prefix;
}

export function taggerSettings(env: Env): TaggerSettings {
  const prefix = uploadPrefix(env);
  const suffixes = env.IMAGE_SUFFIXES
    ? env.IMAGE_SUFFIXES.split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : IMAGE_SUFFIXES;
  if (suffixes.length === 0) throw new ConfigError('IMAGE_SUFFIXES must list at least one suffix');
  const min = env.MIN_CONFIDENCE?.trim();
  const minConfidence = min ? Number(min) : DEFAULT_MIN_CONFIDENCE;
  if (!Number.isFinite(minConfidence) || minConfidence < 0 || minConfidence > 1)
    throw new ConfigError(`MIN_CONFIDENCE must be a number from 0 to 1, got "${env.MIN_CONFIDENCE}"`);
  const language = env.TAG_LANGUAGE?.trim() || 'en';
  if (language !== 'en' && language !== 'zh')
    throw new ConfigError(`TAG_LANGUAGE must be en or zh, got "${env.TAG_LANGUAGE}"`);
  return { prefix, suffixes, minConfidence, language };
}

/** INDEX_TABLE, trimmed; undefined when unset or blank. */
export const indexTable = (env: Env): string | undefined => env.INDEX_TABLE?.trim() || undefined;

/**
 * The S3 client's options for S3_ENDPOINT or AWS_ENDPOINT_URL_S3 (`override`, named `overrideName`
 * in errors, first): path-style. A value that is not an http(s) URL is a ConfigError naming its source.
 */
export function s3Endpoint(env: Env, override?: string, overrideName = 'endpoint'): S3Endpoint {
  const [source, endpoint] = override
    ? [overrideName, override]
    : env.S3_ENDPOINT
      ? ['S3_ENDPOINT', env.S3_ENDPOINT]
      : ['AWS_ENDPOINT_URL_S3', env.AWS_ENDPOINT_URL_S3];
  if (!endpoint) return {};
  const protocol = URL.canParse(endpoint) ? new URL(endpoint).protocol : undefined;
  if (protocol !== 'http:' && protocol !== 'https:')
    throw new ConfigError(
      `${source} ${endpoint} is not a URL: give the S3 endpoint as http(s)://host[:port]`,
    );
  return { endpoint, forcePathStyle: true };
}

export function readSettings(env: Env): Settings {
  const bucket = env.UPLOAD_BUCKET?.trim() || undefined;
  if (bucket !== undefined && !BUCKET_NAME.test(bucket))
    throw new ConfigError(`UPLOAD_BUCKET is not a bucket name: "${bucket}"`);
  return { ...taggerSettings(env), table: indexTable(env), bucket, s3: s3Endpoint(env) };
}
