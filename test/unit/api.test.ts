/** The HTTP API's routes and error mapping, with a fake classifier at the port: no model needed. */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createApi } from '../../src/http/api.ts';
import { fakeClassifier } from '../helpers/fakes.ts';

const event = (
  method: string,
  path: string,
  body?: Buffer,
  contentType?: string,
  query?: Record<string, string>,
) =>
  ({
    rawPath: path,
    requestContext: { http: { method } },
    headers: contentType ? { 'Content-Type': contentType } : {},
    queryStringParameters: query,
    body: body?.toString('base64'),
    isBase64Encoded: body !== undefined,
  }) as unknown as APIGatewayProxyEventV2;

const image = (firstByte: number) => Buffer.from([firstByte, 1, 2, 3]);

describe('HTTP API routes (fake classifier)', () => {
  const api = createApi({ classifier: fakeClassifier() });
  const call = async (e: APIGatewayProxyEventV2) => {
    const res = await api(e);
    return { status: res.statusCode, body: res.body.startsWith('{') ? JSON.parse(res.body) : res.body };
  };

  it('classifies a raw body, honours topK, and names the model', async () => {
    const { status, body } = await call(
      event('POST', '/classify', image(9), 'application/octet-stream', { topK: '2' }),
    );
    expect(status).toBe(200);
    expect(body.labels.map((l: { label: string }) => l.label)).toEqual(['label-9', 'label-10']);
    expect(body.model).toMatchObject({ name: 'fake', version: '1' });
  });

  it('classifies a JSON base64 body with its own topK', async () => {
    const json = Buffer.from(JSON.stringify({ image: image(5).toString('base64'), topK: 1 }));
    const { status, body } = await call(event('POST', '/classify', json, 'application/json'));
    expect(status).toBe(200);
    expect(body.labels).toHaveLength(1);
  });

  it('maps every bad input to its status and a JSON error', async () => {
    const cases: [APIGatewayProxyEventV2, number, string][] = [
      [event('POST', '/classify'), 400, 'InvalidArgument'],
      [event('POST', '/classify', image(0), 'application/octet-stream'), 400, 'CorruptImage'],
      [event('POST', '/classify', image(1), 'application/octet-stream'), 415, 'UnsupportedFormat'],
      [
        event('POST', '/classify', image(9), 'application/octet-stream', { topK: '21' }),
        400,
        'InvalidArgument',
      ],
      [
        event('POST', '/classify', image(9), 'application/octet-stream', { topK: 'x' }),
        400,
        'InvalidArgument',
      ],
      [event('POST', '/classify', Buffer.from('{"image": 1}'), 'application/json'), 400, 'InvalidArgument'],
      [event('GET', '/classify'), 405, 'MethodNotAllowed'],
      [event('POST', '/health'), 405, 'MethodNotAllowed'],
      [event('GET', '/nowhere'), 404, 'NotFound'],
    ];
    for (const [e, status, code] of cases) {
      const res = await call(e);
      expect([res.status, res.body.error?.code], `${e.requestContext.http.method} ${e.rawPath}`).toEqual([
        status,
        code,
      ]);
    }
  });

  it('serves the page and /health with the weight storage and the HTTP image limit', async () => {
    const page = await api(event('GET', '/'));
    expect(page.statusCode).toBe(200);
    expect(page.headers?.['content-type']).toMatch(/text\/html/);
    const { status, body } = await call(event('GET', '/health'));
    expect(status).toBe(200);
    expect(body).toMatchObject({
      status: 'ok',
      warm: true,
      weights: { storage: null },
      maxImageBytes: 4_694_016,
      // No images configured: the page hides search and upload and posts to /classify.
      features: { search: false, upload: false },
    });
  });

  it('answers 500 only for a fault that is not about the input', async () => {
    const broken = fakeClassifier();
    broken.classify = async () => {
      throw new Error('session lost');
    };
    const res = await createApi({ classifier: broken })(event('POST', '/classify', image(9), 'image/png'));
    expect(res.statusCode).toBe(500);
    expect(JSON.parse(res.body).error.code).toBe('InternalError');
  });
});

describe('requests from pages of other origins', () => {
  const api = createApi({ classifier: fakeClassifier(), origins: ['https://photos.example.com'] });
  const from = (origin: string | undefined, host = 'abc.execute-api.eu-west-1.amazonaws.com') =>
    ({
      rawPath: '/health',
      requestContext: { http: { method: 'GET' }, domainName: host },
      headers: { host, ...(origin === undefined ? {} : { Origin: origin }) },
    }) as unknown as APIGatewayProxyEventV2;

  it("answers its own page, CORS_ORIGINS' pages and clients that send no Origin", async () => {
    for (const origin of [
      undefined,
      'https://abc.execute-api.eu-west-1.amazonaws.com',
      'https://photos.example.com',
    ])
      expect((await api(from(origin))).statusCode, String(origin)).toBe(200);
    // npm start: the page and the API on one loopback port, under either name.
    for (const host of ['127.0.0.1:3000', 'localhost:3000'])
      expect((await api(from(`http://${host}`, host))).statusCode, host).toBe(200);
  });

  it('refuses any other page (403 ForeignOrigin, JSON) before a route runs', async () => {
    for (const origin of [
      'https://evil.example',
      'http://abc.execute-api.eu-west-1.amazonaws.com:8443',
      'https://photos.example.com.evil.example',
      'null',
      'not a url',
    ]) {
      const res = await api(from(origin));
      expect(res.statusCode, origin).toBe(403);
      expect(JSON.parse(res.body).error.code).toBe('ForeignOrigin');
    }
    expect((await api(from('http://127.0.0.1:3001', '127.0.0.1:3000'))).statusCode).toBe(403);
  });
});
