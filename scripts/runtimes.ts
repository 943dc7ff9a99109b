/**
 * npm run check:runtimes -- [--only node22-x64,node24-x64,node22-arm64,node24-arm64] [--model-dir <dir>]
 *
 * Runs the built Lambda bundles with the runtime layer under the Node versions Lambda offers
 * (nodejs22.x, nodejs24.x) and, under qemu-user emulation, under arm64 Node 22 with the arm64
 * layer: every sample event in events/ through its handler, plus one ../shared photo through the
 * HTTP handler (it must come back as its real label). The S3 sample runs against a local S3.
 *
 * - Node binaries come from the npm packages node-linux-<arch>@<major>, installed once into
 *   .cache/runtimes/ (reused when present).
 * - Like Lambda: the bundles are copied to a task folder outside the project (so the project's own
 *   node_modules cannot be found), NODE_PATH points at the layer's nodejs/node_modules (mounted at
 *   /opt/nodejs/node_modules on Lambda), and the environment is a small Lambda-like one.
 * - arm64: `qemu-aarch64-static -cpu max -L /usr/aarch64-linux-gnu <node>` inside `unshare -m`, with
 *   /proc/cpuinfo bind-mounted over by test/fixtures/cpuinfo/arm64-graviton3-neoverse-v1.txt (onnxruntime-node
 *   crashes at load on an x86 /proc/cpuinfo; see ARM64_CPUINFO). Needs root and the Debian
 *   packages qemu-user-static, libc6-arm64-cross and libstdc++6-arm64-cross (.ci/run installs
 *   them). About 0.65 s per inference there, so it runs the health event, a one-run benchmark
 *   (ARM64_BENCHMARK: the emulated CPU's flags, both storages identical) and one photo only.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { cacheDir, DIST, ROOT, SHARED, SHARED_FILES } from '../paths.ts';
import type { BenchmarkReport } from '../src/classifier/benchmark.ts';
import { MB_PER_LAMBDA_VCPU } from '../src/settings.ts';
import type { ProbePlan, ProbeReport } from './runtime-probe.ts';

const run = promisify(execFile);
export const RUNTIMES_CACHE = cacheDir('runtimes');
export const PROBE = join(ROOT, 'scripts/runtime-probe.ts');
/**
 * /proc/cpuinfo as each qemu CPU model's real counterpart shows it. ONNX Runtime (pytorch cpuinfo)
 * takes its ISA features from the auxiliary vector, which qemu fills for the CPU model, but also
 * trusts the MIDR (CPU part) for some, so the fixture must match the model: a Neoverse MIDR under
 * `-cpu cortex-a72` selects dot-product kernels that the emulated CPU lacks (SIGILL).
 */
export const ARM64_CPUINFO: Record<string, string> = {
  max: join(ROOT, 'test/fixtures/cpuinfo/arm64-graviton3-neoverse-v1.txt'), // Neoverse V1: dot product, i8mm
  'neoverse-n1': join(ROOT, 'test/fixtures/cpuinfo/arm64-graviton2-neoverse-n1.txt'), // dot product
  'cortex-a72': join(ROOT, 'test/fixtures/cpuinfo/arm64-cortex-a72.txt'), // ARMv8.0 NEON only
};
const QEMU = '/usr/bin/qemu-aarch64-static';
/** x86-64 user emulation of an older CPU model (e.g. Haswell: AVX2, no AVX-512/VNNI), for exactness checks. */
export const QEMU_X64 = '/usr/bin/qemu-x86_64-static';
const ARM64_SYSROOT = '/usr/aarch64-linux-gnu';

export interface Runtime {
  id: 'node22-x64' | 'node24-x64' | 'node22-arm64' | 'node24-arm64';
  major: 22 | 24;
  arch: 'x64' | 'arm64';
}

export const RUNTIMES: readonly Runtime[] = [
  { id: 'node22-x64', major: 22, arch: 'x64' },
  { id: 'node24-x64', major: 24, arch: 'x64' },
  { id: 'node22-arm64', major: 22, arch: 'arm64' },
  { id: 'node24-arm64', major: 24, arch: 'arm64' },
];

/** The photo every runtime must classify, and its label. */
export const PHOTO = { file: '207-Golden-Retriever.jpg', label: 'Golden Retriever' } as const;

