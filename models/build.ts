/**
 * npm run model:build -- [--synthetic resnet18 | --source <file|url>] [flags]
 *
 * Builds an int8 model folder (src/classifier/model-folder.ts contract) from an fp32 ONNX classifier.
 * With no source flag: the trained ImageNet ResNet-18 of the ONNX Model Zoo (`resnet18-v1-7.onnx`),
 * pinned by URL, size and sha256 in models/sources.lock.json, calibrated on the pinned photo set of
 * models/calibration-photos.json; every download is verified and cached under .cache/models/.
 *
 * Steps (each a function below; `buildModel()` runs them and is what tests call in process):
 * labels, fp32 source (download/lock), calibration set, quantize (both weight storages: `s8` in
 * model.onnx and `u8` in model.u8.onnx, same quantized values), check (fusion on the ORT-optimized
 * graph, fp32-vs-int8 agreement), metadata (model.json), print. Default output:
 * layers/model/models/<name>/ (the model layer mounts it at /opt/models/<name>/). The fp32 source
 * stays in .cache/models/ for `npm run bench`.
 */
import { copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { layerModelDir, modelCacheDir, modelSourcesLock, ROOT } from '../paths.ts';
import { createClassifier } from '../src/classifier/classifier.ts';
import {
  IMAGENET_DEFAULTS,
  type ModelMeta,
  storageFile,
  type WeightStorages,
  writeModelFolder,
} from '../src/classifier/model-folder.ts';
import {
  type Int8Storage,
  isInt8Storage,
  STORAGE_TEXT,
  WEIGHT_STORAGES,
  type WeightStorage,
} from '../src/classifier/storages.ts';
import { type CalibrationMethod, listImages, preprocessFiles } from './calibrate.ts';
import { fetchPinned, type LockFile, pinOf, readLock, sha256Hex } from './download.ts';
import { embeddingDimension, withEmbedding } from './embedding.ts';
import { type Agreement, agreement, floatComputeOps, optimizedOps, runAll } from './evaluate.ts';
import { decodeModel, encodeModel } from './onnx.ts';
import { quantizeStatic } from './pipeline.ts';
import { quantizeWithRanges } from './quantize.ts';
import { compareStorages } from './storage.ts';
import { buildSyntheticResNet18, SYNTHETIC_SEEDS, syntheticInputs } from './synthetic.ts';
import { addVocabulary } from './vocabulary/attach.ts';

/** Where downloads and fp32 sources stay; MODEL_CACHE_DIR points elsewhere (tests). */
export const defaultCacheDir = modelCacheDir;
/** The lock file; MODEL_SOURCES_LOCK points elsewhere (tests). */
export const defaultLockFile = modelSourcesLock;

/**
 * The storages to write: `both` (default: s8 and u8), one storage, or a comma-separated list such as
 * `s8,u8,fp32`. The first int8 storage of the list is model.onnx, each other model.<storage>.onnx;
 * model.json "weights" names them all and MODEL_WEIGHTS picks among them.
 */
export type WeightsOption = string;

/** The storages a --weights value names, in order, or an error naming the flag. */
export function parseWeights(option: WeightsOption): WeightStorage[] {
  const names = option === 'both' ? ['s8', 'u8'] : option.split(',').map((s) => s.trim());
  const storages = [...new Set(names)];
  const bad = storages.filter((s) => !(WEIGHT_STORAGES as readonly string[]).includes(s));
  if (storages.length === 0 || bad.length > 0)
    throw new Error(
      `--weights takes both or a comma-separated list of ${WEIGHT_STORAGES.join(', ')}${bad.length ? `; got "${bad.join('", "')}"` : ''}`,
    );
  if (!storages.some((s) => s !== 'fp32'))
    throw new Error(
      '--weights needs an int8 storage (fp32 alone: npm run model:import -- --model <fp32.onnx>)',
    );
  return storages as WeightStorage[];
}
/**
 * Activation ranges: the 99.99th percentile of each tensor over the calibration images. On the
 * project-quantized MobileNetV2 it cut the int8-vs-fp32 KL divergence 2.6x against minmax over 2,000
 * crops, flips and scales, photos held out of calibration included (`npm run lab:fidelity`).
 */
export const DEFAULT_CALIBRATION = { method: 'percentile', percentile: 99.99 } as const satisfies {
  method: CalibrationMethod;
  percentile: number;
};

export interface BuildOptions {
  /** Build the random-weight ResNet-18 instead of a trained model (labels meaningless). */
  synthetic?: 'resnet18';
  /** fp32 ONNX file or URL; default: the lock file's default source (the zoo ResNet-18). */
  source?: string;
  /** Labels file or URL; default: the lock file's default labels. */
  labels?: string;
  /** Folder of calibration images; default: the pinned photo set (downloaded, verified, cached). */
  calibration?: string;
  calibrationCount?: number;
  /** Folder of images for the fp32-vs-int8 agreement; default: the calibration images. */
  eval?: string;
  method?: CalibrationMethod;
  percentile?: number;
  weights?: WeightsOption;
  name?: string;
  out?: string;
  lockFile?: string;
  cacheDir?: string;
  /** Progress lines (default: console.log with a prefix). */
  log?: (line: string) => void;
  /** Build a model without the embedding output (one with no global pooling before its classifier). */
  withoutEmbedding?: boolean;
}

export interface BuildResult {
  outDir: string;
  meta: ModelMeta;
  /** The file of each storage written (model.json "weights"). */
  weights: Partial<Record<WeightStorage, string>>;
  rows: [string, string][];
}

const isUrl = (s: string) => /^https?:\/\//.test(s);

interface Context {
  options: BuildOptions;
  lockFile: string;
  cacheDir: string;
  lock: LockFile;
  log: (line: string) => void;
}

// ---- step 1: labels --------------------------------------------------------------------------

async function loadLabels(ctx: Context, labels: string): Promise<{ labels: string[]; sha256: string }> {
  const bytes = isUrl(labels)
    ? (
        await fetchPinned(labels, {
          what: 'labels',
          hint: 'no network? pass --labels <local copy>, e.g. --labels ../shared/data/imagenet-simple-labels.json',
          lockFile: ctx.lockFile,
          cacheDir: ctx.cacheDir,
        })
      ).bytes
    : await readFile(labels);
  const parsed: unknown = JSON.parse(Buffer.from(bytes).toString('utf8'));
  if (!Array.isArray(parsed)) throw new Error(`${labels}: labels must be a JSON array of strings`);
  const sha256 = sha256Hex(bytes);
  ctx.log(`labels: ${parsed.length} from ${labels} (sha256 ${sha256})`);
  return { labels: parsed as string[], sha256 };
}

// ---- step 2: fp32 source (pinned download, lock, cache) ---------------------------------------

interface Source {
  fp32: Uint8Array;
  source: string;
  sourceSha256: string;
  licence: string;
  fp32Cache: string;
  fromCache?: boolean;
}

async function loadSource(ctx: Context, name: string): Promise<Source> {
  const { options } = ctx;
  const fp32Cache = join(ctx.cacheDir, `${name}-fp32.onnx`);
  await mkdir(ctx.cacheDir, { recursive: true });
  if (options.synthetic) {
    ctx.log('building synthetic ResNet-18 (torchvision topology, seeded random weights, data-normalised)');
    const fp32 = await buildSyntheticResNet18();
    await writeFile(fp32Cache, fp32);
    return {
      fp32,
      source: `synthetic resnet18 (models/resnet18.ts, seeds ${JSON.stringify(SYNTHETIC_SEEDS)})`,
      sourceSha256: sha256Hex(fp32),
      licence: 'generated weights, no licence restrictions',
      fp32Cache,
    };
  }
  const src = options.source ?? ctx.lock.defaults?.source;
  if (!src) throw new Error(`no --source and no default source in ${ctx.lockFile}`);
  if (isUrl(src)) {
    const pin = pinOf(ctx.lock, src);
    ctx.log(
      pin
        ? `fp32 source ${src} (pinned: ${pin.bytes ?? '?'} bytes, sha256 ${pin.sha256})`
        : `fp32 source ${src} (not pinned yet: its size and sha256 are pinned on this first download)`,
    );
    const got = await fetchPinned(src, {
      what: 'fp32 model',
      hint: 'download it yourself and pass --source <file>; offline with ../shared, `npm start` builds the MobileNetV2 from ../shared instead',
      lockFile: ctx.lockFile,
      cacheDir: ctx.cacheDir,
      progress: !options.log,
    });
    ctx.log(got.fromCache ? `using the cached download ${got.path}` : `downloaded and verified ${got.path}`);
    await copyFile(got.path, fp32Cache);
    return {
      fp32: got.bytes,
      source: src,
      sourceSha256: got.sha256,
      licence: pin?.licence ?? 'see source',
      fp32Cache,
      fromCache: got.fromCache,
    };
  }
  const fp32 = await readFile(src);
  if (resolve(src) !== fp32Cache) await copyFile(src, fp32Cache);
  const sha256 = sha256Hex(fp32);
  // A local copy of a pinned download (e.g. the zoo ResNet-18 fetched by hand) keeps its provenance.
  const pinned = Object.keys(ctx.lock.files).find((url) => pinOf(ctx.lock, url)?.sha256 === sha256);
  if (pinned) ctx.log(`${src} is the pinned ${pinned} (same sha256)`);
  return {
    fp32,
    source: pinned ? `${basename(src)} (= ${pinned})` : basename(src),
    sourceSha256: sha256,
    licence: (pinned && pinOf(ctx.lock, pinned)?.licence) || 'see source',
    fp32Cache,
  };
}

/**
 * ONNX IR < 4 files (the MXNet exports of the Model Zoo) list every initializer as a graph input
 * too. Such inputs are overridable, so they are dropped from the inputs (IR 4 semantics): the
 * weights are constants, which is what graph optimization and quantization need.
 */
export function initializersAsConstants(fp32: Uint8Array): { model: Uint8Array; moved: number } {
  const model = decodeModel(fp32);
  const graph = model.graph;
  const inits = new Set((graph?.initializer ?? []).map((t) => t.name ?? ''));
  const before = graph?.input?.length ?? 0;
  if (!graph || before === 0) return { model: fp32, moved: 0 };
  graph.input = (graph.input ?? []).filter((i) => !inits.has(i.name ?? ''));
  const moved = before - graph.input.length;
  if (moved === 0) return { model: fp32, moved };
  model.irVersion = Math.max(Number(model.irVersion ?? 4), 4);
  return { model: encodeModel(model), moved };
}

// ---- step 3: calibration set ------------------------------------------------------------------

export interface PhotoSet {
  comment?: string;
  repository: string;
  commit: string;
  urlTemplate: string;
  licence: string;
  files: { file: string; path: string; bytes: number; sha256: string; classIndex?: number }[];
}

interface Calibration {
  inputs: Float32Array[];
  evalInputs: Float32Array[];
  record: Record<string, unknown>;
  evalRecord: string;
  downloaded: number;
}

async function calibrationSet(ctx: Context, count: number): Promise<Calibration> {
  const { options } = ctx;
  const spec = IMAGENET_DEFAULTS;
  let inputs: Float32Array[];
  let record: Record<string, unknown>;
  let downloaded = 0;
  if (options.calibration) {
    const files = await listImages(options.calibration, count);
    if (files.length === 0)
      throw new Error(`${options.calibration}: no images (jpg, png, webp, gif, avif, tiff)`);
    inputs = await preprocessFiles(files, spec);
    // The set's name and its photos: never the path of the machine that built the model.
    record = { set: basename(resolve(options.calibration)), images: files.map((f) => basename(f)) };
  } else if (options.synthetic) {
    inputs = await syntheticInputs(count, SYNTHETIC_SEEDS.calibration);
    record = {
      generated: `${count} seeded generated images (seed ${SYNTHETIC_SEEDS.calibration}, models/calibrate.ts syntheticImages)`,
      why: 'the weights are random, so real photos carry no more meaning than generated images',
    };
  } else {
    const listFile = resolve(
      dirname(ctx.lockFile),
      ctx.lock.defaults?.calibration ?? 'calibration-photos.json',
    );
    const set = JSON.parse(await readFile(listFile, 'utf8')) as PhotoSet;
    const chosen = [...set.files].sort((a, b) => a.file.localeCompare(b.file)).slice(0, count);
    const paths: string[] = [];
    for (const f of chosen) {
      const url = set.urlTemplate.replace('{path}', f.path);
      const got = await fetchPinned(url, {
        what: `calibration photo ${f.file}`,
        hint: 'pass --calibration <dir of images> (for example ../shared/photos)',
        lockFile: ctx.lockFile,
        cacheDir: ctx.cacheDir,
        pin: { sha256: f.sha256, bytes: f.bytes },
      });
      if (!got.fromCache) downloaded++;
      paths.push(got.path);
    }
    ctx.log(
      `calibration photos: ${chosen.length} of ${set.files.length} from ${set.repository}@${set.commit.slice(0, 7)} (${downloaded} downloaded, ${chosen.length - downloaded} from the cache, all sha256-verified)`,
    );
    inputs = await preprocessFiles(paths, spec);
    record = {
      set: `${set.repository}@${set.commit}`,
      list: relative(ROOT, listFile),
      urlTemplate: set.urlTemplate,
      licence: set.licence,
      images: chosen.map((f) => ({ file: f.file, path: f.path, sha256: f.sha256 })),
    };
  }
  const evalFiles = options.eval ? await listImages(options.eval) : [];
  return {
    inputs,
    evalInputs: options.eval ? await preprocessFiles(evalFiles, spec) : inputs,
    record,
    evalRecord: options.eval
      ? `${evalFiles.length} images of ${basename(resolve(options.eval))}`
      : 'the calibration images',
    downloaded,
  };
}

// ---- step 4: quantize -------------------------------------------------------------------------

interface Quantized {
  prepared: Uint8Array;
  /** model.onnx: the first int8 storage of the list. */
  main: Uint8Array;
  mainEncoding: Int8Storage;
  /** Every storage's bytes in list order, `mainEncoding` (the same bytes as `main`) included. */
  storages: [WeightStorage, Uint8Array][];
  stats: Awaited<ReturnType<typeof quantizeStatic>>['stats'];
}

async function quantize(
  ctx: Context,
  fp32: Uint8Array,
  cal: Calibration,
  wanted: WeightStorage[],
): Promise<Quantized> {
  const { method = DEFAULT_CALIBRATION.method, percentile = DEFAULT_CALIBRATION.percentile } = ctx.options;
  const mainEncoding = wanted.find(isInt8Storage) as Int8Storage;
  let lastPct = -1;
  const q = await quantizeStatic(fp32, cal.inputs, {
    method,
    percentile,
    weightEncoding: mainEncoding,
    onProgress: (done, total) => {
      const pct = Math.floor((10 * done) / total) * 10;
      if (pct !== lastPct && !ctx.options.log) {
        lastPct = pct;
        process.stderr.write(`  calibrating: ${done}/${total}\n`);
      }
    },
  });
  ctx.log(
    `quantized: ${q.stats.activations} activations, ${q.stats.weights} weights, ${q.stats.biases} biases, folded ${q.stats.folded.Relu} Relu + ${q.stats.folded.Clip} Clip`,
  );
  // Every other storage from the same plan and ranges; fp32 is the source graph as it was calibrated.
  const storages = wanted.map((s): [WeightStorage, Uint8Array] => [
    s,
    s === mainEncoding
      ? q.int8
      : s === 'fp32'
        ? q.prepared
        : encodeModel(quantizeWithRanges(q.plan, q.ranges, { weightEncoding: s as Int8Storage }).model),
  ]);
  const byName = new Map(storages);
  const s8 = byName.get('s8');
  const u8 = byName.get('u8');
  if (s8 && u8) {
    // u8 is s8 stored as q + 128: the same quantized values, so the same scores where both are exact.
    const same = compareStorages(s8, u8);
    if (same.differences.length > 0)
      throw new Error(`the s8 and u8 storages differ: ${same.differences.slice(0, 5).join('; ')}`);
    ctx.log(
      `weight storages: s8 and u8 carry the same quantized values (${same.reencoded} tensors re-encoded)`,
    );
  }
  return { prepared: q.prepared, main: q.int8, mainEncoding, storages, stats: q.stats };
}

// ---- step 4b: the embedding output ------------------------------------------------------------

/**
 * Adds the embedding output (models/embedding.ts) to every storage, the same nodes in each, and
 * returns model.json's "embedding"; undefined with --without-embedding.
 */
async function embed(ctx: Context, name: string, q: Quantized): Promise<ModelMeta['embedding']> {
  if (ctx.options.withoutEmbedding) {
    ctx.log('embedding: none (--without-embedding): no similar images or near-duplicates');
    return undefined;
  }
  let tap: ReturnType<typeof withEmbedding>;
  q.storages = q.storages.map(([storage, bytes]) => {
    const graph = decodeModel(bytes);
    tap = withEmbedding(graph, false, name);
    return [storage, encodeModel(graph)];
  });
  q.main = new Map(q.storages).get(q.mainEncoding) as Uint8Array;
  if (!tap) return undefined;
  const dimension = await embeddingDimension(q.main, tap.output, IMAGENET_DEFAULTS.cropSize);
  ctx.log(`embedding: output "${tap.output}", ${dimension} numbers, the value of ${tap.pooling}`);
  return { ...tap, dimension };
}

// ---- step 5: check ----------------------------------------------------------------------------

interface Check {
  ops: Record<string, number>;
  leftover: Record<string, number>;
  /** model.onnx against fp32. */
  agreement: Agreement;
  /** Each int8 storage against fp32, when there are several. */
  byStorage: [WeightStorage, Agreement][];
}

async function check(ctx: Context, q: Quantized, cal: Calibration): Promise<Check> {
  const ops = await optimizedOps(q.main, 1);
  const leftover = floatComputeOps(ops);
  ctx.log(`ORT-optimized int8 graph: ${JSON.stringify(ops)}`);
  if (Object.keys(leftover).length > 0)
    ctx.log(`WARNING: float compute ops left after optimization: ${JSON.stringify(leftover)}`);
  const fp32Out = await runAll(q.prepared, cal.evalInputs);
  const main = agreement(fp32Out, await runAll(q.main, cal.evalInputs));
  const int8 = q.storages.filter(([s]) => s !== 'fp32');
  const byStorage: [WeightStorage, Agreement][] = [];
  if (int8.length > 1)
    for (const [storage, bytes] of int8)
      byStorage.push([
        storage,
        storage === q.mainEncoding ? main : agreement(fp32Out, await runAll(bytes, cal.evalInputs)),
      ]);
  return { ops, leftover, agreement: main, byStorage };
}

// ---- step 6: metadata and folder --------------------------------------------------------------

const round = (a: Agreement) => ({
  top1Agreement: Number(a.top1Agreement.toFixed(4)),
  meanLogitCosine: Number(a.meanCosine.toFixed(5)),
  minLogitCosine: Number(a.minCosine.toFixed(5)),
});

async function writeFolder(
  ctx: Context,
  name: string,
  outDir: string,
  labels: { labels: string[]; source: string },
  src: Source,
  cal: Calibration,
  q: Quantized,
  chk: Check,
  embedding: ModelMeta['embedding'],
): Promise<ModelMeta> {
  const { method = DEFAULT_CALIBRATION.method, percentile = DEFAULT_CALIBRATION.percentile } = ctx.options;
  const spec = IMAGENET_DEFAULTS;
  // Input/output names come from the graph (Model Zoo ResNets use "data", exports "input").
  const graph = decodeModel(q.main).graph;
  const initNames = new Set((graph?.initializer ?? []).map((t) => t.name));
  const inputName = graph?.input?.find((i) => !initNames.has(i.name))?.name ?? 'input';
  const outputName = graph?.output?.[0]?.name ?? 'output';
  const storages: WeightStorages = {
    model: q.mainEncoding,
    others: Object.fromEntries(q.storages.filter(([s]) => s !== q.mainEncoding)),
  };
  const fileOf = (s: WeightStorage) => (s === q.mainEncoding ? 'model.onnx' : storageFile(s));
  const meta: Omit<ModelMeta, 'sha256'> = {
    name,
    version: '1',
    inputName,
    outputName,
    inputShape: [-1, 3, spec.cropSize, spec.cropSize],
    ...spec,
    quantization: {
      scheme: 'int8 static QDQ (models/quantize.ts), fused by ONNX Runtime into QLinear kernels',
      weights: `per-channel symmetric int8 (axis 0 for Conv, output axis for Gemm/MatMul), stored as ${q.storages
        .filter(([s]) => s !== 'fp32')
        .map(([s]) => `${STORAGE_TEXT[s]} in ${fileOf(s)}`)
        .join(
          ', and as ',
        )}${q.storages.some(([s]) => s === 'fp32') ? `; fp32 (not quantized) in ${fileOf('fp32')}` : ''}`,
      weightEncoding: q.mainEncoding,
      bias: 'int32, scale = input scale x weight scale',
      activations: 'per-tensor asymmetric uint8; Relu/Clip folded into the producer range',
      calibration: { method, ...(method === 'percentile' ? { percentile } : {}), ...cal.record },
      optimizedOps: chk.ops,
    },
    source: src.source,
    sourceSha256: src.sourceSha256,
    fp32Cache: relative(ROOT, src.fp32Cache).startsWith('..')
      ? basename(src.fp32Cache)
      : relative(ROOT, src.fp32Cache),
    licence: src.licence,
    labelsMeaningful: !ctx.options.synthetic,
    labelsSource: labels.source,
    agreement: {
      images: cal.evalRecord,
      ...round(chk.agreement),
      ...(chk.byStorage.length > 0
        ? { byStorage: Object.fromEntries(chk.byStorage.map(([s, a]) => [s, round(a)])) }
        : {}),
    },
    ...(embedding ? { embedding } : {}),
    builtAt: new Date().toISOString(),
  };
  const folder = await writeModelFolder(outDir, q.main, labels.labels, meta, storages);
  const vocabulary = await addVocabulary(outDir, labels.labels);
  ctx.log(
    vocabulary
      ? `vocabulary: ${vocabulary} (ImageNet-1k labels)`
      : 'vocabulary: none (not the ImageNet-1k labels)',
  );
  // A load check, not serving: the folder may be meant for another CPU.
  const classifier = await createClassifier(outDir, { threads: 1, allowInexact: true });
  await classifier.release();
  return folder.meta;
}

// ---- step 7: print ----------------------------------------------------------------------------

export function printRows(rows: [string, string][]): void {
  console.log('\n| | |\n| --- | --- |');
  for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
}

// ---- the build --------------------------------------------------------------------------------

export async function buildModel(options: BuildOptions = {}): Promise<BuildResult> {
  const started = performance.now();
  const lockFile = resolve(options.lockFile ?? defaultLockFile());
  const cacheDir = resolve(options.cacheDir ?? defaultCacheDir());
  const ctx: Context = {
    options,
    lockFile,
    cacheDir,
    lock: await readLock(lockFile),
    log: options.log ?? ((l) => console.log(`[model:build] ${l}`)),
  };
  if (options.synthetic && options.source) throw new Error('give --synthetic or --source, not both');
  if (options.synthetic && options.synthetic !== 'resnet18')
    throw new Error(`--synthetic knows only "resnet18", got "${options.synthetic}"`);
  const method = options.method ?? DEFAULT_CALIBRATION.method;
  if (method !== 'minmax' && method !== 'percentile') throw new Error('--method takes minmax or percentile');
  const percentile = options.percentile ?? DEFAULT_CALIBRATION.percentile;
  if (!(percentile > 50 && percentile <= 100)) throw new Error('--percentile takes a number in (50, 100]');
  const wanted = parseWeights(options.weights ?? 'both');
  const count = options.calibrationCount ?? 25;
  if (!Number.isInteger(count) || count < 1) throw new Error('--calibration-count takes a positive integer');

  const name =
    options.name ??
    (options.synthetic
      ? 'resnet18-synthetic'
      : options.source
        ? basename(options.source, '.onnx')
        : (ctx.lock.defaults?.name ?? 'resnet18'));
  const outDir = resolve(options.out ?? layerModelDir(name));
  const labelsSource = options.labels ?? ctx.lock.defaults?.labels;
  if (!labelsSource) throw new Error(`no --labels and no default labels in ${lockFile}`);

  const labels = await loadLabels(ctx, labelsSource); // first: fails fast without network
  const src = await loadSource(ctx, name);
  const { model: fp32, moved } = initializersAsConstants(src.fp32);
  // Before the long calibration: a model without pooled features fails now, naming the flag.
  withEmbedding(decodeModel(fp32), options.withoutEmbedding ?? false, src.source);
  ctx.log(
    `fp32 source: ${(src.fp32.length / 1e6).toFixed(1)} MB, sha256 ${src.sourceSha256}, cached at ${relative(ROOT, src.fp32Cache)}${
      moved ? `; ${moved} initializers listed as graph inputs (IR < 4) treated as constants` : ''
    }`,
  );
  const cal = await calibrationSet(ctx, count);
  ctx.log(
    `calibration: ${cal.inputs.length} images, ${method}${method === 'percentile' ? ` ${percentile}` : ''}`,
  );
  const q = await quantize(ctx, fp32, cal, wanted);
  const embedding = await embed(ctx, name, q);
  const chk = await check(ctx, q, cal);
  const meta = await writeFolder(
    ctx,
    name,
    outDir,
    { labels: labels.labels, source: labelsSource },
    src,
    cal,
    q,
    chk,
    embedding,
  );

  const size = async (f: string) => `${((await stat(join(outDir, f))).size / 1e6).toFixed(2)} MB`;
  const pct = (a: Agreement) => `${(100 * a.top1Agreement).toFixed(1)}% of ${a.images} images`;
  const rows: [string, string][] = [
    ['model', name],
    ['source', src.source],
    ['output folder', outDir],
    ['fp32 size', `${(src.fp32.length / 1e6).toFixed(2)} MB`],
    ['int8 size', await size('model.onnx')],
    [
      'weights',
      Object.entries(meta.weights ?? {})
        .map(([s, f]) => `${s} in ${f}`)
        .join(', '),
    ],
    ['calibration', `${cal.inputs.length} images, ${method}`],
    [
      'fused ops',
      `QLinearConv ${chk.ops.QLinearConv ?? 0}, QLinearAdd ${chk.ops.QLinearAdd ?? 0}, QGemm ${chk.ops.QGemm ?? 0}, QLinearMatMul ${chk.ops.QLinearMatMul ?? 0}`,
    ],
    ['float Conv/Gemm/MatMul left', String(Object.values(chk.leftover).reduce((a, b) => a + b, 0))],
    [
      'top-1 agreement',
      chk.byStorage.length > 0
        ? chk.byStorage.map(([s, a]) => `${s} ${pct(a)}`).join('; ')
        : pct(chk.agreement),
    ],
    [
      'mean logit cosine',
      chk.byStorage.length > 0
        ? chk.byStorage.map(([s, a]) => `${s} ${a.meanCosine.toFixed(4)}`).join('; ')
        : chk.agreement.meanCosine.toFixed(4),
    ],
    [
      'embedding',
      meta.embedding
        ? `${meta.embedding.dimension} numbers in output "${meta.embedding.output}" (${meta.embedding.pooling})`
        : 'none (--without-embedding)',
    ],
    ['labels', options.synthetic ? 'MEANINGLESS (synthetic random weights)' : labelsSource],
    ['time', `${((performance.now() - started) / 1000).toFixed(1)} s`],
  ];
  return { outDir, meta, rows, weights: meta.weights ?? {} };
}

// ---- CLI --------------------------------------------------------------------------------------

const usage = `usage: npm run model:build -- [--synthetic resnet18 | --source <fp32.onnx|url>] [flags]
  (no source flag)         the trained ImageNet ResNet-18 of the ONNX Model Zoo (resnet18-v1-7.onnx), pinned by
                           size and sha256 in models/sources.lock.json, downloaded once into .cache/models/
  --synthetic resnet18     the same topology with seeded random weights: its labels are MEANINGLESS
  --source <file|url>      another fp32 ONNX classifier (a URL is pinned in the lock file on first download)
  --labels <file|url>      class names (default: imagenet-simple-labels at a pinned commit, sha256-verified)
  --calibration <dir>      calibration images (default: the pinned photo set of models/calibration-photos.json,
                           downloaded and verified; --synthetic uses seeded generated images)
  --calibration-count N    use the first N images, sorted by name (default 25)
  --eval <dir>             images for the fp32-vs-int8 agreement (default: the calibration images)
  --method minmax|percentile  activation ranges (default percentile)   --percentile P (default 99.99)
  --weights <list>         weight storages, comma-separated: s8, u8, s8-7bit, mixed, fp32 (default both =
                           s8,u8: s8 in model.onnx and u8 in model.u8.onnx, same quantized values). The
                           first int8 one is model.onnx, the others model.<storage>.onnx; MODEL_WEIGHTS
                           picks one at init (auto: per CPU, see lab/README.md)
  --name N                 folder and model name (default: resnet18, resnet18-synthetic, or the file name)
  --out <dir>              output folder (default layers/model/models/<name>/)
  --without-embedding      no embedding output: for a classifier without global pooling right before its
                           last layer (refused otherwise); the folder then gives no similar images or duplicates`;

export function parseBuildArgs(argv: string[]): BuildOptions | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      synthetic: { type: 'string' },
      source: { type: 'string' },
      labels: { type: 'string' },
      calibration: { type: 'string' },
      'calibration-count': { type: 'string', default: '25' },
      eval: { type: 'string' },
      method: { type: 'string', default: DEFAULT_CALIBRATION.method },
      percentile: { type: 'string', default: String(DEFAULT_CALIBRATION.percentile) },
      weights: { type: 'string', default: 'both' },
      name: { type: 'string' },
      out: { type: 'string' },
      'without-embedding': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return undefined;
  return {
    ...(values['without-embedding'] ? { withoutEmbedding: true } : {}),
    ...(values.synthetic !== undefined ? { synthetic: values.synthetic as 'resnet18' } : {}),
    ...(values.source !== undefined ? { source: values.source } : {}),
    ...(values.labels !== undefined ? { labels: values.labels } : {}),
    ...(values.calibration !== undefined ? { calibration: values.calibration } : {}),
    ...(values.eval !== undefined ? { eval: values.eval } : {}),
    ...(values.name !== undefined ? { name: values.name } : {}),
    ...(values.out !== undefined ? { out: values.out } : {}),
    calibrationCount: Number(values['calibration-count']),
    method: values.method as CalibrationMethod,
    percentile: Number(values.percentile),
    weights: values.weights as WeightsOption,
  };
}

async function main(argv: string[]): Promise<void> {
  const options = parseBuildArgs(argv);
  if (!options) return void console.log(usage);
  const result = await buildModel(options);
  printRows(result.rows);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  main(process.argv.slice(2)).catch((err: Error) => {
    console.error(`model:build: ${err.message}`);
    process.exit(1);
  });
