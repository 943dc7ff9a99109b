/**
 * The HTTP API (API Gateway HTTP API, payload format 2.0):
 *   GET  /              the web page
 *   GET  /health        model metadata, whether this container was already warm, features
 *   POST /classify      image as raw body, multipart field `image`, or JSON {"image": base64}; ?topK=1..20
 *   GET  /images        search the label index (src/http/images.ts)      } only with `images`
 *   GET  /image?key=    one object's tags and status                     } configured; 404
 *   POST /uploads       a presigned S3 POST for the browser              } otherwise
 *   GET  /image/similar?key=, GET /image/duplicates?key=                 } with a vector
 *   GET  /duplicates    the groups of copies (?limit=1..50, ?cursor=)     } index too
 *   POST /similar       an image as for /classify: its classification     } index too
 *                       and the nearest stored images (?limit=, ?label=)  } (VECTOR_INDEX)
 * Bad input answers JSON {"error": {"code", "message"}} with 400, 413 or 415; 500 only for real faults.
 * Every path but GET / and /health needs a signed-in caller (src/http/access.ts): 401, 403 otherwise.
 *
 * Why not the Router of Powertools' event handler (@aws-lambda-powertools/event-handler/http, which
 * does route API Gateway HTTP API v2 events): it turns each event into a web Request first, and that
 * decodes a base64 body to a UTF-8 string, which replaces every byte of a binary image that is not
 * valid UTF-8 (the JPEG magic ff d8 arrives as ef bf bd); the raw body would have to be read from the
 * event past the Router, after it has already copied it. It answers a known path with another method
 * 404 (not 405), in its own JSON shape, throws on a GET that carries a body, and refuses events that
 * lack any field of the full v2 shape. Three fixed routes do not need a router, and its code (the
 * conversions to and from web Request and Response) would load on every cold start.
 */
import { createHash } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { Classification, Classifier } from '../classifier/classifier.ts';
import type { ImageErrorCode } from '../classifier/errors.ts';
import { DEFAULT_TOP_K, validateTopK } from '../classifier/postprocess.ts';
import { silentTelemetry, type Telemetry } from '../telemetry.ts';
import {
  type Access,
  authorize,
  type Caller,
  callerOf,
  PUBLIC_PATHS,
  type RouteRule,
  signInOf,
} from './access.ts';
import { bodyBytes, isImageError, readImageBody } from './body.ts';
import { createImageRoutes, HttpError, type ImageRoutesConfig, keyParam } from './images.ts';
import { createLabelRoutes, LABELS_PATH, type LabelRoutesConfig } from './labels.ts';
import { PAGE_HTML } from './page.ts';

export type HttpResult = APIGatewayProxyStructuredResultV2 & { statusCode: number; body: string };

export const STATUS_BY_CODE: Record<ImageErrorCode, number> = {
  InvalidArgument: 400,
  CorruptImage: 400,
  ImageTooLarge: 413,
  UnsupportedFormat: 415,
};

/** API Gateway HTTP API: largest request payload, 10 MB. */
export const HTTP_API_MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;
/** Lambda synchronous invocation: largest request payload (the whole event JSON), 6 MB. */
export const LAMBDA_SYNC_MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
/** Room left in the event for everything but the body: headers, request context, multipart framing. */
export const EVENT_ENVELOPE_BYTES = 32 * 1024;

/**
 * The largest image the HTTP path can take. API Gateway hands binary bodies (raw and multipart) to
 * Lambda base64-encoded, 4 characters per 3 bytes, and a JSON body carries the image as base64
 * already; the event must stay under Lambda's 6 MB, so about 4.5 MiB of image get through
 * (4,694,016 bytes), less than API Gateway's 10 MB. Never more than the classifier's own limit.
 */
export function httpImageLimit(maxImageBytes: number): number {
  const viaLambda = Math.floor((LAMBDA_SYNC_MAX_PAYLOAD_BYTES - EVENT_ENVELOPE_BYTES) / 4) * 3;
  return Math.min(maxImageBytes, HTTP_API_MAX_PAYLOAD_BYTES, viaLambda);
}