/** False when this machine can run `rt`; otherwise why not. */
export function unavailable(rt: Runtime): string | false {
  if (process.platform !== 'linux') return `${rt.id} needs Linux (this is ${process.platform})`;
  if (rt.arch === process.arch) return false;
  if (rt.arch !== 'arm64' || process.arch !== 'x64') return `${rt.id} cannot run on ${process.arch}`;
  const missing = [
    [QEMU, 'qemu-user-static'],
    [join(ARM64_SYSROOT, 'lib/ld-linux-aarch64.so.1'), 'libc6-arm64-cross'],
    [join(ARM64_SYSROOT, 'lib/libstdc++.so.6'), 'libstdc++6-arm64-cross'],
  ].filter(([file]) => !existsSync(file as string));
  if (missing.length) return `${rt.id} needs Debian ${missing.map(([, pkg]) => pkg).join(', ')} (emulation)`;
  if (process.getuid?.() !== 0) return `${rt.id} needs root (unshare -m and a bind mount over /proc/cpuinfo)`;
  return false;
}

/** Installs node-linux-<arch>@<major> into .cache/runtimes/ once; returns the node binary. */
export async function installNode(rt: Runtime, log: (line: string) => void = console.log): Promise<string> {
  const prefix = join(RUNTIMES_CACHE, rt.id);
  const pkgDir = join(prefix, 'node_modules', `node-linux-${rt.arch}`);
  const bin = join(pkgDir, 'bin/node');
  const version = async () =>
    existsSync(bin)
      ? (JSON.parse(await readFile(join(pkgDir, 'package.json'), 'utf8')).version as string)
      : undefined;
  const have = await version();
  if (have?.startsWith(`${rt.major}.`)) return bin;
  const spec = `node-linux-${rt.arch}@${rt.major}`;
  log(`${rt.id}: npm install ${spec} into ${prefix}`);
  await mkdir(prefix, { recursive: true });
  const foreign = rt.arch === process.arch ? [] : ['--force', `--cpu=${rt.arch}`, '--os=linux'];
  await run(
    'npm',
    [
      'install',
      '--prefix',
      prefix,
      '--no-save',
      '--no-package-lock',
      '--no-audit',
      '--no-fund',
      ...foreign,
      spec,
    ],
    { timeout: 300_000 },
  );
  const got = await version();
  if (!got?.startsWith(`${rt.major}.`))
    throw new Error(`${spec}: installed ${got ?? 'nothing'} at ${pkgDir}`);
  return bin;
}

/**
 * Copies the built bundles (dist/api, dist/tagger) into a Lambda-like task folder outside the project,
 * so that nothing there can resolve the project's node_modules. Returns function name -> bundle.
 */
export async function lambdaTask(dir: string): Promise<Record<'api' | 'tagger', string>> {
  const out = { api: join(dir, 'api/index.mjs'), tagger: join(dir, 'tagger/index.mjs') };
  for (const [name, bundle] of [
    ['api', out.api],
    ['tagger', out.tagger],
  ] as const) {
    await mkdir(dirname(bundle), { recursive: true });
    for (const file of await readdir(join(DIST, name)))
      await copyFile(join(DIST, name, file), join(dirname(bundle), file));
  }
  return out;
}

export type Invocation = ProbePlan['invocations'][number];

/** Every sample event in events/ (s3-* to the tagger, the rest to the HTTP API). */
export async function sampleEvents(): Promise<Invocation[]> {
  const files = (await readdir(join(ROOT, 'events'))).filter((f) => f.endsWith('.json')).sort();
  return Promise.all(
    files.map(async (f) => ({
      name: basename(f, '.json'),
      fn: f.startsWith('s3-') ? 'tagger' : 'api',
      event: JSON.parse(await readFile(join(ROOT, 'events', f), 'utf8')),
    })),
  );
}

/**
 * The benchmark event with one run, for arm64 under emulation (about 20 s there: a second session
 * load; so only here, not in the CI test, which runs the x64 runtimes with events/benchmark.json).
 */
export const ARM64_BENCHMARK: Invocation = {
  name: 'benchmark',
  fn: 'api',
  event: { benchmark: { runs: 1 } },
};

/** The HTTP sample that posts raw bytes, with `image` as its body instead. */
export async function photoEvent(image: Buffer, name = 'photo'): Promise<Invocation> {
  const event = JSON.parse(await readFile(join(ROOT, 'events/http-classify-raw.json'), 'utf8'));
  event.headers = { ...event.headers, 'content-type': 'image/jpeg' };
  event.body = image.toString('base64');
  event.isBase64Encoded = true;
  return { name, fn: 'api', event };
}

