/**
 * The HTTP path's real image limit (API Gateway 10 MB, Lambda 6 MB event, base64) and the web
 * page's security headers, through createApi with a fake classifier at the port.
 */
import { createHash } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../src/classifier/preprocess.ts';
import {
  contentSecurityPolicy,
  createApi,
  EVENT_ENVELOPE_BYTES,
  HTTP_API_MAX_PAYLOAD_BYTES,
  httpImageLimit,
  LAMBDA_SYNC_MAX_PAYLOAD_BYTES,
} from '../../src/http/api.ts';
import { PAGE_HTML } from '../../src/http/page.ts';
import { fakeClassifier } from '../helpers/fakes.ts';

const base64Length = (bytes: number) => Math.ceil(bytes / 3) * 4;

const event = (path: string, method: string, body?: Buffer, contentType?: string) =>
  ({
    rawPath: path,
    requestContext: { http: { method } },
    headers: contentType ? { 'content-type': contentType } : {},
    body: body?.toString('base64'),
    isBase64Encoded: body !== undefined,
  }) as unknown as APIGatewayProxyEventV2;

describe('httpImageLimit', () => {
  it('is what a base64 body inside a 6 MB Lambda event leaves: 4,694,016 bytes (about 4.5 MiB)', () => {
    const limit = httpImageLimit(DEFAULT_LIMITS.maxBytes);
    expect(limit).toBe(4_694_016);
    // The image, base64-encoded, plus the rest of the event fits in Lambda's request payload...
    expect(base64Length(limit) + EVENT_ENVELOPE_BYTES).toBeLessThanOrEqual(LAMBDA_SYNC_MAX_PAYLOAD_BYTES);
    // ...three more bytes would not, and API Gateway's own 10 MB is not what binds.
    expect(base64Length(limit + 3) + EVENT_ENVELOPE_BYTES).toBeGreaterThan(LAMBDA_SYNC_MAX_PAYLOAD_BYTES);
    expect(limit).toBeLessThan(HTTP_API_MAX_PAYLOAD_BYTES);
  });

  it('never exceeds the configured image limit', () => {
    expect(httpImageLimit(1_000_000)).toBe(1_000_000);
    expect(httpImageLimit(Number.MAX_SAFE_INTEGER)).toBe(4_694_016);
  });
});

describe('createApi with the default limits', () => {
  it('GET /health reports the HTTP limit, not only MAX_IMAGE_BYTES, and the handler enforces it', async () => {
    const classifier = fakeClassifier();
    const api = createApi({ classifier });
    const health = JSON.parse((await api(event('/health', 'GET'))).body);
    expect(health.maxImageBytes).toBe(4_694_016);
    const limit = health.maxImageBytes as number;
    const atLimit = await api(event('/classify', 'POST', Buffer.alloc(limit, 7), 'application/octet-stream'));
    expect(atLimit.statusCode).toBe(200);
    expect(classifier.seen).toEqual([limit]);
    const over = await api(
      event('/classify', 'POST', Buffer.alloc(limit + 1, 7), 'application/octet-stream'),
    );
    expect(over.statusCode).toBe(413);
    expect(JSON.parse(over.body).error.code).toBe('ImageTooLarge');
  });
});

describe('GET / security headers', () => {
  it('serves the page with a hash-based CSP, nosniff and no referrer', async () => {
    const classifier = fakeClassifier();
    const res = await createApi({ classifier })(event('/', 'GET'));
    expect(res.statusCode).toBe(200);
    expect(res.headers).toMatchObject({
      'content-security-policy': contentSecurityPolicy(PAGE_HTML),
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    });
  });

  it('allows exactly the inline blocks of the page and nothing from elsewhere', () => {
    const csp = contentSecurityPolicy(PAGE_HTML);
    const sha = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
    const script = PAGE_HTML.match(/<script>([\s\S]*?)<\/script>/)?.[1] ?? '';
    const style = PAGE_HTML.match(/<style>([\s\S]*?)<\/style>/)?.[1] ?? '';
    expect(script.length).toBeGreaterThan(100);
    expect(csp).toContain(`script-src ${sha(script)};`);
    expect(csp).toContain(`style-src ${sha(style)};`);
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/connect-src 'self'/);
    expect(csp).toMatch(/frame-ancestors 'none'/);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:|\*/);
    // A hash CSP does not cover inline handlers or style attributes: the page must have none.
    expect(PAGE_HTML).not.toMatch(/\son[a-z]+=|\sstyle=/i);
    // A changed script gets a different hash, so an edited page cannot run under a stale policy.
    expect(contentSecurityPolicy(PAGE_HTML.replace('Image tagger</h1>', 'x</h1>'))).toBe(csp);
    expect(contentSecurityPolicy(PAGE_HTML.replace('drawCard', 'paintCard'))).not.toBe(csp);
  });
});
