/**
 * Powertools wiring: the init log line names the model, the int8 weight storage and why
 * loaded, with its reason; the service and the namespace come from POWERTOOLS_* environment
 * variables (set by serverless.yml); the middy-wrapped handler adds the Lambda context to log lines,
 * emits the cold start once and flushes the EMF metrics after each invocation, also when it throws,
 * and prints nothing for an invocation that recorded no metric.
 */
import type { Context } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ModelFolder } from '../../src/classifier/model-folder.ts';
import { createPowertools, withPowertools } from '../../src/handlers/powertools.ts';

const weights = {
  storage: 'u8' as const,
  file: 'model.u8.onnx',
  reason: 'no VNNI: ...',
  requested: 'auto' as const,
  exact: true,
};
const classifier = {
  folder: { meta: { name: 'm', version: '2', quantization: 'int8' } } as unknown as ModelFolder,
  threads: 2,
  initMs: 12.3,
  weights,
};
const context = {
  functionName: 'image-tagger-test-api',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:image-tagger-test-api',
  memoryLimitInMB: '1769',
  awsRequestId: 'req-1',
  logGroupName: '/aws/lambda/image-tagger-test-api',
  logStreamName: 'local',
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => 29_000,
} as unknown as Context;

/** Every JSON line written to stdout or stderr (Powertools writes logs and EMF there). */
function capture(): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  const take = (chunk: unknown) => {
    for (const l of String(chunk).split('\n')) if (l.startsWith('{')) lines.push(JSON.parse(l));
    return true;
  };
  vi.spyOn(process.stdout, 'write').mockImplementation(take);
  vi.spyOn(process.stderr, 'write').mockImplementation(take);
  return lines;
}

type Emf = Record<string, unknown> & { _aws: { CloudWatchMetrics: { Namespace: string }[] } };
const emf = (lines: Record<string, unknown>[]) => lines.filter((l) => '_aws' in l) as Emf[];

describe('createPowertools', () => {
  beforeEach(() => {
    vi.stubEnv('POWERTOOLS_SERVICE_NAME', 'image-tagger-test');
    vi.stubEnv('POWERTOOLS_METRICS_NAMESPACE', 'ImageTaggerTest');
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    vi.stubEnv('AWS_LAMBDA_INITIALIZATION_TYPE', 'on-demand'); // Powertools counts cold starts only then
  });
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  it('logs "classifier ready" with the weights choice once, at init, as the service of the environment', () => {
    const lines = capture();
    createPowertools(classifier);
    const ready = lines.filter((l) => l.message === 'classifier ready');
    expect(ready).toHaveLength(1);
    expect(ready[0]).toMatchObject({
      model: 'm@2',
      storage: weights.storage,
      reason: weights.reason,
      initMs: 12,
      service: 'image-tagger-test',
    });
    // One short line: the quantization record and the rest stay in GET /health.
    expect(Object.keys(ready[0] ?? {})).not.toContain('quantization');
    expect(JSON.stringify(ready[0]).length).toBeLessThan(400);
  });

  it('the wrapped handler: context on log lines, cold start once, metrics flushed per invocation in the namespace of the environment', async () => {
    const lines = capture();
    const tools = createPowertools(classifier);
    const handler = withPowertools(tools, async (event: { n: number }) => {
      tools.classified({ decodeMs: 1, inferMs: 5, totalMs: 7 }, { n: event.n });
      return event.n * 2;
    });
    expect(await handler({ n: 1 }, context)).toBe(2);
    expect(await handler({ n: 2 }, context)).toBe(4);
    const metrics = emf(lines);
    expect(metrics.every((m) => m._aws.CloudWatchMetrics[0]?.Namespace === 'ImageTaggerTest')).toBe(true);
    expect(metrics.filter((m) => 'ColdStart' in m)).toEqual([
      expect.objectContaining({
        ColdStart: 1,
        service: 'image-tagger-test',
        function_name: 'image-tagger-test-api',
      }),
    ]);
    expect(metrics.filter((m) => 'ImagesClassified' in m)).toHaveLength(2);
    expect(metrics.find((m) => 'ImagesClassified' in m)).toMatchObject({
      ImagesClassified: 1,
      InferenceMs: 5,
      service: 'image-tagger-test',
    });
    expect(lines.filter((l) => l.message === 'classified')).toEqual([
      expect.objectContaining({ n: 1, function_name: 'image-tagger-test-api', function_request_id: 'req-1' }),
      expect.objectContaining({ n: 2, function_name: 'image-tagger-test-api' }),
    ]);
  });

  it('flushes what was recorded when the handler throws, and the error still reaches Lambda', async () => {
    const lines = capture();
    const tools = createPowertools(classifier);
    const handler = withPowertools(tools, async () => {
      tools.classified({ decodeMs: 1, inferMs: 3, totalMs: 5 });
      throw new Error('S3 is down');
    });
    await expect(handler({}, context)).rejects.toThrow('S3 is down');
    expect(emf(lines).find((m) => 'ImagesClassified' in m)).toMatchObject({ InferenceMs: 3 });
  });

  it('an invocation that records no metric prints no metric and no warning', async () => {
    const lines = capture();
    const tools = createPowertools(classifier);
    const handler = withPowertools(tools, async () => 'ok');
    await handler({}, context); // the cold start
    lines.length = 0;
    expect(await handler({}, context)).toBe('ok');
    expect(lines).toEqual([]);
  });
});