/**
 * The command that runs `node ...args` of runtime `rt`: as is for this machine's arch; for arm64 on
 * x64, qemu-user (`cpu`: its CPU model, default max) in a private mount namespace whose
 * /proc/cpuinfo reads like that CPU's (onnxruntime-node crashes at load on an x86 one); for x64 with
 * a CPU model (e.g. Haswell), qemu-x86_64 emulating it: ONNX Runtime picks its kernels from CPUID,
 * which qemu answers for the model, so an AVX512-VNNI host runs the AVX2 kernels (correctness only:
 * emulation says nothing about speed).
 */
export function nodeCommand(rt: Runtime, nodeArgs: string[], cpu = 'max'): string[] {
  if (rt.arch === process.arch && (cpu === 'max' || cpu === 'host')) return nodeArgs;
  if (rt.arch === 'x64' && process.arch === 'x64') return [QEMU_X64, '-cpu', cpu, ...nodeArgs];
  const cpuinfo = ARM64_CPUINFO[cpu];
  if (!cpuinfo)
    throw new Error(`no /proc/cpuinfo fixture for qemu CPU "${cpu}" (${Object.keys(ARM64_CPUINFO)})`);
  return [
    'unshare',
    '-m',
    'sh',
    '-c',
    'mount --bind "$0" /proc/cpuinfo && exec "$@"',
    cpuinfo,
    QEMU,
    '-cpu',
    cpu,
    '-L',
    ARM64_SYSROOT,
    ...nodeArgs,
  ];
}

export interface ProbeOptions {
  node: string;
  /** The runtime layer folder (layers/runtime/build/<arch>); its nodejs/node_modules is NODE_PATH. */
  layer: string;
  bundles: Record<string, string>;
  modelDir: string;
  invocations: Invocation[];
  /** Extra environment (e.g. the local S3 endpoint and credentials). */
  env?: Record<string, string>;
}

export interface ProbeRun extends ProbeReport {
  wallMs: number;
  stdout: string;
  stderr: string;
}

