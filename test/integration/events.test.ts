/**
 * The sample events in events/ run through the built bundles with `npm run invoke` (what Lambda
 * does: import the ESM bundle, call handler(event, context)); the S3 sample against a real local S3.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GetObjectTaggingCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildBundles } from '../../scripts/build.ts';
import { startLocalS3 } from '../../scripts/local/local-s3.ts';
import type { BenchmarkReport } from '../../src/classifier/benchmark.ts';
import { chooseStorage, INT8_FLAGS, readCpuInfo, storageExactness } from '../../src/classifier/cpu.ts';
import type { WeightStorage } from '../../src/classifier/storages.ts';
import { photo, ROOT, sharedModelFolder, skipUnlessShared } from '../helpers/shared.ts';

const run = promisify(execFile);

async function invokeRaw(fn: 'api' | 'tagger', event: string, env: Record<string, string> = {}) {
  return run(
    process.execPath,
    ['--import', 'tsx', 'scripts/invoke.ts', fn, join('events', event), '--model-dir', sharedModelFolder()],
    { cwd: ROOT, env: { ...process.env, ...env }, timeout: 60_000 },
  );
}

async function invoke(fn: 'api' | 'tagger', event: string, env: Record<string, string> = {}) {
  const { stdout } = await invokeRaw(fn, event, env);
  // Logs are one JSON object per line; the result is printed last, indented.
  const lines = stdout.split('\n');
  const start = lines.findLastIndex((l) => l === '{' || l === '[');
  return JSON.parse(lines.slice(start).join('\n'));
}

// The folder needs no model: it is checked with or without ../shared.
it('events/ holds HTTP API and S3 samples, and the benchmark event', async () => {
  expect((await readdir(join(ROOT, 'events'))).sort()).toEqual([
    'benchmark.json',
    'http-classify-json.json',
    'http-classify-raw.json',
    'http-classify-unsupported.json',
    'http-health.json',
    'http-page.json',
    's3-batch-operations.json',
    's3-eventbridge-object-created.json',
    's3-object-created.json',
    's3-object-removed.json',
  ]);
});

describe.skipIf(skipUnlessShared('the sample event tests'))('sample events', () => {
  beforeAll(async () => {
    await buildBundles(() => {});
  });

  it('HTTP samples: classify (raw and JSON), health, page, unsupported', async () => {
    const raw = await invoke('api', 'http-classify-raw.json');
    expect(raw.statusCode).toBe(200);
    expect(JSON.parse(raw.body).labels).toHaveLength(3);
    const json = await invoke('api', 'http-classify-json.json');
    expect(JSON.parse(json.body).labels).toHaveLength(2);
    const health = await invoke('api', 'http-health.json');
    expect(JSON.parse(health.body)).toMatchObject({
      status: 'ok',
      warm: false,
      model: { name: 'mobilenetv2-int8' },
    });
    const page = await invoke('api', 'http-page.json');
    expect(page.headers['content-type']).toMatch(/text\/html/);
    const bad = await invoke('api', 'http-classify-unsupported.json');
    expect(bad.statusCode).toBe(415);
  });

  it('benchmark sample: both functions report the CPU flags and every storage of the folder', async () => {
    const cpu = readCpuInfo();
    const meta = JSON.parse(await readFile(join(sharedModelFolder(), 'model.json'), 'utf8'));
    const storages = Object.keys(meta.weights) as WeightStorage[];
    for (const fn of ['api', 'tagger'] as const) {
      const report = (await invoke(fn, 'benchmark.json')) as BenchmarkReport;
      expect(report.function.name).toBe(`image-tagger-local-${fn}`);
      expect(report.cpu.model).toBe(cpu.model);
      for (const flag of INT8_FLAGS) expect(report.cpu.flags?.[flag], flag).toBe(cpu.flags?.has(flag));
      // The serving storage (auto's choice) first, then the folder's others.
      const serving = chooseStorage(cpu).storage;
      expect(report.model.servingStorage).toBe(serving);
      const order = [serving, ...storages.filter((s) => s !== serving)];
      expect(report.storages.map((s) => [s.storage, s.exact, s.runs])).toEqual(
        order.map((s) => [s, storageExactness(cpu, s).exact, 20]),
      );
      for (const s of report.storages) {
        expect(s.medianMs).toBeGreaterThan(0);
        // Storages this CPU computes exactly hold the same quantized values: identical scores.
        if (s.exact) expect(s.maxAbsDiffVsU8).toBe(0);
      }
      expect(report.preprocess.runs).toBe(20);
    }
  });

  it('S3 sample: tags the object its URL-encoded key names, in a local S3', async () => {
    const event = JSON.parse(await readFile(join(ROOT, 'events/s3-object-created.json'), 'utf8'));
    const bucket: string = event.Records[0].s3.bucket.name;
    const dir = await mkdtemp(join(tmpdir(), 'events-s3-'));
    const s3server = await startLocalS3({ directory: dir, buckets: [bucket] });
    try {
      const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
      const s3 = new S3Client({
        endpoint: s3server.endpoint,
        forcePathStyle: true,
        region: 'us-east-1',
        credentials,
      });
      const key = 'uploads/my dog été.jpg'; // events/s3-object-created.json: uploads/my+dog+%C3%A9t%C3%A9.jpg
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: await readFile(photo('207-Golden-Retriever.jpg')),
        }),
      );
      const result = await invoke('tagger', 's3-object-created.json', {
        AWS_ENDPOINT_URL_S3: s3server.endpoint,
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      });
      expect(result).toMatchObject([{ key, result: 'tagged', status: 'ok' }]);
      const tags = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }));
      expect(tags.TagSet).toContainEqual({ Key: 'tagger:top', Value: 'Golden Retriever' });
    } finally {
      await s3server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a model ONNX Runtime cannot load: one line naming the file, exit 1', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'events-corrupt-'));
    try {
      const dir = join(tmp, 'corrupt');
      await cp(sharedModelFolder(), dir, { recursive: true });
      for (const file of ['model.onnx', 'model.u8.onnx']) await writeFile(join(dir, file), randomBytes(4096));
      const failed = await invokeRaw('tagger', 's3-object-created.json', { MODEL_DIR: dir }).then(
        () => undefined,
        (err: { code?: number; stderr?: string }) => err,
      );
      expect(failed?.code).toBe(1);
      const lines = (failed?.stderr ?? '').split('\n').filter((l) => l.startsWith('invoke:'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        new RegExp(
          `^invoke: ConfigError: ${dir}/model(\\.u8)?\\.onnx is not a model ONNX Runtime can load: Protobuf parsing failed\\.$`,
        ),
      );
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });

  it('Powertools: JSON logs and EMF metrics (cold start, images classified, inference ms, failures by reason)', async () => {
    // The api function's environment as serverless.yml sets it (package.test.ts checks the template).
    const env = {
      POWERTOOLS_METRICS_DISABLED: 'false',
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      POWERTOOLS_SERVICE_NAME: 'image-tagger-api',
      POWERTOOLS_METRICS_NAMESPACE: 'ImageTagger',
    };
    const emf = (stdout: string) =>
      stdout
        .split('\n')
        .filter((l) => l.startsWith('{"_aws"'))
        .map(
          (l) =>
            JSON.parse(l) as Record<string, unknown> & {
              _aws: { CloudWatchMetrics: { Namespace: string }[] };
            },
        );
    const ok = emf((await invokeRaw('api', 'http-classify-raw.json', env)).stdout);
    expect(ok.every((m) => m._aws.CloudWatchMetrics[0]?.Namespace === 'ImageTagger')).toBe(true);
    expect(ok.find((m) => 'ColdStart' in m)).toMatchObject({ ColdStart: 1, service: 'image-tagger-api' });
    const classified = ok.find((m) => 'ImagesClassified' in m);
    expect(classified).toMatchObject({ ImagesClassified: 1 });
    expect(classified?.InferenceMs).toBeGreaterThan(0);
    const bad = emf((await invokeRaw('api', 'http-classify-unsupported.json', env)).stdout);
    expect(bad.find((m) => 'Failures' in m)).toMatchObject({ Failures: 1, reason: 'UnsupportedFormat' });
    const logs = (await invokeRaw('api', 'http-classify-unsupported.json')).stderr
      .split('\n')
      .filter((l) => l.startsWith('{"level"'));
    expect(logs.map((l) => JSON.parse(l))).toContainEqual(
      expect.objectContaining({
        level: 'WARN',
        reason: 'UnsupportedFormat',
        function_name: 'image-tagger-local-api',
      }),
    );
  });
});
