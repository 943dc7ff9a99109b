/**
 * The HTTP API (API Gateway HTTP API, payload format 2.0):
 *   GET  /          the web page
 *   GET  /health    model metadata and whether this container was already warm
 *   POST /classify  image as raw body, multipart field `image`, or JSON {"image": base64}; ?topK=1..20
 * Bad input answers JSON {"error": {"code", "message"}} with 400, 413 or 415; 500 only for real faults.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { Classifier } from '../classifier/classifier.ts';
import type { ImageErrorCode } from '../classifier/errors.ts';
import { DEFAULT_TOP_K, validateTopK } from '../classifier/postprocess.ts';
import { PAGE_HTML } from '../web/page.ts';
import { bodyBytes, isImageError, readImageBody } from './body.ts';
import { silentTelemetry, type Telemetry } from './telemetry.ts';

export type HttpResult = APIGatewayProxyStructuredResultV2 & { statusCode: number; body: string };

export const STATUS_BY_CODE: Record<ImageErrorCode, number> = {
  InvalidArgument: 400,
  CorruptImage: 400,
  ImageTooLarge: 413,
  UnsupportedFormat: 415,
};

export interface ApiOptions {
  classifier: Pick<Classifier, 'classify' | 'folder' | 'limits' | 'threads' | 'initMs' | 'weights'>;
  telemetry?: Telemetry;
  /** Largest request body accepted, bytes (defaults to the classifier's image limit). */
  maxBodyBytes?: number;
}

const json = (statusCode: number, payload: unknown): HttpResult => ({
  statusCode,
  headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
  body: JSON.stringify(payload),
});

const error = (statusCode: number, code: string, message: string): HttpResult =>
  json(statusCode, { error: { code, message } });

function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  const headers = event.headers ?? {};
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}

function parseTopK(raw: unknown): number {
  if (raw === undefined || raw === null || raw === '') return DEFAULT_TOP_K;
  const n = typeof raw === 'number' ? raw : /^\s*-?\d+\s*$/.test(String(raw)) ? Number(raw) : Number.NaN;
  return validateTopK(Number.isNaN(n) ? String(raw) : n);
}

export function createApi(options: ApiOptions) {
  const { classifier } = options;
  const telemetry = options.telemetry ?? silentTelemetry;
  const maxBodyBytes = options.maxBodyBytes ?? classifier.limits.maxBytes;
  const { meta } = classifier.folder;
  const model = { name: meta.name, version: meta.version, quantization: meta.quantization };
  let invocations = 0;

  async function classify(event: APIGatewayProxyEventV2): Promise<HttpResult> {
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
      return json(200, { labels: result.labels, model, timings: result.timings });
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
    try {
      if (path === '/' || path === '/index.html') {
        if (method !== 'GET' && method !== 'HEAD') return error(405, 'MethodNotAllowed', `${method} ${path}`);
        return {
          statusCode: 200,
          headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' },
          body: PAGE_HTML,
        };
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
          initializationType: process.env.AWS_LAMBDA_INITIALIZATION_TYPE ?? 'local',
          threads: classifier.threads,
          weights: classifier.weights,
          initMs: Math.round(classifier.initMs),
          maxImageBytes: maxBodyBytes,
        });
      }
      if (path === '/classify') {
        if (method !== 'POST') return error(405, 'MethodNotAllowed', 'use POST /classify');
        return await classify(event);
      }
      return error(404, 'NotFound', `no route ${method} ${path}`);
    } catch (err) {
      telemetry.failed('InternalError', (err as Error)?.message ?? String(err));
      return error(500, 'InternalError', 'internal error; see the function logs');
    }
  };
}
