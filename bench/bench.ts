/**
 * npx tsx bench/bench.ts [--model <dir> ...] [--runs N] [--storages-only]   (part of npm run bench)
 *
 * Classifier benchmark: prints a markdown table per model folder with medians over repeated runs:
 * model load, preprocessing of 0.3/3/12 MP JPEGs, colours and quality, inference at 1 and 2 threads (spin-wait off and
 * on), end to end, process cold start (node start to first result) and peak RSS. With no --model it
 * benchmarks ../shared's int8 MobileNetV2 (imported into .cache/bench) and the ResNet-18 model layer
 * when it has been built. Targets (this machine): 12 MP preprocessing <= 50 ms, 0.3 MP <= 5 ms.
 *
 * First the weight storages (issues 7 and 14): every storage each folder has, side by side in one
 * run, with the CPU's flags, whether this CPU computes each exactly, its agreement with fp32,
 * inference medians timed round-robin at 1 and 2 threads, which storage `auto` picks and why, and
 * per storage a fresh process's cold start, first request after init and peak RSS. Folders: ../shared's
 * zoo MobileNetV2 (s8, u8, and the fp32 beside it), the project's own MobileNetV2 build from ../shared's
 * fp32 with every storage (s8, u8, s8-7bit, mixed, fp32; built once into .cache/bench), and ResNet-18:
 * the model layer's folder when it holds s8 and u8 and its fp32 source, else the synthetic ResNet-18
 * built once with every storage.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type BuildOptions, buildModel } from '../models/build.ts';
import { addEmbeddingOutput } from '../models/embedding.ts';
import { agreement } from '../models/evaluate.ts';
import { importModel } from '../models/import.ts';
import { decodeModel, encodeModel } from '../models/onnx.ts';
import { cacheDir, LAYER_MODELS, layerModelDir, ROOT, SHARED, SHARED_FILES, sharedModel } from '../paths.ts';
import { type Classifier, createClassifier } from '../src/classifier/classifier.ts';
import { chooseStorage, INT8_FLAGS, readCpuInfo, storageExactness } from '../src/classifier/cpu.ts';
import {
  loadModelFolder,
  type ModelMeta,
  sha256File,
  writeModelFolder,
} from '../src/classifier/model-folder.ts';
import { sharp } from '../src/classifier/native.ts';
import { preprocess } from '../src/classifier/preprocess.ts';
import { imageProperties } from '../src/classifier/properties.ts';
import { WEIGHT_STORAGES, type WeightStorage } from '../src/classifier/storages.ts';
import { coldStart, median } from './cold-start.ts';
import { embeddingBench } from './embedding.ts';

const CACHE = cacheDir('bench');

const fmt = (ms: number) => ms.toFixed(ms < 10 ? 2 : 1);

async function timeIt(runs: number, fn: () => Promise<unknown>): Promise<number> {
  await fn(); // one unmeasured run
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

/** A photographic JPEG of about `megapixels`: a real photo scaled up when ../shared exists. */
async function jpegOf(megapixels: number): Promise<Buffer> {
  const width = Math.round(Math.sqrt((megapixels * 1e6 * 4) / 3));
  const height = Math.round((width * 3) / 4);
  const photo = join(SHARED_FILES.photos, '207-Golden-Retriever.jpg');
  const source = existsSync(photo)
    ? sharp(photo).resize(width, height, { fit: 'fill' })
    : sharp({
        create: {
          width,
          height,
          channels: 3,
          background: '#808080',
          noise: { type: 'gaussian', mean: 128, sigma: 40 },
        },
      });
  return source.jpeg({ quality: 90 }).toBuffer();
}

const readMeta = async (dir: string): Promise<ModelMeta> =>
  JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));

/** Imports a ../shared model into .cache/bench (again when an older import lacks the "weights" map). */
async function importShared(model: 'mobilenetv2-int8' | 'mobilenetv2-fp32'): Promise<string> {
  const out = join(CACHE, model);
  const meta = existsSync(join(out, 'model.json')) ? await readMeta(out) : undefined;
  // Imported again when older than the "weights" map or the embedding output.
  const current =
    meta !== undefined &&
    (model.endsWith('fp32') || meta.weights !== undefined) &&
    meta.embedding !== undefined;
  if (!current)
    await importModel({ model: sharedModel(model), labels: SHARED_FILES.labels, name: model, out });
  return out;
}