/** Spawns the runtime's node on scripts/runtime-probe.ts (under emulation for a foreign arch). */
export async function probe(rt: Runtime, o: ProbeOptions): Promise<ProbeRun> {
  const work = await mkdtemp(join(tmpdir(), `runtime-${rt.id}-`));
  try {
    const plan: ProbePlan = { bundles: o.bundles, invocations: o.invocations };
    const planFile = join(work, 'plan.json');
    const reportFile = join(work, 'report.json');
    await writeFile(planFile, JSON.stringify(plan));
    const [cmd, ...args] = nodeCommand(rt, [o.node, PROBE, planFile, reportFile]);
    // A small Lambda-like environment: nothing of this process (NODE_OPTIONS from tsx or vitest,
    // the project's paths) leaks in.
    const env: Record<string, string> = {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      LANG: 'en_US.UTF-8',
      TZ: ':UTC',
      NODE_PATH: join(o.layer, 'nodejs/node_modules'),
      AWS_EXECUTION_ENV: `AWS_Lambda_nodejs${rt.major}.x`,
      AWS_REGION: 'us-east-1',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(MB_PER_LAMBDA_VCPU),
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      POWERTOOLS_METRICS_DISABLED: 'true',
      MODEL_DIR: o.modelDir,
      // Direct invocations, as Lambda's Invoke API makes them: no API Gateway, no sign-in.
      AUTH_PUBLIC: 'true',
      ...o.env,
    };
    const t0 = performance.now();
    const { stdout, stderr } = await run(cmd as string, args, {
      cwd: work,
      env,
      timeout: rt.arch === process.arch ? 120_000 : 600_000,
      maxBuffer: 64 * 1024 * 1024,
    }).catch((err: Error & { stdout?: string; stderr?: string }) => {
      throw new Error(`${rt.id}: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`.trim());
    });
    const wallMs = performance.now() - t0;
    const report = JSON.parse(await readFile(reportFile, 'utf8')) as ProbeReport;
    return { ...report, wallMs, stdout, stderr };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

type HttpResult = { statusCode?: number; headers?: Record<string, string>; body?: string };
const bodyOf = (r: unknown) => {
  try {
    return JSON.parse((r as HttpResult).body ?? 'null');
  } catch {
    return undefined;
  }
};

/** What is wrong with a probe report (empty when the runtime passed). */
export function problems(rt: Runtime, report: ProbeReport, layer: string): string[] {
  const out: string[] = [];
  if (!report.node.startsWith(`v${rt.major}.`)) out.push(`ran Node ${report.node}, not ${rt.major}`);
  if (report.arch !== rt.arch) out.push(`ran on ${report.arch}, not ${rt.arch}`);
  for (const [name, path] of Object.entries(report.resolved))
    if (!path.startsWith(join(layer, 'nodejs/node_modules/')))
      out.push(`${name} resolved to ${path}, not the layer`);
  for (const r of report.results) {
    const http = r.result as HttpResult;
    const body = bodyOf(r.result);
    const expect = (ok: boolean, what: string) => {
      if (!ok)
        out.push(`${r.name}: expected ${what}, got ${JSON.stringify(r.result ?? r.error).slice(0, 3000)}`);
    };
    if (r.error) {
      out.push(`${r.name}: threw ${r.error}`);
      continue;
    }
    if (r.name === 'photo') {
      expect(
        http.statusCode === 200 && body?.labels?.[0]?.label === PHOTO.label,
        `top label "${PHOTO.label}"`,
      );
    } else if (r.name === 'http-classify-raw') {
      expect(http.statusCode === 200 && body?.labels?.length === 3, '200 with 3 labels');
    } else if (r.name === 'http-classify-json') {
      expect(http.statusCode === 200 && body?.labels?.length === 2, '200 with 2 labels');
    } else if (r.name === 'http-health') {
      expect(http.statusCode === 200 && body?.status === 'ok', '200 {status: "ok"}');
      expect(body?.jpegDecoder === 'libjpeg-turbo', "JPEGs decoded by the layer's libjpeg-turbo");
    } else if (r.name === 'http-page') {
      expect(
        http.statusCode === 200 && /text\/html/.test(http.headers?.['content-type'] ?? ''),
        'an HTML page',
      );
    } else if (r.name === 'http-classify-unsupported') {
      expect(http.statusCode === 415, '415');
    } else if (r.name.startsWith('s3-object-removed')) {
      // A removal is answered per record and never tags (the index forgets the key).
      const records = r.result as { result?: string; tags?: unknown }[];
      expect(
        Array.isArray(records) &&
          records.length > 0 &&
          records.every((x) => typeof x.result === 'string' && x.result !== 'tagged' && x.tags === undefined),
        'every record answered, none tagged',
      );
    } else if (r.name === 's3-batch-operations') {
      // S3 Batch Operations (src/tagging/batch.ts): one result per task, the photo's label in it.
      const results = (r.result as { results?: { resultCode?: string; resultString?: string }[] })?.results;
      expect(
        Array.isArray(results) &&
          results.length > 0 &&
          results.every((x) => x.resultCode === 'Succeeded' && x.resultString?.includes(PHOTO.label)),
        `every task Succeeded with "${PHOTO.label}"`,
      );
    } else if (r.name.startsWith('s3-')) {
      // Both S3 callers upload PHOTO under the event's key, with no tags, before each run. The two S3
      // samples (notification and EventBridge) name the same object: the second finds the tags there.
      const records = r.result as { result?: string; tags?: { Key: string; Value: string }[] }[];
      expect(
        Array.isArray(records) &&
          records.length > 0 &&
          records.every(
            (x) =>
              (x.result === 'tagged' || x.result === 'unchanged') &&
              x.tags?.some((t) => t.Key === 'tagger:top' && t.Value === PHOTO.label),
          ),
        `every record tagged "${PHOTO.label}"`,
      );
    } else if (r.name === 'benchmark') {
      // The direct-invoke benchmark (src/classifier/benchmark.ts) where the bundle runs.
      const bench = r.result as Partial<BenchmarkReport> | undefined;
      expect(
        bench?.cpu?.flags !== null &&
          bench?.cpu?.arch === rt.arch &&
          (bench?.storages?.length ?? 0) > 0 &&
          (bench?.storages ?? []).every(
            (s) => s.runs > 0 && (s.medianMs ?? 0) > 0 && (!s.exact || (s.maxAbsDiffVsU8 ?? 0) === 0),
          ),
        'a benchmark report: the CPU flags, every storage timed, the exact ones identical to u8',
      );
    } else {
      expect(http.statusCode !== undefined && http.statusCode < 500, 'a status below 500');
    }
  }
  return out;
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { only: { type: 'string' }, 'model-dir': { type: 'string' } },
  });
  const { buildBundles } = await import('./build.ts');
  const { buildRuntimeLayer } = await import('./build-runtime-layer.ts');
  const { startLocalS3 } = await import('./local/local-s3.ts');
  const { importModel } = await import('../models/import.ts');
  const { PutObjectCommand, PutObjectTaggingCommand, S3Client } = await import('@aws-sdk/client-s3');
  const photo = join(SHARED_FILES.photos, PHOTO.file);
  if (!existsSync(photo) && !values['model-dir']) {
    console.log(`check:runtimes: skipped: ${SHARED} (models, labels, photos) is absent`);
    return;
  }
  const wanted = values.only?.split(',') ?? RUNTIMES.map((r) => r.id);
  const unknown = wanted.filter((id) => !RUNTIMES.some((r) => r.id === id));
  if (unknown.length) throw new Error(`unknown runtime ${unknown} (${RUNTIMES.map((r) => r.id)})`);
  const runtimes = RUNTIMES.filter((r) => wanted.includes(r.id));
  const timings: [string, number][] = [];
  const timed = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const v = await f();
    timings.push([what, performance.now() - t0]);
    return v;
  };

  let modelDir = values['model-dir']
    ? resolve(values['model-dir'])
    : join(RUNTIMES_CACHE, 'model/mobilenetv2-int8');
  if (!values['model-dir'] && !existsSync(join(modelDir, 'model.json'))) {
    await timed('import ../shared MobileNetV2 int8', () =>
      importModel({
        model: SHARED_FILES.int8,
        labels: SHARED_FILES.labels,
        name: 'mobilenetv2-int8',
        out: modelDir,
      }),
    );
  }
  modelDir = resolve(modelDir);
  await timed('build bundles', () => buildBundles(() => {}));
  const task = await mkdtemp(join(tmpdir(), 'lambda-task-'));
  const s3dir = await mkdtemp(join(tmpdir(), 'runtimes-s3-'));
  const events = await sampleEvents();
  // The notification's objects are uploaded first (the other S3 events name the same objects).
  const s3event = events.find((e) => e.name === 's3-object-created')?.event as
    | { Records: { s3: { bucket: { name: string }; object: { key: string } } }[] }
    | undefined;
  const bucket = s3event?.Records[0]?.s3.bucket.name ?? 'unused';
  const s3 = await startLocalS3({ directory: s3dir, buckets: [bucket] });
  let failed = 0;
  try {
    const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
    const client = new S3Client({
      endpoint: s3.endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials,
    });
    const upload = async () => {
      for (const record of s3event?.Records ?? []) {
        const key = decodeURIComponent(record.s3.object.key.replace(/\+/g, ' '));
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: await readFile(photo) }));
        // s3rver keeps an overwritten object's tags (S3 would drop them).
        await client.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: key, Tagging: { TagSet: [] } }));
      }
    };
    const bundles = await lambdaTask(task);
    const photoInvocation = await photoEvent(await readFile(photo));
    const rows: string[] = [];
    for (const rt of runtimes) {
      const why = unavailable(rt);
      if (why) {
        console.log(`${rt.id}: skipped: ${why}`);
        continue;
      }
      const layer = await timed(`runtime layer ${rt.arch}`, () => buildRuntimeLayer(rt.arch, () => {}));
      const node = await timed(`install ${rt.id}`, () => installNode(rt));
      const invocations =
        rt.arch === process.arch
          ? [...events, photoInvocation]
          : [...events.filter((e) => e.name === 'http-health'), ARM64_BENCHMARK, photoInvocation];
      await upload(); // a fresh, untagged object for each runtime
      const report = await timed(`run ${rt.id}`, () =>
        probe(rt, {
          node,
          layer,
          bundles,
          modelDir,
          invocations,
          env: {
            AWS_ENDPOINT_URL_S3: s3.endpoint,
            AWS_ACCESS_KEY_ID: credentials.accessKeyId,
            AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
          },
        }),
      );
      const bad = problems(rt, report, layer);
      failed += bad.length ? 1 : 0;
      const top = bodyOf(report.results.find((r) => r.name === 'photo')?.result)?.labels?.[0];
      rows.push(
        `| ${rt.id} | ${report.node} ${report.arch} | ${report.results.length} | ${top ? `${top.label} ${top.score.toFixed(3)}` : '-'} | ${Math.max(...Object.values(report.initMs)).toFixed(0)} | ${(report.wallMs / 1000).toFixed(1)} | ${bad.length ? `FAIL: ${bad.join('; ')}` : 'ok'} |`,
      );
    }
    console.log(
      [
        '',
        `| runtime | node | invocations | ${PHOTO.file} | init ms (import + session + warm-up) | wall s | result |`,
        '| --- | --- | ---: | --- | ---: | ---: | --- |',
        ...rows,
        '',
        '| step | s |',
        '| --- | ---: |',
        ...timings.map(([what, ms]) => `| ${what} | ${(ms / 1000).toFixed(1)} |`),
      ].join('\n'),
    );
  } finally {
    await s3.close();
    await rm(task, { recursive: true, force: true });
    await rm(s3dir, { recursive: true, force: true });
  }
  if (failed) throw new Error(`${failed} runtime(s) failed`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err: Error) => {
    console.error(`check:runtimes: ${err.message}`);
    process.exit(1);
  });
}
