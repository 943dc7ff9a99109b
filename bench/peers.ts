/**
 * npm run bench -- --peers [--runs N] [--preprocess-only] [--baseline <git ref>] [--node 22|24]
 * (also alone: npx tsx bench/peers.ts ...)
 *
 * The project against what its users would pick instead, on the same ONNX files and photos, timed
 * round-robin in one run (each peer in turn, request by request), so ratios compare like with like
 * on a shared machine:
 * - preprocessing, bytes to tensor: the project's preprocess() against torchvision's PIL transforms
 *   and the same steps in PIL + numpy (bench/peers_python.py, Debian's python3-torchvision), on
 *   JPEG, PNG and WebP of 0.15, 0.3, 3 and 12 MP made from a shared photo; with --baseline, the
 *   preprocess() of another commit's src/ too;
 * - per model: inference, end to end (bytes to top-3), cold start (process start to the first
 *   top-3, with each side's warm-up), peak RSS, and top-1 agreement on the 50 shared photos, for the
 *   project, ONNX Runtime's Python package + PIL/numpy (installed on demand into .cache/peers with
 *   pip; when it cannot be, the Python rows time PIL's preprocessing and the same inference in
 *   ONNX Runtime for Node, and say so) and transformers.js (installed on demand into .cache/peers
 *   with npm, never a dependency of the service).
 * Needs ../shared (photos, MobileNetV2) and /usr/bin/python3 with torchvision; says what is missing.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { buildModel } from '../models/build.ts';
import { importModel } from '../models/import.ts';
import { cacheDir, LAYER_MODELS, layerModelDir, ROOT, SHARED, SHARED_FILES } from '../paths.ts';
import { bundle } from '../scripts/build.ts';
import { installNode, RUNTIMES } from '../scripts/runtimes.ts';
import { type Classifier, createClassifier } from '../src/classifier/classifier.ts';
import { INT8_FLAGS, readCpuInfo } from '../src/classifier/cpu.ts';
import { IMAGENET_DEFAULTS, type ModelMeta } from '../src/classifier/model-folder.ts';
import { sharp } from '../src/classifier/native.ts';
import { DEFAULT_LIMITS } from '../src/classifier/preprocess.ts';
import { median } from './cold-start.ts';

const run = promisify(execFile);
const CACHE = cacheDir('peers');
const PYTHON = '/usr/bin/python3';
const PYTHON_PEER = join(ROOT, 'bench/peers_python.py');

export const PEER_SIZES_MP = [0.15, 0.3, 3, 12] as const;
export const PEER_FORMATS = ['jpeg', 'png', 'webp'] as const;

type Spec = typeof IMAGENET_DEFAULTS;
interface Sample {
  ms: number;
  cpuMs: number;
}
type Preprocess = (bytes: Uint8Array, spec: Spec, limits: typeof DEFAULT_LIMITS) => Promise<unknown>;

/** A 12 MP photo as PNG is about 30 MB, above the service's 25 MB: the benchmark lifts the byte limit. */
const LIMITS = { ...DEFAULT_LIMITS, maxBytes: 64 * 1024 * 1024 };

const fmt = (ms: number) => ms.toFixed(ms < 10 ? 2 : 1);
const ratio = (a: number, b: number) => (a / b).toFixed(2);

/** A long-lived peer process (Python, or transformers.js): one JSON request per line, one JSON reply per line. */
export class PeerProcess {
  private readonly child;
  private readonly lines: AsyncIterator<string>;