async function defaultModels(log: (line: string) => void): Promise<string[]> {
  const dirs: string[] = [];
  if (existsSync(SHARED_FILES.int8)) dirs.push(await importShared('mobilenetv2-int8'));
  else log(`(${SHARED} is absent: no MobileNetV2 rows)`);
  if (existsSync(LAYER_MODELS))
    for (const name of await readdir(LAYER_MODELS)) dirs.push(join(LAYER_MODELS, name));
  else log('(no model layer built yet: `npm run model:build` adds ResNet-18 rows)');
  return dirs;
}

async function benchModel(
  modelDir: string,
  runs: number,
  images: Record<string, Buffer>,
): Promise<string[][]> {
  const rows: string[][] = [];
  const row = (what: string, value: string, note = '') => rows.push([what, value, note]);

  const probe = await createClassifier(modelDir, { threads: 1 });
  row(
    'weights loaded (MODEL_WEIGHTS=auto)',
    probe.weights.storage ?? probe.weights.file,
    probe.weights.reason,
  );
  await probe.release();

  const loadTimes: number[] = [];
  for (let i = 0; i < 5; i++) {
    const c = await createClassifier(modelDir, { threads: 1 });
    loadTimes.push(c.initMs);
    await c.release();
  }
  row('model load (session + warm-up), 1 thread', fmt(median(loadTimes)), 'median of 5, in process');
  const folder = await loadModelFolder(modelDir);
  row(
    'sha256 of model.onnx',
    fmt(await timeIt(5, () => sha256File(folder.modelPath))),
    'not done at cold start',
  );

  for (const [name, bytes] of Object.entries(images))
    row(
      `preprocess ${name} JPEG`,
      fmt(await timeIt(runs, () => preprocess(bytes, folder.meta))),
      'decode+resize+crop+normalise',
    );

  const { data: planes, rgb } = await preprocess(images['0.3 MP'] as Buffer, folder.meta);
  const side = folder.meta.cropSize;
  row(
    'colours and quality',
    fmt(await timeIt(runs, async () => imageProperties(rgb, side, side))),
    `from the ${side}x${side} input pixels (part of preprocess in classify); target < 2 ms`,
  );
  for (const threads of [1, 2])
    for (const spinWait of [false, true]) {
      const c = await createClassifier(modelDir, { threads, spinWait });
      const ms = await timeIt(runs, () => c.infer(planes));
      row(
        `inference, ${threads} thread${threads > 1 ? 's' : ''}, spin-wait ${spinWait ? 'on' : 'off'}`,
        fmt(ms),
      );
      if (threads === 2 && !spinWait) {
        for (const [name, bytes] of Object.entries(images))
          row(
            `end to end ${name} JPEG, 2 threads`,
            fmt(await timeIt(runs, () => c.classify(bytes))),
            'classify()',
          );
      }
      await c.release();
    }

  const imagePath = join(CACHE, 'cold-start.jpg');
  await sharp(images['3 MP'] as Buffer).toFile(imagePath);
  const cold = await coldStart(modelDir, imagePath, Math.max(5, Math.ceil(runs / 4)));
  row(
    'process cold start: node start to first result',
    fmt(cold.firstResultMs),
    `3 MP JPEG; init ${fmt(cold.initMs)} ms`,
  );
  row(
    'first request after init (classify 3 MP JPEG)',
    fmt(cold.firstClassifyMs),
    'what a warm container pays',
  );
  row('peak RSS of that process (MB)', cold.peakRssMb.toFixed(0));
  return rows;
}

interface StorageSet {
  model: string;
  /** A folder whose model.json "weights" names its storages. */
  dir: string;
  /** An fp32 folder beside it, when the folder has no fp32 storage of its own. */
  fp32Dir?: string;
}

/** Every storage a model benchmarks: a storage-set folder must have all of them (else it is rebuilt). */
const ALL_STORAGES = 's8,u8,s8-7bit,mixed,fp32';

/**
 * A folder as `npm run model:build` writes it: its own storages, and an fp32 folder made beside it
 * from its fp32 source (model.json "fp32Cache") when it has no fp32 storage; undefined when it has
 * neither s8 and u8 nor an fp32 to compare with.
 */
