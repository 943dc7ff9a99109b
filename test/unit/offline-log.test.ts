/**
 * npm start's view of serverless-offline and the functions (scripts/local/offline-log.ts): one short
 * line per request, each route once, Powertools lines compacted, warnings and errors whole.
 */
import { describe, expect, it } from 'vitest';
import { compactLogLine, offlineLog, taggerResultSummary } from '../../scripts/local/offline-log.ts';
import { quietNodeVersionWarning } from '../../scripts/node-version.ts';
import { healthSummary } from '../../scripts/start.ts';

describe('offlineLog', () => {
  it('turns a request, its blank lines and its duration line into one line', () => {
    const filter = offlineLog();
    const out = [
      '',
      'GET /health (λ: api)',
      '',
      '(λ: api) RequestId: 1f9a3724-1fd5-4e9f-888f-edb890e00fb7  Duration: 2882.00 ms  Billed Duration: 2882 ms',
      'POST /classify (λ: api)',
      '(λ: api) RequestId: 7f12  Duration: 47.62 ms  Billed Duration: 48 ms',
    ].flatMap(filter);
    expect(out).toEqual(['GET /health (λ: api) 2882 ms', 'POST /classify (λ: api) 48 ms']);
  });

  it("drops a function's duration line with no request before it (the tagger: npm start reports it)", () => {
    const filter = offlineLog();
    expect(filter('(λ: tagger) RequestId: f4c0  Duration: 3272.11 ms  Billed Duration: 3273 ms')).toEqual([]);
  });

  it('lists each route of the box once (not the invoke route under each)', () => {
    const filter = offlineLog();
    const box = [
      '   │   GET  | http://127.0.0.1:3000/health                                 │',
      '   │   POST | http://127.0.0.1:3000/2015-03-31/functions/api/invocations   │',
      '   │   POST | http://127.0.0.1:3000/classify                               │',
    ].flatMap(filter);
    expect(box).toEqual([
      '   │   GET  | http://127.0.0.1:3000/health                                 │',
      '   │   POST | http://127.0.0.1:3000/classify                               │',
    ]);
  });

  it('passes other lines as they are', () => {
    expect(offlineLog()('Offline [http for lambda] listening on http://127.0.0.1:3002')).toEqual([
      'Offline [http for lambda] listening on http://127.0.0.1:3002',
    ]);
  });
});

describe('compactLogLine', () => {
  it('keeps what a Powertools INFO line says and drops the context', () => {
    const line = JSON.stringify({
      level: 'INFO',
      message: 'classified',
      timestamp: '2026-12-07T02:18:14.540Z',
      service: 'image-tagger-tagger',
      cold_start: false,
      function_arn: 'offline_invokedFunctionArn_for_image-tagger-dev-tagger',
      function_memory_size: '1769',
      function_name: 'image-tagger-dev-tagger',
      function_request_id: 'f4c0d0cb',
      sampling_rate: 0,
      model: 'mobilenetv2@1',
      key: 'uploads/a.jpg',
      result: 'tagged',
      timings: { decodeMs: 11.1, inferMs: 39.9, totalMs: 52.53 },
    });
    expect(compactLogLine(line)).toBe(
      '[tagger] classified model=mobilenetv2@1 key=uploads/a.jpg result=tagged totalMs=53',
    );
  });

  it('keeps warnings and errors whole, and leaves other lines alone', () => {
    const error = JSON.stringify({
      level: 'ERROR',
      message: 'tagging failed',
      service: 'image-tagger-tagger',
    });
    expect(compactLogLine(error)).toBe(error);
    expect(compactLogLine('{"level": not json')).toBeUndefined();
    expect(compactLogLine('plain text')).toBeUndefined();
  });

  it('cuts long values and long lines', () => {
    const line = JSON.stringify({
      level: 'INFO',
      message: 'm',
      service: 'image-tagger-api',
      reason: 'x'.repeat(500),
    });
    const out = compactLogLine(line) ?? '';
    expect(out.length).toBeLessThanOrEqual(240);
    expect(out).toMatch(/^\[api\] m reason=x+…$/);
  });
});

describe('taggerResultSummary', () => {
  it('names the top label, a removal, or the status the tagger wrote', () => {
    const ok = [
      {
        key: 'uploads/a.jpg',
        status: 'ok',
        classification: { labels: [{ label: 'Golden Retriever', index: 207, score: 0.7936 }] },
      },
    ];
    expect(taggerResultSummary(JSON.stringify(ok))).toBe('ok: Golden Retriever 79.4%');
    expect(taggerResultSummary('[{"key":"a","result":"removed","index":"written"}]')).toBe(
      'removed from the index',
    );
    expect(taggerResultSummary('[{"key":"a","status":"UnsupportedFormat"}]')).toBe('UnsupportedFormat');
    expect(taggerResultSummary('not json')).toBe('not json');
  });
});

describe('npm start notices', () => {
  it('GET /health in one line', () => {
    expect(
      healthSummary({
        status: 'ok',
        model: { name: 'mobilenetv2', version: '1', labelsMeaningful: true },
        weights: { storage: 'u8' },
        threads: 1,
        initMs: 770,
        features: { search: true, upload: true },
      }),
    ).toBe('ok, model mobilenetv2@1, weights u8, threads 1, init 770 ms, features: search, upload');
  });

  it("quiets the AWS SDK's Node version warning once on Node < 22, and says nothing on 22 and later", () => {
    const env: NodeJS.ProcessEnv = {};
    expect(quietNodeVersionWarning(env, 'v20.20.2')).toMatch(
      /^note: Node v20\.20\.2 is past its end of life; this project supports Node 22 or newer/,
    );
    expect(env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED).toBe('true');
    const later: NodeJS.ProcessEnv = {};
    expect(quietNodeVersionWarning(later, 'v24.11.0')).toBeUndefined();
    expect(later).toEqual({});
  });
});
