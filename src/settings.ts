/**
 * The one reader of the environment. Every variable the two functions use is read and validated
 * here, once at init (src/handlers/init.ts); each error is a ConfigError naming its variable. What it
 * returns, `Settings`, is handed on as a value: the classifier, the tagger, the image routes and the
 * benchmark read no variable themselves. `npm run backfill` and `npm run classify` read the same
 * parts with the same functions, so all of them agree on what is taggable, which table and which S3.
 * docs/configuration.md lists every variable read here (test/unit/docs.test.ts keeps it so): add a
 * new variable here, in the table there, and in serverless.yml if the deployed functions set it.
 *
 *   MODEL_DIR       the model folder (model.onnx, labels.json, model.json); required
 *   MODEL_THREADS   intra-op threads, 1 to 64 (default: from AWS_LAMBDA_FUNCTION_MEMORY_SIZE, else the CPUs)
 *   MODEL_SPIN_WAIT 1/0/true/false (default false): idle ONNX Runtime threads spin
 *   MODEL_WEIGHTS   auto or one weight storage (src/classifier/storages.ts; default auto: from the CPU)
 *   MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, IMAGE_TIMEOUT_SECONDS   image limits (src/classifier/preprocess.ts)
 *   UPLOAD_PREFIX   key prefix of uploads, the only keys tagged and read (default uploads/):
 *                   non-empty, ends with '/', no leading '/'
 *   IMAGE_SUFFIXES  comma-separated key suffixes the tagger reads (default: src/classifier/image-formats.ts)
 *   MIN_CONFIDENCE  0 to 1 (default DEFAULT_MIN_CONFIDENCE): labels and categories scoring less are
 *                   neither tagged nor indexed
 *   CATEGORY_MIN_SCORE  0 to 1 (default DEFAULT_CATEGORY_MIN_SCORE): categories scoring less are
 *                   neither tagged nor indexed (a category needs both thresholds)
 *   TAG_LANGUAGE    en or zh (default en): the language of the names in the tags; the index keeps
 *                   English and search takes both
 *   INDEX_TABLE     the label index table; unset: the tagger writes tags only, the api has no image routes
 *   UPLOAD_BUCKET   the upload bucket (the api's image routes, with INDEX_TABLE)
 *   S3_ENDPOINT or AWS_ENDPOINT_URL_S3   a local S3, addressed path-style (`npm start` sets it)
 *   AWS_LAMBDA_FUNCTION_MEMORY_SIZE, AWS_LAMBDA_INITIALIZATION_TYPE   set by Lambda: the threads and
 *                   the benchmark's report; on-demand or provisioned-concurrency in GET /health
 *   VECTOR_BUCKET   the S3 Vectors vector bucket; VECTOR_INDEX  the served model's index in it (both
 *                   or neither; unset or blank: no vectors: no similar images or duplicates).
 *                   AWS_ENDPOINT_URL_S3VECTORS points the SDK at a local S3 Vectors (`npm start` sets it)
 *
 * The api function only (authSettings): who may call the data routes.
 *   AUTH_ISSUER     the user pool's issuer (https://cognito-idp.<region>.amazonaws.com/<pool id>; http
 *                   only on loopback, for cognito-local): the data routes need its access tokens
 *   AUTH_CLIENT_ID  the app client id(s) whose access tokens are accepted, comma-separated
 *   AUTH_PUBLIC     "true": no sign-in, anyone may call the data routes (the public demo); then no issuer
 * One of the two is required: without them the api does not start.
 *   CORS_ORIGINS    the origins, besides the API's own, whose pages may call it (comma-separated
 *                   http(s) origins; default none): a browser request from any other origin gets 403
 */

import { availableParallelism } from 'node:os';
import type { ClassifierOptions } from './classifier/classifier.ts';
import { ConfigError } from './classifier/errors.ts';
import { IMAGE_SUFFIXES } from './classifier/image-formats.ts';
import { DEFAULT_CATEGORY_MIN_SCORE, DEFAULT_MIN_CONFIDENCE } from './classifier/postprocess.ts';
import { DEFAULT_LIMITS } from './classifier/preprocess.ts';
import { WEIGHT_REQUESTS, type WeightRequest } from './classifier/weights.ts';