async function storageSet(dir: string, model: string): Promise<StorageSet | undefined> {
  const meta = await readMeta(dir);
  if (!meta.weights?.s8 || !meta.weights?.u8) return undefined;
  if (meta.weights.fp32) return { model, dir };
  const fp32 = typeof meta.fp32Cache === 'string' ? resolve(ROOT, meta.fp32Cache) : '';
  if (!fp32 || !existsSync(fp32)) return undefined;
  const fp32Dir = join(CACHE, `${basename(dir)}-fp32`);
  const labels = JSON.parse(await readFile(join(dir, 'labels.json'), 'utf8'));
  const { sha256: _s, weights: _w, weightsSha256: _h, embedding, ...rest } = meta;
  // The fp32 source with the same embedding output as the built folder (models/embedding.ts).
  const graph = decodeModel(await readFile(fp32));
  const tap = embedding ? addEmbeddingOutput(graph, meta.outputName) : undefined;
  await writeModelFolder(fp32Dir, encodeModel(graph), labels, {
    ...rest,
    quantization: 'none',
    ...(tap && embedding ? { embedding: { ...tap, dimension: embedding.dimension } } : {}),
  });
  return { model, dir, fp32Dir };
}

/** A folder with every storage, built once into the bench cache by the same build as `npm run model:build`. */
async function builtSet(name: string, model: string, options: BuildOptions): Promise<StorageSet> {
  const dir = join(CACHE, name);
  const meta = existsSync(join(dir, 'model.json')) ? await readMeta(dir) : undefined;
  const have = Object.keys(meta?.weights ?? {});
  if (!ALL_STORAGES.split(',').every((s) => have.includes(s)) || !meta?.embedding) {
    console.error(`building ${model} with the storages ${ALL_STORAGES} for the storage table (once)...`);
    await buildModel({ ...options, weights: ALL_STORAGES, out: dir, log: () => {} });
  }
  return { model, dir };
}

/**
 * The model layer's ResNet-18 when it has both storages and its fp32 source; else the synthetic
 * ResNet-18 with every storage, built once into the bench cache.
 */
async function resnet18Set(): Promise<StorageSet> {
  const names = existsSync(LAYER_MODELS)
    ? (await readdir(LAYER_MODELS)).filter((n) => n.startsWith('resnet18'))
    : [];
  for (const name of names) {
    const set = await storageSet(layerModelDir(name), `ResNet-18 (${name}, layer)`);
    if (set) return set;
  }
  const labels = join(CACHE, 'synthetic-labels.json');
  await writeFile(labels, JSON.stringify(Array.from({ length: 1000 }, (_, i) => `class ${i}`)));
  return builtSet('resnet18-synthetic-storages', 'ResNet-18 (synthetic)', { synthetic: 'resnet18', labels });
}

/** Median latency per classifier, timed round-robin (`rounds` x `perRound` runs each). */
async function interleaved(
  classifiers: [string, Classifier][],
  planes: Float32Array,
  rounds: number,
  perRound = 3,
): Promise<Map<string, number>> {
  const times = new Map<string, number[]>(classifiers.map(([n]) => [n, []]));
  for (const [, c] of classifiers) for (let i = 0; i < 3; i++) await c.infer(planes);
  for (let r = 0; r < rounds; r++)
    for (const [name, c] of classifiers)
      for (let i = 0; i < perRound; i++) {
        const t = performance.now();
        await c.infer(planes);
        times.get(name)?.push(performance.now() - t);
      }
  return new Map([...times].map(([n, t]) => [n, median(t)]));
}

/** One row of the storage table, as numbers (the chart in docs/benchmarks.md is drawn from these). */
export interface StorageRow {
  model: string;
  weights: WeightStorage;
  /** `MODEL_WEIGHTS=auto` picks this storage on this CPU. */
  auto: boolean;
  /** ONNX Runtime computes this storage exactly on this CPU (storageExactness). */
  exact: boolean;
  fileMb: number;
  /** Inference medians by thread count (1 and 2), ms. */
  ms: Record<1 | 2, number>;
  /** null where the product refuses the storage on this CPU (inexact) */
  coldStartMs: number | null;
  firstRequestMs: number | null;
  peakRssMb: number | null;
}

/**
 * Preprocessed inputs for the agreement with fp32: the last 10 of ../shared's photos by name (the
 * project build calibrates on the first 25), else the bench JPEGs.
 */
async function agreementInputs(images: Record<string, Buffer>, meta: ModelMeta): Promise<Float32Array[]> {
  const photos = existsSync(SHARED_FILES.photos)
    ? (await readdir(SHARED_FILES.photos))
        .filter((f) => f.endsWith('.jpg'))
        .sort()
        .slice(-10)
        .map((f) => join(SHARED_FILES.photos, f))
    : [];
  const bytes = photos.length > 0 ? await Promise.all(photos.map((f) => readFile(f))) : Object.values(images);
  return Promise.all(bytes.map(async (b) => (await preprocess(b, meta)).data));
}

