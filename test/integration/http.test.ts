/**
 * The HTTP API handler over real HTTP on loopback, with the real classifier and real photos:
 * each body form, topK, and each error status.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Classifier, createClassifier } from '../../src/classifier/classifier.ts';
import { DEFAULT_LIMITS } from '../../src/classifier/preprocess.ts';
import { createApi } from '../../src/http/api.ts';
import { type LocalServer, startLocalServer } from '../helpers/local-server.ts';
import { photo, sharedModelFolder, skipUnlessShared } from '../helpers/shared.ts';

const MAX_BYTES = 3 * 1024 * 1024;

describe.skipIf(skipUnlessShared('the HTTP API tests'))('HTTP API over loopback', () => {
  let classifier: Classifier;
  let server: LocalServer;
  let retriever: Buffer;
  const failures: string[] = [];

  beforeAll(async () => {
    const dir = sharedModelFolder();
    classifier = await createClassifier(dir, {
      threads: 2,
      limits: { ...DEFAULT_LIMITS, maxBytes: MAX_BYTES },
    });
    const api = createApi({
      classifier,
      telemetry: { classified() {}, failed: (reason) => void failures.push(reason), info() {} },
    });
    server = await startLocalServer(api);
    retriever = await readFile(photo('207-Golden-Retriever.jpg'));
  });
  afterAll(async () => {
    await server?.close();
    await classifier?.release();
  });

  const post = (body: BodyInit | Buffer, query = '', headers: Record<string, string> = {}) =>
    fetch(`${server.url}/classify${query}`, {
      method: 'POST',
      body: Buffer.isBuffer(body) ? new Uint8Array(body) : body,
      headers,
    });

  it('GET /health reports the model and whether the container was warm', async () => {
    const first = await (await fetch(`${server.url}/health`)).json();
    expect(first).toMatchObject({
      status: 'ok',
      warm: false,
      model: { name: 'mobilenetv2-int8', version: '1', classes: 1000 },
    });
    expect(typeof first.model.quantization).toBe('string');
    // The configured limit (3 MiB) is below what API Gateway and Lambda let through, so it rules.
    expect(first.maxImageBytes).toBe(MAX_BYTES);
    const second = await (await fetch(`${server.url}/health`)).json();
    expect(second.warm).toBe(true);
  });

  it('GET / serves the page', async () => {
    const res = await fetch(`${server.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const html = await res.text();
    expect(html).toContain('id="file"');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href="https?:/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe-inline');
    // Each inline block of the served page is allowed by its own hash, and nothing else is.
    const blocks = [...html.matchAll(/<(script|style)>([\s\S]*?)<\/\1>/g)];
    expect(blocks.map((m) => m[1]).sort()).toEqual(['script', 'style']);
    for (const [, tag, text] of blocks) {
      const hash = createHash('sha256')
        .update(text ?? '')
        .digest('base64');
      expect(csp).toContain(`${tag}-src 'sha256-${hash}'`);
    }
  });

  it('classifies a raw application/octet-stream body', async () => {
    const res = await post(retriever, '', { 'content-type': 'application/octet-stream' });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.labels).toHaveLength(3);
    expect(body.labels[0]).toMatchObject({ label: 'Golden Retriever', index: 207 });
    expect(body.labels[0].score).toBeGreaterThan(body.labels[1].score);
    // The vocabulary's categories (ImageNet-1k folders): the sum over all dog classes beats the top label.
    const dog = body.categories.find((c: { id: string }) => c.id === 'dog');
    expect(dog).toMatchObject({ label: 'dog' });
    expect(dog.score).toBeGreaterThanOrEqual(body.labels[0].score);
    expect(body.model).toMatchObject({ name: 'mobilenetv2-int8', version: '1' });
    // Colours and quality of the model's input pixels (docs/colours.md).
    expect(body.properties.colours[0]).toEqual({
      name: 'green',
      zh: '绿色',
      percent: expect.any(Number),
      hex: expect.stringMatching(/^#[0-9a-f]{6}$/),
      css: expect.any(String),
    });
    expect(body.properties.quality.sharpness).toBeGreaterThan(50);
    expect(body.timings.inferMs).toBeGreaterThan(0);
    expect(body.timings.totalMs).toBeGreaterThanOrEqual(body.timings.inferMs);
  });

  it('classifies multipart/form-data (field "image") and honours topK', async () => {
    const form = new FormData();
    form.append('note', 'ignored');
    form.append('image', new Blob([new Uint8Array(retriever)], { type: 'image/jpeg' }), 'dog.jpg');
    const res = await post(form, '?topK=5');
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.labels).toHaveLength(5);
    expect(body.labels[0].index).toBe(207);
  });

  it('classifies JSON {"image": base64}, also as a data URL', async () => {
    const res = await post(JSON.stringify({ image: retriever.toString('base64') }), '?topK=1', {
      'content-type': 'application/json',
    });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.labels).toEqual([expect.objectContaining({ index: 207 })]);
    const dataUrl = `data:image/jpeg;base64,${retriever.toString('base64')}`;
    const res2 = await post(JSON.stringify({ image: dataUrl, topK: 2 }), '', {
      'content-type': 'application/json',
    });
    expect((await res2.json()).labels).toHaveLength(2);
  });

  const expectError = async (res: Response, status: number, code: string) => {
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const body = await res.json();
    expect(body.error.code).toBe(code);
    expect(body.error.message.length).toBeGreaterThan(5);
  };

  it('400 for bad input: topK, empty body, bad JSON, bad base64, missing field, corrupt image', async () => {
    const octet = { 'content-type': 'application/octet-stream' };
    await expectError(await post(retriever, '?topK=0', octet), 400, 'InvalidArgument');
    await expectError(await post(retriever, '?topK=abc', octet), 400, 'InvalidArgument');
    await expectError(await post(retriever, '?topK=21', octet), 400, 'InvalidArgument');
    await expectError(await post(new Uint8Array(0), '', octet), 400, 'InvalidArgument');
    await expectError(
      await post('{"image":', '', { 'content-type': 'application/json' }),
      400,
      'InvalidArgument',
    );
    await expectError(
      await post('{"image":"%%%not base64"}', '', { 'content-type': 'application/json' }),
      400,
      'InvalidArgument',
    );
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(retriever)]), 'dog.jpg');
    await expectError(await post(form), 400, 'InvalidArgument');
    await expectError(
      await post('--x\r\nbroken', '', { 'content-type': 'multipart/form-data; boundary=x' }),
      400,
      'InvalidArgument',
    );
    // A real JPEG cut after its first kilobyte: the header is valid, the scan data is missing.
    await expectError(await post(retriever.subarray(0, 1024), '', octet), 400, 'CorruptImage');
  });

  it('415 for formats it does not accept', async () => {
    await expectError(
      await post('%PDF-1.7\n1 0 obj\n', '', { 'content-type': 'application/pdf' }),
      415,
      'UnsupportedFormat',
    );
    await expectError(
      await post('<svg xmlns="http://www.w3.org/2000/svg"/>', '', { 'content-type': 'image/svg+xml' }),
      415,
      'UnsupportedFormat',
    );
  });

  it('413 over the image limit (raw, multipart, JSON) and over the API Gateway cap', async () => {
    const big = Buffer.alloc(MAX_BYTES + 1, 0xff);
    retriever.copy(big);
    await expectError(
      await post(big, '', { 'content-type': 'application/octet-stream' }),
      413,
      'ImageTooLarge',
    );
    const form = new FormData();
    form.append('image', new Blob([new Uint8Array(big)]), 'big.jpg');
    await expectError(await post(form), 413, 'ImageTooLarge');
    await expectError(
      await post(JSON.stringify({ image: big.toString('base64') }), '', {
        'content-type': 'application/json',
      }),
      413,
      'ImageTooLarge',
    );
    const huge = await post(Buffer.alloc(10 * 1024 * 1024 + 1), '', {
      'content-type': 'application/octet-stream',
    });
    expect(huge.status).toBe(413);
  });

  it('404 and 405 for other routes, and failures were reported by reason', async () => {
    await expectError(await fetch(`${server.url}/nope`), 404, 'NotFound');
    await expectError(await fetch(`${server.url}/classify`), 405, 'MethodNotAllowed');
    expect(failures).toEqual(
      expect.arrayContaining(['InvalidArgument', 'CorruptImage', 'UnsupportedFormat', 'ImageTooLarge']),
    );
    expect(failures).not.toContain('InternalError');
  });
});