/** The environment as the settings read it: process.env, or any map of names to values in tests and CLIs. */
export type Env = Readonly<Record<string, string | undefined>>;

export const DEFAULT_UPLOAD_PREFIX = 'uploads/';

/** Lambda gives one vCPU per 1,769 MB of memory, up to 6 vCPUs at 10,240 MB. */
export const MB_PER_LAMBDA_VCPU = 1769;
export const MAX_LAMBDA_VCPUS = 6;

/** The language of the names in the tags (TAG_LANGUAGE). */
export type TagLanguage = 'en' | 'zh';

/** What the tagger takes: keys under `prefix` ending in one of `suffixes`; what it writes of them. */
export interface TaggerSettings {
  prefix: string;
  suffixes: readonly string[];
  minConfidence: number;
  /** Categories scoring less are neither tagged nor indexed (CATEGORY_MIN_SCORE). */
  categoryMinScore: number;
  language: TagLanguage;
}

/** What the classifier is made with: its folder and its options (createClassifier(modelDir, options)). */
export interface ClassifierSettings
  extends Required<
    Pick<ClassifierOptions, 'threads' | 'spinWait' | 'weights' | 'limits' | 'warmUpInference'>
  > {
  modelDir: string;
}

/** What the image routes need to know (UPLOAD_BUCKET and INDEX_TABLE, both set). */
export interface ImageSettings extends Pick<TaggerSettings, 'prefix' | 'suffixes'> {
  bucket: string;
  /** The label index table. */
  table: string;
  /** The vector index (VECTOR_BUCKET, VECTOR_INDEX): similar images and duplicates; undefined when off. */
  vectors?: VectorSettings;
}

/** What Lambda tells the function about itself. */
export interface LambdaSettings {
  /** AWS_LAMBDA_FUNCTION_MEMORY_SIZE in MB; undefined outside Lambda. */
  memoryMb: number | undefined;
  /** AWS_LAMBDA_INITIALIZATION_TYPE (on-demand, provisioned-concurrency, snap-start); 'local' outside Lambda. */
  initializationType: string;
}

export interface Settings extends TaggerSettings {
  classifier: ClassifierSettings;
  /** INDEX_TABLE, trimmed; undefined when unset or blank. */
  table: string | undefined;
  /** UPLOAD_BUCKET, trimmed; undefined when unset or blank. */
  bucket: string | undefined;
  /** The S3 client's endpoint options: {} on AWS. */
  s3: S3Endpoint;
  lambda: LambdaSettings;
  /** VECTOR_BUCKET and VECTOR_INDEX; undefined when unset. */
  vectors: VectorSettings | undefined;
}

/** Where the vectors of the served model live (S3 Vectors). */
export interface VectorSettings {
  bucket: string;
  index: string;
}

export type S3Endpoint = { endpoint?: string; forcePathStyle?: boolean };

/** S3's bucket naming rules (general purpose buckets). */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

function positiveInt(env: Env, name: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max)
    throw new ConfigError(`${name} must be an integer from 1 to ${max}, got "${raw}"`);
  return value;
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === '1' || raw === 'true') return true;
  if (raw === '0' || raw === 'false') return false;
  throw new ConfigError(`${name} must be 1, 0, true or false, got "${raw}"`);
}

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
  const category = env.CATEGORY_MIN_SCORE?.trim();
  const categoryMinScore = category ? Number(category) : DEFAULT_CATEGORY_MIN_SCORE;
  if (!Number.isFinite(categoryMinScore) || categoryMinScore < 0 || categoryMinScore > 1)
    throw new ConfigError(`CATEGORY_MIN_SCORE must be a number from 0 to 1, got "${env.CATEGORY_MIN_SCORE}"`);
  const language = env.TAG_LANGUAGE?.trim() || 'en';
  if (language !== 'en' && language !== 'zh')
    throw new ConfigError(`TAG_LANGUAGE must be en or zh, got "${env.TAG_LANGUAGE}"`);
  return { prefix, suffixes, minConfidence, categoryMinScore, language };
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