async function benchStorages(
  sets: StorageSet[],
  runs: number,
  images: Record<string, Buffer>,
  log: (line: string) => void,
): Promise<StorageRow[]> {
  const table: StorageRow[] = [];
  const cpuInfo = readCpuInfo();
  const cpu = chooseStorage(cpuInfo);
  const flags = INT8_FLAGS.filter((f) => cpuInfo.flags?.has(f));
  log('## Weight storages side by side (one run)\n');
  log(
    `This CPU: ${cpuInfo.model ?? 'unknown model'} (${process.arch}; flags: ${flags.join(', ') || `none of ${INT8_FLAGS.join(', ')}`}).`,
  );
  log(`\`auto\` picks **${cpu.storage}**: ${cpu.reason}.\n`);
  log(
    'Every storage each folder has. "exact here": whether ONNX Runtime computes the storage exactly on this CPU ' +
      '(src/classifier/cpu.ts; an inexact one is refused for serving). "vs fp32": top-1 agreement and the lowest ' +
      'logit cosine against fp32 on the same inputs. Inference: medians of round-robin runs (each storage in turn), ' +
      'so ratios compare like with like. Cold start, first request and peak RSS: fresh processes, 1 thread, 3 MP JPEG ' +
      '("refused": the service refuses an inexact storage at init).\n',
  );
  log(
    '| model | weights | exact here | vs fp32: top-1 | min cosine | file MB | 1 thread ms | x fp32 | 2 threads ms | x fp32 | cold start ms | first request ms | peak RSS MB |',
  );
  log('| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  const imagePath = join(CACHE, 'cold-start.jpg');
  await sharp(images['3 MP'] as Buffer).toFile(imagePath);
  for (const set of sets) {
    const folder = await loadModelFolder(set.dir);
    const has = WEIGHT_STORAGES.filter((s) => folder.meta.weights?.[s] !== undefined && s !== 'fp32');
    const fp32 = folder.meta.weights?.fp32
      ? { name: 'fp32' as const, dir: set.dir, weights: 'fp32' as const }
      : { name: 'fp32' as const, dir: set.fp32Dir as string, weights: 'auto' as const };
    const variants = [fp32, ...has.map((s) => ({ name: s, dir: set.dir, weights: s }))];
    const planes = (await preprocess(images['3 MP'] as Buffer, folder.meta)).data;
    const inputs = await agreementInputs(images, folder.meta);
    const outputs = new Map<string, Float32Array[]>();
    const ms: Record<number, Map<string, number>> = {};
    const files: Record<string, string> = {};
    for (const threads of [1, 2]) {
      const classifiers: [string, Classifier][] = [];
      try {
        for (const v of variants) {
          const c = await createClassifier(v.dir, { threads, weights: v.weights, allowInexact: true });
          files[v.name] = join(v.dir, c.weights.file);
          classifiers.push([v.name, c]);
          if (threads === 1)
            outputs.set(
              v.name,
              await Promise.all(inputs.map(async (x) => Float32Array.from(await c.infer(x)))),
            );
        }
        ms[threads] = await interleaved(classifiers, planes, Math.max(3, Math.ceil(runs / 3)));
      } finally {
        for (const [, c] of classifiers) await c.release();
      }
    }
    for (const v of variants) {
      const exact = storageExactness(cpuInfo, v.name);
      // The product refuses an inexact storage at init (MODEL_WEIGHTS is a ConfigError), so it has no cold start.
      const cold = exact.exact
        ? await coldStart(v.dir, imagePath, Math.max(5, Math.ceil(runs / 4)), { MODEL_WEIGHTS: v.weights })
        : null;
      const cell = (threads: number) => {
        const m = ms[threads]?.get(v.name) as number;
        return [fmt(m), (m / (ms[threads]?.get('fp32') as number)).toFixed(2)];
      };
      const fileMb = (await readFile(files[v.name] as string)).length / 1e6;
      const picked = v.name === cpu.storage ? ' (auto)' : '';
      const vsFp32 = agreement(outputs.get('fp32') ?? [], outputs.get(v.name) ?? []);
      log(
        `| ${set.model} | ${v.name}${picked} | ${exact.exact ? 'yes' : '**NO**'} | ${Math.round(vsFp32.top1Agreement * vsFp32.images)}/${vsFp32.images} | ${vsFp32.minCosine.toFixed(4)} | ${fileMb.toFixed(1)} | ${cell(1).join(' | ')} | ${cell(2).join(' | ')} | ${cold ? `${fmt(cold.firstResultMs)} | ${fmt(cold.firstClassifyMs)} | ${cold.peakRssMb.toFixed(0)}` : 'refused | refused | refused'} |`,
      );
      table.push({
        model: set.model,
        weights: v.name,
        auto: v.name === cpu.storage,
        exact: exact.exact,
        fileMb,
        ms: { 1: ms[1]?.get(v.name) as number, 2: ms[2]?.get(v.name) as number },
        coldStartMs: cold?.firstResultMs ?? null,
        firstRequestMs: cold?.firstClassifyMs ?? null,
        peakRssMb: cold?.peakRssMb ?? null,
      });
    }
  }
  log('');
  return table;
}

export interface ClassifierBenchOptions {
  /** Model folders for the per-model tables; default: ../shared's MobileNetV2 and the model layer. */
  models?: string[];
  runs?: number;
  /** Only the storage table. */
  storagesOnly?: boolean;
}

export interface ClassifierBenchReport {
  /** The markdown the CLI prints. */
  lines: string[];
  storage: StorageRow[];
}

/**
 * Runs the classifier benchmark. Each markdown line goes to `onLine` as it is produced (progress on
 * a terminal) and is returned in `lines`, with the storage table's numbers.
 */
export async function classifierBench(
  options: ClassifierBenchOptions = {},
  onLine: (line: string) => void = () => {},
): Promise<ClassifierBenchReport> {
  const lines: string[] = [];
  const log = (line = '') => {
    lines.push(line);
    onLine(line);
  };
  await mkdir(CACHE, { recursive: true });
  const runs = options.runs ?? 30;
  const models = options.models?.map((m) => resolve(m)) ?? (await defaultModels(log));
  const images: Record<string, Buffer> = {};
  for (const mp of [0.3, 3, 12]) images[`${mp} MP`] = await jpegOf(mp);

  log(`# Classifier benchmark (medians of ${runs} runs unless noted; ${new Date().toISOString()})\n`);
  const sets: StorageSet[] = [];
  if (existsSync(SHARED_FILES.fp32)) {
    sets.push({
      model: 'MobileNetV2 zoo int8 (../shared)',
      dir: await importShared('mobilenetv2-int8'),
      fp32Dir: await importShared('mobilenetv2-fp32'),
    });
    sets.push(
      await builtSet('mobilenetv2-storages', 'MobileNetV2 project build (../shared fp32)', {
        source: SHARED_FILES.fp32,
        labels: SHARED_FILES.labels,
        calibration: SHARED_FILES.photos,
      }),
    );
  } else log(`(${SHARED} is absent: no MobileNetV2 storage rows)`);
  sets.push(await resnet18Set());
  const storage = await benchStorages(sets, runs, images, log);
  await embeddingBench(
    sets.map((set) => ({
      model: set.model,
      dir: set.dir,
      fp32: set.fp32Dir ? { dir: set.fp32Dir, weights: 'auto' } : { dir: set.dir, weights: 'fp32' },
    })),
    runs,
    log,
  );
  if (options.storagesOnly) return { lines, storage };
  for (const dir of models) {
    const meta = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
    const q = meta.quantization;
    log(
      `## ${meta.name} (${typeof q === 'string' ? q : (q.weights ?? q.scheme ?? 'see model.json')}) — ${relative(ROOT, dir) || dir}\n`,
    );
    log('| measure | ms | note |\n| --- | ---: | --- |');
    for (const r of await benchModel(dir, runs, images)) log(`| ${r.join(' | ')} |`);
    log('');
  }
  return { lines, storage };
}

/** The CLI's options (also accepted by `npm run bench`, bench/run.ts). */
export const CLASSIFIER_BENCH_ARGS = {
  model: { type: 'string', multiple: true },
  runs: { type: 'string' },
  'storages-only': { type: 'boolean', default: false },
} as const;

async function main() {
  const { values } = parseArgs({ options: CLASSIFIER_BENCH_ARGS });
  await classifierBench(
    {
      models: values.model,
      runs: values.runs === undefined ? undefined : Number(values.runs),
      storagesOnly: values['storages-only'],
    },
    (line) => console.log(line),
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