/**
 * Content-Security-Policy for a page whose script and style are inline: each inline block is
 * allowed by its sha256 and nothing else runs; the page fetches only its own origin (health,
 * classify, images, uploads) and shows the chosen image from a blob: URL. With an S3 origin (the
 * upload bucket's endpoint), exactly that origin is added to img-src (thumbnails through presigned
 * GET URLs) and connect-src (the presigned POST of an upload). With a user pool, its API's origin is
 * added to connect-src (the page signs in there: InitiateAuth, RevokeToken).
 */
export function contentSecurityPolicy(html: string, s3Origin?: string, authOrigin?: string): string {
  const extra = s3Origin === undefined ? '' : ` ${checkOrigin(s3Origin)}`;
  const auth = authOrigin === undefined || authOrigin === s3Origin ? '' : ` ${checkOrigin(authOrigin)}`;
  const hashes = (tag: string) =>
    [...html.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))]
      .map(
        (m) =>
          `'sha256-${createHash('sha256')
            .update(m[1] ?? '', 'utf8')
            .digest('base64')}'`,
      )
      .join(' ') || "'none'";
  return [
    "default-src 'none'",
    `script-src ${hashes('script')}`,
    `style-src ${hashes('style')}`,
    `img-src blob:${extra}`,
    `connect-src 'self'${extra}${auth}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** A bare http(s) origin ("https://host[:port]"), nothing a CSP could read as more sources. */
function checkOrigin(origin: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(origin);
  } catch {}
  if (!parsed || parsed.origin !== origin || !/^https?:$/.test(parsed.protocol))
    throw new Error(`not an http(s) origin: ${JSON.stringify(origin)}`);
  return origin;
}

/**
 * Headers of GET / (the web page); `s3Origin` when the page talks to the upload bucket, `authOrigin`
 * when it signs in to a user pool.
 */
export function pageHeaders(s3Origin?: string, authOrigin?: string): Record<string, string> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-cache',
    'content-security-policy': contentSecurityPolicy(PAGE_HTML, s3Origin, authOrigin),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  };
}

/** Headers of GET / without the image routes. */
export const PAGE_HEADERS: Record<string, string> = pageHeaders();

export interface ApiOptions {
  classifier: Pick<
    Classifier,
    'classify' | 'folder' | 'limits' | 'threads' | 'initMs' | 'weights' | 'jpegDecoder'
  >;
  telemetry?: Telemetry;
  /** Largest image accepted, bytes (defaults to httpImageLimit of the classifier's image limit). */
  maxBodyBytes?: number;
  /** Search, object status and browser uploads (GET /images, GET /images/{key}, POST /uploads). */
  images?: ImageRoutesConfig;
  /** How Lambda started this container (settings.lambda.initializationType; default 'local'). */
  initializationType?: string;
  /**
   * Who may call the data routes. The Lambda handler always passes one (from AUTH_ISSUER or
   * AUTH_PUBLIC); without it (tests of the routes themselves) nothing is checked.
   */
  access?: Access;
  /** The routes only editors may call (default: EDITOR_ROUTES of src/http/access.ts). */
  editorRoutes?: readonly RouteRule[];
  /** Taught names: GET/PUT/DELETE /labels/{name}, GET /labels (src/http/labels.ts); with `images`. */
  labels?: LabelRoutesConfig;
  /**
   * The origins, besides the API's own (its Host), whose pages may call it (CORS_ORIGINS). A request
   * whose Origin is another is refused (403 ForeignOrigin) before anything runs: on AWS, API Gateway's
   * CORS already keeps such a page from reading the answer, but serverless-offline (npm start) grants
   * every origin, so without this any web site could read a `--public` local library.
   */
  origins?: readonly string[];
}

const json = (statusCode: number, payload: unknown): HttpResult => ({
  statusCode,
  headers: {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  },
  body: JSON.stringify(payload),
});

const error = (statusCode: number, code: string, message: string): HttpResult =>
  json(statusCode, { error: { code, message } });

function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  const headers = event.headers ?? {};
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}

/** Whether a browser sent the request from a page of another origin than the API's and `allowed`. */
function isForeignOrigin(event: APIGatewayProxyEventV2, allowed: readonly string[]): boolean {
  const origin = header(event, 'origin');
  if (origin === undefined || allowed.includes(origin)) return false;
  const host = header(event, 'host') ?? event.requestContext?.domainName;
  return !URL.canParse(origin) || new URL(origin).host !== host?.toLowerCase();
}

function parseTopK(raw: unknown): number {
  if (raw === undefined || raw === null || raw === '') return DEFAULT_TOP_K;
  const n = typeof raw === 'number' ? raw : /^\s*-?\d+\s*$/.test(String(raw)) ? Number(raw) : Number.NaN;
  return validateTopK(Number.isNaN(n) ? String(raw) : n);
}

export function createApi(options: ApiOptions) {
  const { classifier } = options;
  const telemetry = options.telemetry ?? silentTelemetry;
  const maxBodyBytes = options.maxBodyBytes ?? httpImageLimit(classifier.limits.maxBytes);
  const { meta } = classifier.folder;
  const model = { name: meta.name, version: meta.version, quantization: meta.quantization };
  let invocations = 0;
  // Uploads go straight to S3, so they may be as large as the classifier takes (MAX_IMAGE_BYTES).
  const routes =
    options.images && createImageRoutes(options.images, classifier.limits.maxBytes, classifier.folder);
  const labelRoutes =
    routes &&
    options.labels &&
    createLabelRoutes(options.labels, classifier, {
      isVocabularyWord: (word) => routes.words()?.resolve(word) !== undefined,
      zhOf: (name) => routes.words()?.zhOf(name),
    });
  let imagePageHeaders: Promise<Record<string, string>> | undefined;
  const authOrigin = signInOf(options.access)?.endpoint;
  const headersOfPage = async () => {
    if (!options.images) return authOrigin ? pageHeaders(undefined, authOrigin) : PAGE_HEADERS;
    const signer = options.images.signer;
    imagePageHeaders ??= signer.origin().then(
      (s3Origin) => pageHeaders(s3Origin, authOrigin),
      (err: unknown) => {
        imagePageHeaders = undefined;
        throw err;
      },
    );
    return imagePageHeaders;
  };

  /**
   * POST /classify, and POST /similar when `more` adds the nearest stored images to the answer: the
   * same body forms, limits and 4xx.
   */
  async function classify(
    event: APIGatewayProxyEventV2,
    more?: (result: Classification) => Promise<Record<string, unknown>>,
  ): Promise<HttpResult> {
    try {
      const body = bodyBytes(event.body, event.isBase64Encoded);
      if (body.length === 0)
        return error(
          400,
          'InvalidArgument',
          'empty body: send an image (raw, multipart field "image" or JSON)',
        );
      const image = await readImageBody(header(event, 'content-type'), body, maxBodyBytes);
      const topK = parseTopK(event.queryStringParameters?.topK ?? image.topK);
      const result = await classifier.classify(image.bytes, { topK });
      telemetry.classified(result.timings, { form: image.form, bytes: image.bytes.length, topK });
      const { vocabulary } = classifier.folder;
      return json(200, {
        // With a vocabulary, each label also carries its Chinese name (the page's 中文 view).
        labels: vocabulary
          ? result.labels.map((l) => ({ ...l, zh: vocabulary.classes[l.index]?.zh }))
          : result.labels,
        ...(result.categories ? { categories: result.categories } : {}),
        ...(result.properties ? { properties: result.properties } : {}),
        model,
        timings: result.timings,
        ...(more ? await more(result) : {}),
      });
    } catch (err) {
      if (isImageError(err)) {
        telemetry.failed(err.code, err.message);
        return error(STATUS_BY_CODE[err.code], err.code, err.message);
      }
      throw err;
    }
  }

  return async function handle(event: APIGatewayProxyEventV2): Promise<HttpResult> {
    const warm = invocations > 0;
    invocations++;
    const method = event.requestContext?.http?.method ?? 'GET';
    const path = event.rawPath || '/';
    // Who taught a name (createdBy): the signed-in user; without sign-in checks, 'public'.
    let caller: Caller = { name: 'public' };
    try {
      if (isForeignOrigin(event, options.origins ?? [])) {
        telemetry.info('refused', { status: 403, reason: 'ForeignOrigin', path });
        return error(403, 'ForeignOrigin', 'this API answers only its own page (and CORS_ORIGINS)');
      }
      if (options.access && !PUBLIC_PATHS.has(path)) {
        const allowed = await authorize(options.access, event, method, path, options.editorRoutes);
        if ('denied' in allowed) {
          const { status, code, message, headers, details } = allowed.denied;
          // A refused caller is the client's matter, logged in one line (no failure metric, as for 404).
          telemetry.info('refused', { status, reason: code, path, why: message });
          const res = json(status, { error: { code, message, ...details } });
          return { ...res, headers: { ...res.headers, ...headers } };
        }
        caller = await callerOf(options.access, event, allowed.principal);
      }
      if (path === '/' || path === '/index.html') {
        if (method !== 'GET' && method !== 'HEAD') return error(405, 'MethodNotAllowed', `${method} ${path}`);
        return { statusCode: 200, headers: { ...(await headersOfPage()) }, body: PAGE_HTML };
      }
      if (path === '/health') {
        if (method !== 'GET') return error(405, 'MethodNotAllowed', `${method} ${path}`);
        return json(200, {
          status: 'ok',
          model: {
            ...model,
            labelsMeaningful: meta.labelsMeaningful ?? true,
            classes: classifier.folder.labels.length,
          },
          warm,
          initializationType: options.initializationType ?? 'local',
          threads: classifier.threads,
          weights: classifier.weights,
          jpegDecoder: classifier.jpegDecoder,
          initMs: Math.round(classifier.initMs),
          maxImageBytes: maxBodyBytes,
          features: {
            search: routes !== undefined,
            upload: routes !== undefined,
            similar: routes?.hasVectors === true,
          },
          signIn: signInOf(options.access),
        });
      }
      if (path === '/classify') {
        if (method !== 'POST') return error(405, 'MethodNotAllowed', 'use POST /classify');
        return await classify(event);
      }
      if (routes && (path === '/images' || path === '/uploads')) {
        const [route, allowed] = path === '/images' ? [routes.search, 'GET'] : [routes.upload, 'POST'];
        if (method !== allowed) return error(405, 'MethodNotAllowed', `use ${allowed} ${path}`);
        return json(200, await route(event));
      }
      if (routes && path === '/image') {
        if (method !== 'GET') return error(405, 'MethodNotAllowed', 'use GET /image?key=<key>');
        return json(200, await routes.describe(keyParam(event)));
      }
      if (routes?.hasVectors && (path === '/image/similar' || path === '/image/duplicates')) {
        if (method !== 'GET') return error(405, 'MethodNotAllowed', `use GET ${path}?key=<key>`);
        return json(
          200,
          await (path === '/image/similar' ? routes.similar(event) : routes.duplicates(event)),
        );
      }
      if (routes?.hasVectors && path === '/duplicates') {
        if (method !== 'GET') return error(405, 'MethodNotAllowed', 'use GET /duplicates');
        return json(200, await routes.groups(event));
      }
      if (routes?.hasVectors && path === '/similar') {
        if (method !== 'POST') return error(405, 'MethodNotAllowed', 'use POST /similar with an image');
        const similarTo = routes.similarTo;
        return await classify(event, async (result) => {
          if (!result.embedding) throw new HttpError(404, 'NotFound', 'the model gives no embedding');
          const { items, resolved } = await similarTo(result.embedding, event.queryStringParameters ?? {});
          return { similar: items, ...(resolved ? { resolved } : {}) };
        });
      }
      if (labelRoutes && (path === LABELS_PATH || path.startsWith(`${LABELS_PATH}/`))) {
        const { status, body } = await labelRoutes(event, method, path, caller);
        return json(status, body);
      }
      if (routes && path.startsWith('/images/'))
        return error(404, 'NotFound', 'an image is addressed as GET /image?key=<URL-encoded key>');
      return error(404, 'NotFound', `no route ${method} ${path}`);
    } catch (err) {
      if (err instanceof HttpError) {
        if (err.status !== 404) telemetry.failed(err.code, err.message, { path });
        return error(err.status, err.code, err.message);
      }
      telemetry.failed('InternalError', (err as Error)?.message ?? String(err));
      return error(500, 'InternalError', 'internal error; see the function logs');
    }
  };
}