  constructor(command: string, script: string, env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(command, [script, 'serve'], {
      env: { ...process.env, OMP_NUM_THREADS: '1', ...env },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }

  async ask<T = Record<string, unknown>>(request: Record<string, unknown>): Promise<T> {
    this.child.stdin.write(`${JSON.stringify(request)}\n`);
    const { value, done } = await this.lines.next();
    if (done)
      throw new Error(
        `the peer ${this.child.spawnargs.join(' ')} exited (${this.child.exitCode ?? 'signal'})`,
      );
    const reply = JSON.parse(value as string);
    if (reply.error) throw new Error(`peer: ${reply.error}`);
    return reply as T;
  }

  close(): void {
    this.child.stdin.end();
  }
}

/** Why the Python peer cannot run here, or false. */
export async function pythonMissing(): Promise<string | false> {
  if (!existsSync(PYTHON)) return `${PYTHON} is absent (install Debian python3-torchvision)`;
  try {
    await run(PYTHON, ['-c', 'import torchvision, PIL, numpy'], { timeout: 60_000 });
    return false;
  } catch {
    return `${PYTHON} cannot import torchvision (apt-get install python3-torchvision)`;
  }
}

/** A photographic image of about `megapixels` (4:3) in `format`, made once into the cache. */
async function imageOf(megapixels: number, format: (typeof PEER_FORMATS)[number]) {
  const width = Math.round(Math.sqrt((megapixels * 1e6 * 4) / 3));
  const height = Math.round((width * 3) / 4);
  const path = join(CACHE, `photo-${megapixels}mp.${format}`);
  if (!existsSync(path)) {
    const scaled = sharp(join(SHARED_FILES.photos, '207-Golden-Retriever.jpg')).resize(width, height, {
      fit: 'fill',
    });
    const encoded =
      format === 'jpeg'
        ? scaled.jpeg({ quality: 90 })
        : format === 'png'
          ? scaled.png({ compressionLevel: 6 })
          : scaled.webp({ quality: 90 });
    await encoded.toFile(path);
  }
  const bytes = await readFile(path);
  return {
    path,
    bytes,
    label: `${megapixels} MP ${format.toUpperCase()}`,
    detail: `${width}x${height}, ${Math.round(bytes.length / 1024)} KB`,
  };
}

/** src/ of a commit, extracted under the cache (node_modules resolve from the repository root). */
function baselineSrc(ref: string): { name: string; src: string } {
  const sha = execFileSync('git', ['rev-parse', '--short', ref], { cwd: ROOT, encoding: 'utf8' }).trim();
  const dir = join(CACHE, `baseline-${sha}`);
  if (!existsSync(join(dir, 'src')))
    execFileSync('sh', ['-c', `mkdir -p "${dir}" && git archive ${sha} src | tar -x -C "${dir}"`], {
      cwd: ROOT,
    });
  return { name: `project at ${ref} (${sha})`, src: join(dir, 'src') };
}

/**
 * Preprocessing, bytes to the model's input tensor, round-robin: per round and image, torchvision,
 * PIL + numpy, then each project tree. Medians in ms, and the project's ratio to torchvision.
 */
async function preprocessTable(
  peer: PeerProcess,
  rounds: number,
  baseline: string | undefined,
  sizes: readonly number[],
  log: (line: string) => void,
): Promise<void> {
  const images: Awaited<ReturnType<typeof imageOf>>[] = [];
  for (const mp of sizes) for (const format of PEER_FORMATS) images.push(await imageOf(mp, format));
  const trees = [{ name: 'project', src: join(ROOT, 'src') }];
  if (baseline) trees.push(baselineSrc(baseline));
  const fns: Preprocess[] = [];
  for (const tree of trees)
    fns.push((await import(join(tree.src, 'classifier/preprocess.ts'))).preprocess as Preprocess);
  const versions = await peer.ask<{ pillow: string; numpy: string }>({
    op: 'load',
    spec: IMAGENET_DEFAULTS,
    files: images.map((i) => i.path),
  });
  const columns = ['torchvision', 'PIL + numpy', ...trees.map((t) => t.name)];
  const times = images.map(() => columns.map((): Sample[] => []));
  const python = (impl: string) => (i: number) => peer.ask<Sample>({ op: 'pre', i, impl });
  const node = (fn: Preprocess) => async (i: number) => {
    const cpu = process.cpuUsage();
    const t = performance.now();
    await fn(images[i]?.bytes as Buffer, IMAGENET_DEFAULTS, LIMITS);
    const ms = performance.now() - t;
    const used = process.cpuUsage(cpu);
    return { ms, cpuMs: (used.user + used.system) / 1000 };
  };
  const runners = [python('torchvision'), python('numpy'), ...fns.map(node)];
  for (let r = -2; r < rounds; r++)
    // Each round starts with the next runner, so none always runs right after another process.
    for (const i of images.keys())
      for (let j = 0; j < runners.length; j++) {
        const c = (j + r + runners.length * 2) % runners.length;
        const sample = await (runners[c] as (i: number) => Promise<Sample>)(i);
        if (r >= 0) times[i]?.[c]?.push(sample);
      }
  log(`## Preprocessing: bytes to tensor, medians of ${rounds} round-robin rounds\n`);
  log(
    `Pillow ${versions.pillow}, numpy ${versions.numpy}; ImageNet transform (shorter side 256, centre 224). ` +
      'Wall ms and CPU ms (every thread of the process: process.cpuUsage, time.process_time), each timed ' +
      'inside its own process (the pipe to Python is not counted); each round starts with the next column. ' +
      '"x torchvision" and "x PIL + numpy": the project\'s median over theirs (wall / CPU). The 12 MP PNG ' +
      "(about 30 MB) is above the service's 25 MB limit; the benchmark lifts that limit to time it.\n",
  );
  log(
    `| image | size | ${columns.map((c) => `${c} wall | CPU`).join(' | ')} | x torchvision | x PIL + numpy |`,
  );
  log(`| --- | --- | ${columns.map(() => '---: | ---:').join(' | ')} | ---: | ---: |`);
  for (const [i, image] of images.entries()) {
    const m = (times[i] ?? []).map((xs) => ({
      ms: median(xs.map((x) => x.ms)),
      cpuMs: median(xs.map((x) => x.cpuMs)),
    }));
    const [tv, np, project] = m as [Sample, Sample, Sample];
    const x = (peer: Sample) => `${ratio(project.ms, peer.ms)} / ${ratio(project.cpuMs, peer.cpuMs)}`;
    log(
      `| ${image.label} | ${image.detail} | ${m.map((s) => `${fmt(s.ms)} | ${fmt(s.cpuMs)}`).join(' | ')} | ${x(tv)} | ${x(np)} |`,
    );
  }
  log('');
}

const PYTHON_SITE = join(CACHE, 'python');

/**
 * ONNX Runtime's Python package, the version of onnxruntime-node, installed once into the cache with
 * /usr/bin/python3's pip (from whatever index pip is configured with); the reason when it cannot be.
 */
async function installPythonOrt(log: (line: string) => void): Promise<string | false> {
  const version = JSON.parse(await readFile(join(ROOT, 'node_modules/onnxruntime-node/package.json'), 'utf8'))
    .version as string;
  if (existsSync(join(PYTHON_SITE, `onnxruntime-${version}.dist-info`))) return false;
  console.error(`peers: pip install onnxruntime==${version} into ${PYTHON_SITE} (once)...`);
  try {
    await run(
      PYTHON,
      ['-m', 'pip', 'install', '--quiet', '--no-deps', '--target', PYTHON_SITE, `onnxruntime==${version}`],
      { timeout: 600_000 },
    );
    return false;
  } catch (err) {
    const why = `pip cannot install onnxruntime==${version}: ${(err as Error).message.split('\n').slice(-2).join(' ')}`;
    log(`(${why})`);
    return why;
  }
}

interface PeerModel {
  name: string;
  dir: string;
}

/** ../shared's zoo MobileNetV2 int8 and ResNet-18 (the model layer's, else the synthetic one), in the cache. */
async function peerModels(): Promise<PeerModel[]> {
  const models: PeerModel[] = [];
  const mobilenet = join(CACHE, 'mobilenetv2-int8');
  if (!existsSync(join(mobilenet, 'model.json')))
    await importModel({
      model: SHARED_FILES.int8,
      labels: SHARED_FILES.labels,
      name: 'mobilenetv2-int8',
      out: mobilenet,
    });
  models.push({ name: 'MobileNetV2 int8 (../shared zoo)', dir: mobilenet });
  const layer = existsSync(LAYER_MODELS)
    ? (await import('node:fs/promises'))
        .readdir(LAYER_MODELS)
        .then((n) => n.find((x) => x.startsWith('resnet18')))
    : undefined;
  const layerName = await layer;
  if (layerName)
    models.push({ name: `ResNet-18 int8 (${layerName}, model layer)`, dir: layerModelDir(layerName) });
  else {
    const dir = join(CACHE, 'resnet18-synthetic');
    if (!existsSync(join(dir, 'model.json'))) {
      console.error('peers: building the synthetic ResNet-18 (once)...');
      await buildModel({ synthetic: 'resnet18', labels: SHARED_FILES.labels, out: dir, log: () => {} });
    }
    models.push({ name: 'ResNet-18 int8 (synthetic weights)', dir });
  }
  return models;
}

const top1 = (scores: Float32Array) => {
  let best = 0;
  for (let i = 1; i < scores.length; i++) if ((scores[i] as number) > (scores[best] as number)) best = i;
  return best;
};

interface ColdSample {
  wallMs: number;
  /** CPU time of the process (every thread) up to its first top-3, as it reports it. */
  cpuMs: number;
  peakRssMb: number;
  parts: Record<string, number>;
}

/** One fresh process from spawn to its JSON line (the first top-3), wall time as the parent sees it. */
async function coldRun(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<ColdSample> {
  const t = performance.now();
  const { stdout } = await run(command, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    timeout: 120_000,
  });
  const wallMs = performance.now() - t;
  const out = JSON.parse(stdout.trim().split('\n').pop() as string);
  return { wallMs, cpuMs: out.cpuMs, peakRssMb: out.peakRssMb, parts: out.parts ?? {} };
}

/** One side of a model table: what it times, in turn with the others. */
interface Contender {
  name: string;
  /** ms of one inference on photo i (preprocessed by the contender itself, not timed). */
  infer(i: number): Promise<number>;
  /** ms from photo i's bytes to its top-3, and its top-1. */
  e2e(i: number): Promise<{ ms: number; top1: number | undefined }>;
  /** One fresh process from spawn to its first top-3 (undefined: none). */
  cold?: () => Promise<ColdSample>;
  close(): Promise<void> | void;
}

const TRANSFORMERS_PEER = join(ROOT, 'bench/peers_transformers.mjs');
const TRANSFORMERS_DIR = join(CACHE, 'transformers');
/** The transformers.js release the benchmark installs (same onnxruntime-node and sharp lines as the project). */
export const TRANSFORMERS_VERSION = '4.3.2';

/** transformers.js, installed once into the cache with npm (never a dependency); the reason when it cannot be. */
async function installTransformers(log: (line: string) => void): Promise<string | false> {
  const pkg = join(TRANSFORMERS_DIR, 'node_modules/@huggingface/transformers/package.json');
  if (existsSync(pkg) && JSON.parse(await readFile(pkg, 'utf8')).version === TRANSFORMERS_VERSION)
    return false;
  console.error(
    `peers: npm install @huggingface/transformers@${TRANSFORMERS_VERSION} into ${TRANSFORMERS_DIR} (once)...`,
  );
  await mkdir(TRANSFORMERS_DIR, { recursive: true });
  try {
    await run(
      'npm',
      [
        'install',
        '--prefix',
        TRANSFORMERS_DIR,
        '--no-save',
        '--no-package-lock',
        '--no-audit',
        '--no-fund',
        '--ignore-scripts',
        `@huggingface/transformers@${TRANSFORMERS_VERSION}`,
      ],
      { timeout: 600_000, env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' } },
    );
    return false;
  } catch (err) {
    const why = `npm cannot install @huggingface/transformers@${TRANSFORMERS_VERSION}: ${(err as Error).message.split('\n')[0]}`;
    log(`(${why})`);
    return why;
  }
}

/** A peer process as a contender: its own preprocessing and session on the same ONNX file. */
async function peerContender(
  name: string,
  command: string,
  script: string,
  env: NodeJS.ProcessEnv,
  load: Record<string, unknown>,
  coldArgs: string[],
): Promise<Contender> {
  const peer = new PeerProcess(command, script, env);
  await peer.ask(load);
  return {
    name,
    infer: async (i) => (await peer.ask<{ ms: number }>({ op: 'infer', i })).ms,
    e2e: async (i) => {
      const r = await peer.ask<{ ms: number; top3: number[] }>({ op: 'e2e', i });
      return { ms: r.ms, top1: r.top3[0] };
    },
    cold: () => coldRun(command, [script, 'cold', ...coldArgs], { ...env, OMP_NUM_THREADS: '1' }),
    close: () => peer.close(),
  };
}

/**
 * One model: inference, end to end, top-1 agreement with the project, cold start and peak RSS; the
 * project against the Python path (ORT Python + PIL/numpy) and transformers.js, round-robin in one
 * run (each round starts with the next contender).
 */
async function modelTable(
  model: PeerModel,
  photos: string[],
  rounds: number,
  missing: { pythonOrt: string | false; transformers: string | false },
  node: { bin: string; version: string },
  log: (line: string) => void,
): Promise<void> {
  const classifier: Classifier = await createClassifier(model.dir, { threads: 1 });
  const file = join(model.dir, classifier.weights.file);
  const meta = classifier.folder.meta as ModelMeta;
  const spec = join(CACHE, `${meta.name}-spec.json`);
  await writeFile(spec, JSON.stringify(meta));
  const coldImage = (await imageOf(0.3, 'jpeg')).path;
  const entry = join(CACHE, 'cold-start.mjs');
  await bundle(join(ROOT, 'bench/cold-start-entry.ts'), entry);
  const bytes = await Promise.all(photos.map((f) => readFile(f)));
  const planes = await Promise.all(bytes.map(async (b) => (await preprocessFor(b, meta)).data));
  const contenders: Contender[] = [
    {
      name: 'project (Node)',
      infer: async (i) => {
        const t = performance.now();
        await classifier.infer(planes[i] as Float32Array);
        return performance.now() - t;
      },
      e2e: async (i) => {
        const t = performance.now();
        const { labels } = await classifier.classify(bytes[i] as Buffer);
        return { ms: performance.now() - t, top1: labels[0]?.index };
      },
      cold: () =>
        coldRun(node.bin, [entry], {
          MODEL_DIR: model.dir,
          BENCH_IMAGE: coldImage,
          MODEL_THREADS: '1',
        }),
      close: () => classifier.release(),
    },
  ];
  const notes: string[] = [];
  const load = { op: 'load', spec: meta, files: photos, model: file };
  if (!missing.pythonOrt)
    contenders.push(
      await peerContender(
        'ONNX Runtime Python + PIL/numpy',
        PYTHON,
        PYTHON_PEER,
        { PYTHONPATH: PYTHON_SITE },
        load,
        [file, spec, coldImage],
      ),
    );
  else {
    // No Python ONNX Runtime: PIL/numpy's tensor through the project's own session, so the row still
    // says what Python's preprocessing gives and costs.
    const peer = new PeerProcess(PYTHON, PYTHON_PEER);
    await peer.ask({ ...load, model: undefined });
    contenders.push({
      name: 'PIL/numpy + ONNX Runtime for Node',
      infer: async (i) => {
        const t = performance.now();
        await classifier.infer(await pythonPlanes(peer, i, meta));
        return performance.now() - t;
      },
      e2e: async (i) => {
        const pre = await peer.ask<{ ms: number }>({
          op: 'pre',
          i,
          impl: 'numpy',
          save: join(CACHE, 'planes.f32'),
        });
        const t = performance.now();
        const x = await readFile(join(CACHE, 'planes.f32'));
        const scores = await classifier.infer(new Float32Array(x.buffer, x.byteOffset, x.byteLength / 4));
        return { ms: pre.ms + performance.now() - t, top1: top1(scores) };
      },
      close: () => peer.close(),
    });
    notes.push(
      `No ONNX Runtime for Python here (${missing.pythonOrt}): that column is PIL/numpy's preprocessing (timed in Python) plus the project's inference in Node; no cold start.`,
    );
  }
  if (!missing.transformers)
    contenders.push(
      await peerContender(
        `transformers.js ${TRANSFORMERS_VERSION}`,
        process.execPath,
        TRANSFORMERS_PEER,
        { TRANSFORMERS_DIR },
        load,
        [file, spec, coldImage],
      ),
    );
  else notes.push(`No transformers.js column: ${missing.transformers}.`);

  const n = contenders.length;
  const infer = contenders.map((): number[] => []);
  const e2e = contenders.map((): number[] => []);
  const agree = contenders.map(() => 0);
  const cold = contenders.map((): ColdSample[] => []);
  try {
    // Top-1 agreement with the project on every photo (also the warm-up of every side).
    for (const i of photos.keys()) {
      const tops = [];
      for (const c of contenders) tops.push((await c.e2e(i)).top1);
      for (const [c, t] of tops.entries()) if (t === tops[0]) agree[c] = (agree[c] as number) + 1;
    }
    for (let r = 0; r < rounds; r++) {
      const i = r % photos.length;
      for (let j = 0; j < n; j++) {
        const c = (j + r) % n;
        const contender = contenders[c] as Contender;
        infer[c]?.push(await contender.infer(i));
        e2e[c]?.push((await contender.e2e(i)).ms);
      }
    }
    const coldRuns = Math.max(9, Math.ceil(rounds / 5));
    for (let r = 0; r < coldRuns; r++)
      for (let j = 0; j < n; j++) {
        const c = (j + r) % n;
        const run = contenders[c]?.cold;
        if (run) cold[c]?.push(await run());
      }
  } finally {
    for (const c of contenders) await c.close();
  }
  const m = (xs: number[]) => (xs.length ? median(xs) : Number.NaN);
  log(`### ${model.name}: ${classifier.weights.file} (${classifier.weights.reason})\n`);
  log(
    `Medians; inference and end to end: ${rounds} round-robin rounds, 1 thread, the ${photos.length} shared photos in turn ` +
      '(end to end = JPEG bytes to top-3, each side with its own preprocessing); cold start: process start to the first ' +
      `top-3 of a 0.3 MP JPEG as the parent sees it, ${cold[0]?.length ?? 0} alternating runs (the project's under Node ${node.version}), and the CPU time (every thread) each process reports at that point; ` +
      'peak RSS = VmHWM of those processes. ' +
      '"x project": the column over the project\'s.\n',
  );
  log(`| | ${contenders.map((c, k) => (k === 0 ? c.name : `${c.name} | x project`)).join(' | ')} |`);
  log(`| --- | ${contenders.map((_, k) => (k === 0 ? '---:' : '---: | ---:')).join(' | ')} |`);
  const row = (what: string, values: number[][], unit: (x: number) => string = fmt) => {
    const base = m(values[0] ?? []);
    const cells = values.map((xs, k) => {
      const v = m(xs);
      const cell = xs.length ? unit(v) : 'n/a';
      return k === 0 ? cell : `${cell} | ${xs.length ? ratio(v, base) : 'n/a'}`;
    });
    log(`| ${what} | ${cells.join(' | ')} |`);
  };
  row('inference ms', infer);
  row('end to end ms', e2e);
  row(
    'cold start ms',
    cold.map((s) => s.map((x) => x.wallMs)),
  );
  row(
    'cold start CPU ms',
    cold.map((s) => s.map((x) => x.cpuMs)),
  );
  row(
    'peak RSS MB',
    cold.map((s) => s.map((x) => x.peakRssMb)),
    (x) => x.toFixed(0),
  );
  log(
    `| top-1 same as the project | ${agree.map((a, k) => (k === 0 ? `${a}/${photos.length}` : `${a}/${photos.length} |`)).join(' | ')} |`,
  );
  log('');
  for (const note of notes) log(`${note}\n`);
  const parts = (samples: ColdSample[]) =>
    Object.keys(samples[0]?.parts ?? {})
      .map((k) => `${k} ${m(samples.map((s) => s.parts[k] as number)).toFixed(0)}`)
      .join(', ');
  log(
    `Cold start, where the time goes (ms from the process's start, medians): ${contenders
      .map((c, k) => (cold[k]?.length ? `${c.name}: ${parts(cold[k] as ColdSample[])}` : ''))
      .filter(Boolean)
      .join('; ')}.\n`,
  );
}

/** The model's input from PIL + numpy (the Python peer writes it to a file). */
async function pythonPlanes(peer: PeerProcess, i: number, meta: ModelMeta): Promise<Float32Array> {
  const save = join(CACHE, 'planes.f32');
  await peer.ask({ op: 'pre', i, impl: 'numpy', save });
  const bytes = await readFile(save);
  const planes = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  if (planes.length !== 3 * meta.cropSize * meta.cropSize)
    throw new Error('Python peer wrote a tensor of the wrong size');
  return planes;
}

async function preprocessFor(bytes: Uint8Array, meta: ModelMeta) {
  const { preprocess } = await import('../src/classifier/preprocess.ts');
  return preprocess(bytes, meta);
}

export interface PeersOptions {
  runs?: number;
  preprocessOnly?: boolean;
  baseline?: string;
  /** Megapixels of the preprocessing images (default PEER_SIZES_MP). */
  sizes?: number[];
  /**
   * The Node major of the project's cold starts (22 or 24, as Lambda runs it: installed once into
   * .cache/runtimes like `npm run check:runtimes`); default this process's Node.
   */
  node?: number;
}

/** The node binary of the project's cold starts, and its version. */
async function coldStartNode(major: number | undefined): Promise<{ bin: string; version: string }> {
  if (major === undefined) return { bin: process.execPath, version: process.versions.node };
  const runtime = RUNTIMES.find((r) => r.major === major && r.arch === process.arch);
  if (!runtime)
    throw new Error(
      `--node ${major}: Lambda offers Node ${[...new Set(RUNTIMES.map((r) => r.major))].join(' and ')}`,
    );
  const bin = await installNode(runtime, (line) => console.error(`peers: ${line}`));
  return { bin, version: execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim().replace(/^v/, '') };
}

/** Runs the peers benchmark; each markdown line goes to `onLine` and is returned. */
export async function peersBench(
  options: PeersOptions = {},
  onLine: (line: string) => void = () => {},
): Promise<string[]> {
  const lines: string[] = [];
  const log = (line = '') => {
    lines.push(line);
    onLine(line);
  };
  const runs = options.runs ?? 30;
  if (!existsSync(SHARED_FILES.photos)) {
    log(`(${SHARED} is absent: the peers benchmark needs its photos and MobileNetV2; nothing measured)`);
    return lines;
  }
  const missing = await pythonMissing();
  if (missing) {
    log(`(the peers benchmark needs the Python path: ${missing}; nothing measured)`);
    return lines;
  }
  await mkdir(CACHE, { recursive: true });
  const cpu = readCpuInfo();
  const flags = INT8_FLAGS.filter((f) => cpu.flags?.has(f));
  log(`# Peers: the project against the Python path and transformers.js (${new Date().toISOString()})\n`);
  log(
    `CPU: ${cpu.model ?? 'unknown'} (${cpu.arch}; flags: ${flags.join(', ') || 'none of the int8 ones'}); load average ${(await readFile('/proc/loadavg', 'utf8').catch(() => '?')).split(' ').slice(0, 3).join(' ')}.\n`,
  );
  const peer = new PeerProcess(PYTHON, PYTHON_PEER);
  try {
    await preprocessTable(peer, runs, options.baseline, options.sizes ?? PEER_SIZES_MP, log);
  } finally {
    peer.close();
  }
  if (options.preprocessOnly) return lines;
  const absent = { pythonOrt: await installPythonOrt(log), transformers: await installTransformers(log) };
  const node = await coldStartNode(options.node);
  const photos = (await readdir(SHARED_FILES.photos))
    .filter((f) => f.endsWith('.jpg'))
    .sort()
    .map((f) => join(SHARED_FILES.photos, f));
  log('## Models: the project against ONNX Runtime Python + PIL/numpy and transformers.js, same ONNX file\n');
  for (const model of await peerModels()) await modelTable(model, photos, runs * 3, absent, node, log);
  return lines;
}

export const PEERS_ARGS = {
  runs: { type: 'string' },
  'preprocess-only': { type: 'boolean', default: false },
  baseline: { type: 'string' },
  sizes: { type: 'string' },
  node: { type: 'string' },
} as const;

async function main() {
  const { values } = parseArgs({ options: PEERS_ARGS });
  await peersBench(
    {
      runs: values.runs === undefined ? undefined : Number(values.runs),
      preprocessOnly: values['preprocess-only'],
      baseline: values.baseline,
      sizes: values.sizes?.split(',').map(Number),
      node: values.node === undefined ? undefined : Number(values.node),
    },
    (line) => console.log(line),
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