/** S3 Vectors' names of vector buckets and indexes. */
const VECTOR_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** VECTOR_BUCKET and VECTOR_INDEX: both (valid S3 Vectors names) or neither. */
export function vectorSettings(env: Env): VectorSettings | undefined {
  const bucket = env.VECTOR_BUCKET?.trim() || undefined;
  const index = env.VECTOR_INDEX?.trim() || undefined;
  if (bucket === undefined && index === undefined) return undefined;
  for (const [variable, value] of [
    ['VECTOR_BUCKET', bucket],
    ['VECTOR_INDEX', index],
  ] as const) {
    if (value === undefined)
      throw new ConfigError(
        `${variable} is unset but ${variable === 'VECTOR_BUCKET' ? 'VECTOR_INDEX' : 'VECTOR_BUCKET'} is set: give both (vectors on) or neither (off)`,
      );
    if (!VECTOR_NAME.test(value))
      throw new ConfigError(`${variable} is not an S3 Vectors name (3-63 of a-z 0-9 - .): "${value}"`);
  }
  return { bucket: bucket as string, index: index as string };
}

/** AWS_LAMBDA_FUNCTION_MEMORY_SIZE and AWS_LAMBDA_INITIALIZATION_TYPE. */
export function lambdaSettings(env: Env): LambdaSettings {
  return {
    memoryMb: positiveInt(env, 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE'),
    initializationType: env.AWS_LAMBDA_INITIALIZATION_TYPE?.trim() || 'local',
  };
}

/**
 * Intra-op threads: MODEL_THREADS if set; in Lambda, the vCPUs that the memory size buys (below
 * 1,769 MB a container shows 2 CPUs but gets less than one: 1 thread); else the CPUs available.
 */
export function resolveThreads(env: Env): number {
  const explicit = positiveInt(env, 'MODEL_THREADS', 64);
  if (explicit !== undefined) return explicit;
  const memory = lambdaSettings(env).memoryMb;
  if (memory !== undefined)
    return Math.min(MAX_LAMBDA_VCPUS, Math.max(1, Math.floor(memory / MB_PER_LAMBDA_VCPU)));
  return availableParallelism();
}

/** MODEL_WEIGHTS: auto (default) or one weight storage. */
export function weightRequest(env: Env): WeightRequest {
  const raw = env.MODEL_WEIGHTS;
  if (raw === undefined || raw === '') return 'auto';
  if (!(WEIGHT_REQUESTS as readonly string[]).includes(raw))
    throw new ConfigError(`MODEL_WEIGHTS must be ${WEIGHT_REQUESTS.join(', ')}, got "${raw}"`);
  return raw as WeightRequest;
}

/** MODEL_DIR, the threads, MODEL_SPIN_WAIT, MODEL_WEIGHTS, the image limits, and the warm-up inference (provisioned concurrency). */
export function classifierSettings(env: Env): ClassifierSettings {
  const modelDir = env.MODEL_DIR;
  if (!modelDir)
    throw new ConfigError(
      'MODEL_DIR is not set: point it at a model folder (model.onnx, labels.json, model.json)',
    );
  return {
    modelDir,
    threads: resolveThreads(env),
    spinWait: flag(env, 'MODEL_SPIN_WAIT', false),
    weights: weightRequest(env),
    // A provisioned container's init runs before any request: the first inference's extra cost goes there.
    warmUpInference: lambdaSettings(env).initializationType === 'provisioned-concurrency',
    limits: {
      maxBytes: positiveInt(env, 'MAX_IMAGE_BYTES') ?? DEFAULT_LIMITS.maxBytes,
      maxPixels: positiveInt(env, 'MAX_IMAGE_PIXELS') ?? DEFAULT_LIMITS.maxPixels,
      timeoutSeconds: positiveInt(env, 'IMAGE_TIMEOUT_SECONDS', 900) ?? DEFAULT_LIMITS.timeoutSeconds,
    },
  };
}

/**
 * The api's image routes: UPLOAD_BUCKET (the upload bucket) and INDEX_TABLE (the label index table)
 * together turn them on, neither leaves them off (the routes answer 404 and the page offers neither
 * search nor upload); one without the other is a ConfigError naming the missing one. (The tagger
 * takes INDEX_TABLE alone.)
 */
export function imageSettings(settings: Settings): ImageSettings | undefined {
  const { bucket, table, prefix, suffixes, vectors } = settings;
  if (bucket === undefined && table === undefined) return undefined;
  if (bucket === undefined)
    throw new ConfigError('UPLOAD_BUCKET is not set: the image routes need it with INDEX_TABLE');
  if (table === undefined)
    throw new ConfigError('INDEX_TABLE is not set: the image routes need it with UPLOAD_BUCKET');
  return { bucket, table, prefix, suffixes, ...(vectors ? { vectors } : {}) };
}

/** Every setting of both functions, validated; the first bad variable is a ConfigError naming it. */
/** Who may call the data routes (the api function): a user pool's signed-in users, or anyone. */
export type AuthSettings = { mode: 'public' } | { mode: 'user-pool'; issuer: string; clientIds: string[] };

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** AUTH_ISSUER, AUTH_CLIENT_ID, AUTH_PUBLIC: private unless AUTH_PUBLIC=true says otherwise. */
export function authSettings(env: Env): AuthSettings {
  const isPublic = flag(env, 'AUTH_PUBLIC', false);
  const issuer = env.AUTH_ISSUER?.trim() || undefined;
  const clientIds = (env.AUTH_CLIENT_ID ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (isPublic) {
    if (issuer !== undefined || clientIds.length > 0)
      throw new ConfigError(
        'AUTH_PUBLIC=true turns sign-in off: leave AUTH_ISSUER and AUTH_CLIENT_ID unset, or drop AUTH_PUBLIC',
      );
    return { mode: 'public' };
  }
  if (issuer === undefined)
    throw new ConfigError(
      "AUTH_ISSUER is not set: give the user pool's issuer (https://cognito-idp.<region>.amazonaws.com/<pool id>), or AUTH_PUBLIC=true for a public demo without sign-in",
    );
  const url = URL.canParse(issuer) ? new URL(issuer) : undefined;
  const secure =
    url?.protocol === 'https:' || (url?.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname));
  if (!url || !secure || url.search || url.hash || issuer.endsWith('/') || url.username || url.password)
    throw new ConfigError(
      `AUTH_ISSUER must be an https URL without a trailing '/' (http only on loopback), got "${issuer}"`,
    );
  if (clientIds.length === 0)
    throw new ConfigError('AUTH_CLIENT_ID is not set: give the app client id(s) whose tokens are accepted');
  return { mode: 'user-pool', issuer, clientIds };
}

/**
 * CORS_ORIGINS: the pages on other origins that may call the api (the stack's corsOrigins param,
 * which API Gateway's CORS answers too), each a bare http(s) origin.
 */
export function corsOrigins(env: Env): string[] {
  const origins = (env.CORS_ORIGINS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const origin of origins) {
    const url = URL.canParse(origin) ? new URL(origin) : undefined;
    if (!url || url.origin !== origin || !/^https?:$/.test(url.protocol))
      throw new ConfigError(
        `CORS_ORIGINS must list http(s) origins such as https://photos.example.com (no path, no trailing '/'), got "${origin}"`,
      );
  }
  return origins;
}

export function readSettings(env: Env): Settings {
  const bucket = env.UPLOAD_BUCKET?.trim() || undefined;
  if (bucket !== undefined && !BUCKET_NAME.test(bucket))
    throw new ConfigError(`UPLOAD_BUCKET is not a bucket name: "${bucket}"`);
  const table = indexTable(env);
  const vectors = vectorSettings(env);
  if (vectors && table === undefined)
    throw new ConfigError(
      'INDEX_TABLE is not set: VECTOR_BUCKET and VECTOR_INDEX need it (the label index orders the vector writes)',
    );
  return {
    ...taggerSettings(env),
    classifier: classifierSettings(env),
    table,
    bucket,
    s3: s3Endpoint(env),
    lambda: lambdaSettings(env),
    vectors,
  };
}
