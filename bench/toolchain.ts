/**
 * npx tsx bench/toolchain.ts [--runs N]   (also: npm run bench:toolchain)
 *
 * Model toolchain benchmark, medians of interleaved runs (other processes share this machine, so
 * models are timed round-robin and compared within one run):
 * - MobileNetV2 (../shared): this project's int8 vs ONNX Runtime's Python-quantized int8 (as shipped
 *   and re-encoded u8) vs fp32, 1 thread;
 * - synthetic ResNet-18: fp32 vs int8 in the three weight encodings, 1 and 2 threads;
 * - file sizes; cold start (node start to first result) and peak RSS of a fresh process running the
 *   bundled classifier with the int8 ResNet-18.
 * Rows that need ../shared are skipped with a printed reason.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { listImages, preprocessFiles, syntheticImages } from '../models/calibrate.ts';
import { decodeModel, encodeModel, reencodeS8WeightsAsU8 } from '../models/onnx.ts';
import { quantizeStatic } from '../models/pipeline.ts';
import { buildSyntheticResNet18, SYNTHETIC_SEEDS, syntheticInputs } from '../models/synthetic.ts';
import { cacheDir, SHARED, SHARED_FILES } from '../paths.ts';
import { sessionOptions } from '../src/classifier/classifier.ts';
import { chooseStorage, readCpuInfo } from '../src/classifier/cpu.ts';
import { IMAGENET_DEFAULTS, writeModelFolder } from '../src/classifier/model-folder.ts';
import { ort } from '../src/classifier/native.ts';
import { preprocess } from '../src/classifier/preprocess.ts';
import type { Int8Storage } from '../src/classifier/storages.ts';
import { coldStart, median } from './cold-start.ts';

const CACHE = cacheDir('bench');
const hasShared = existsSync(SHARED_FILES.fp32);

const fmt = (ms: number) => ms.toFixed(ms < 10 ? 2 : 1);
const mb = (bytes: number) => (bytes / 1e6).toFixed(2);

/** Median latency per model, timed round-robin: `rounds` x (each model `perRound` runs). */
async function latencies(
  models: Record<string, Uint8Array>,
  input: Float32Array,
  threads: number,
  rounds: number,
  perRound = 3,
): Promise<Record<string, number>> {
  const sessions: [string, Awaited<ReturnType<typeof ort.InferenceSession.create>>][] = [];
  for (const [name, bytes] of Object.entries(models))
    sessions.push([name, await ort.InferenceSession.create(bytes, sessionOptions(threads, false))]);
  const tensor = new ort.Tensor('float32', input, [1, 3, 224, 224]);
  const times = new Map<string, number[]>(sessions.map(([n]) => [n, []]));
  try {
    for (const [, s] of sessions)
      for (let i = 0; i < 3; i++) await s.run({ [s.inputNames[0] as string]: tensor });
    for (let r = 0; r < rounds; r++) {
      for (const [name, s] of sessions) {
        for (let i = 0; i < perRound; i++) {
          const t = performance.now();
          await s.run({ [s.inputNames[0] as string]: tensor });
          times.get(name)?.push(performance.now() - t);
        }
      }
    }
  } finally {
    for (const [, s] of sessions) await s.release();
  }
  return Object.fromEntries([...times].map(([n, t]) => [n, median(t)]));
}

/**
 * Runs the toolchain benchmark and returns its markdown lines (the CLI prints them; `npm run bench
 * -- --write` puts them in docs/benchmarks.md). `runs`: rounds of the interleaved timing, at least 3.
 */
export async function toolchainBench(options: { runs?: number } = {}): Promise<string[]> {
  const rounds = Math.max(3, options.runs ?? 10);
  await mkdir(CACHE, { recursive: true });
  const rows: string[][] = [];
  const row = (...cells: string[]) => rows.push(cells);
  const notes: string[] = [];

  // Input: a real photo when ../shared is there, else a generated image; both via preprocess().
  const image = hasShared
    ? await readFile(join(SHARED_FILES.photos, '207-Golden-Retriever.jpg'))
    : ((await syntheticImages(1, 5))[0] as Uint8Array);
  const input = (await preprocess(image, IMAGENET_DEFAULTS)).data;

  // MobileNetV2.
  if (hasShared) {
    const fp32 = await readFile(SHARED_FILES.fp32);
    const shared = await readFile(SHARED_FILES.int8);
    const sharedU8 = decodeModel(shared);
    reencodeS8WeightsAsU8(sharedU8);
    const calibration = await preprocessFiles(await listImages(SHARED_FILES.photos, 25), IMAGENET_DEFAULTS);
    const ours = await quantizeStatic(fp32, calibration);
    const ours7 = await quantizeStatic(fp32, calibration, { weightEncoding: 's8-7bit' });
    const oursMixed = await quantizeStatic(fp32, calibration, { weightEncoding: 'mixed' });
    const models = {
      'fp32 (shared)': fp32,
      'int8 ORT-Python (shared, as shipped: s8 weights)': shared,
      'int8 ORT-Python (shared, re-encoded u8)': encodeModel(sharedU8),
      'int8 this quantizer (u8 weights, default)': ours.int8,
      'int8 this quantizer (s8-7bit weights)': ours7.int8,
      'int8 this quantizer (mixed: u8 depthwise/first/FC, s8-7bit rest)': oursMixed.int8,
    };
    const ms = await latencies(models, input, 1, rounds);
    const ref = ms['int8 ORT-Python (shared, as shipped: s8 weights)'] as number;
    const f = ms['fp32 (shared)'] as number;
    for (const [name, bytes] of Object.entries(models)) {
      const m = ms[name] as number;
      row(
        `MobileNetV2 ${name}`,
        '1',
        fmt(m),
        `${(m / f).toFixed(2)}x fp32, ${(m / ref).toFixed(2)}x shared int8`,
        mb(bytes.length),
      );
    }
  } else {
    notes.push(`MobileNetV2 rows skipped: ${SHARED} is absent (no shared models or photos).`);
  }

  // ResNet-18 synthetic.
  const fp32 = await buildSyntheticResNet18();
  const calibration = await syntheticInputs(25, SYNTHETIC_SEEDS.calibration);
  const int8: Partial<Record<Int8Storage, Uint8Array>> = {};
  for (const enc of ['u8', 's8-7bit', 'mixed', 's8'] as const)
    int8[enc] = (await quantizeStatic(fp32, calibration, { weightEncoding: enc })).int8;
  const labels: Record<Int8Storage, string> = {
    u8: 'int8 u8 weights (default, exact)',
    's8-7bit': 'int8 s8-7bit weights (exact, 7-bit)',
    mixed: 'int8 mixed weights (u8 first conv + FC, s8-7bit rest)',
    s8: 'int8 s8 weights (saturates without VNNI)',
  };
  for (const threads of [1, 2]) {
    const models: Record<string, Uint8Array> = { fp32 };
    for (const enc of ['u8', 's8-7bit', 'mixed', 's8'] as const)
      models[labels[enc]] = int8[enc] as Uint8Array;
    const ms = await latencies(models, input, threads, rounds);
    const f = ms.fp32 as number;
    for (const [name, bytes] of Object.entries(models)) {
      const m = ms[name] as number;
      row(
        `ResNet-18 synthetic ${name}`,
        String(threads),
        fmt(m),
        `${(m / f).toFixed(2)}x fp32`,
        mb(bytes.length),
      );
    }
  }

  // Cold start with the int8 ResNet-18 as a model folder with both storages (auto picks one).
  const dir = join(CACHE, 'toolchain-resnet18');
  await writeModelFolder(
    dir,
    int8.s8 as Uint8Array,
    Array.from({ length: 1000 }, (_, i) => `class ${i}`),
    {
      name: 'resnet18',
      version: 'bench',
      inputName: 'input',
      outputName: 'output',
      inputShape: [-1, 3, 224, 224],
      ...IMAGENET_DEFAULTS,
      quantization: 'int8 static QDQ, s8 and u8 weights',
      source: 'synthetic (bench/toolchain.ts)',
      licence: 'generated',
      labelsMeaningful: false,
    },
    { model: 's8', others: { u8: int8.u8 as Uint8Array } },
  );
  const cpu = chooseStorage(readCpuInfo());
  const imagePath = join(CACHE, 'toolchain-cold-start.jpg');
  await writeFile(imagePath, image);
  const cold = await coldStart(dir, imagePath, 7);

  const lines: string[] = [];
  const log = (line = '') => lines.push(line);
  log('\n## Model toolchain (medians; ratios from the same run)\n');
  log('| model | threads | latency ms | ratio | file MB |');
  log('| --- | --- | --- | --- | --- |');
  for (const r of rows) log(`| ${r.join(' | ')} |`);
  log(`\n| int8 ResNet-18 classifier (auto: ${cpu.storage}), fresh process (median of 7) | value |`);
  log('| --- | --- |');
  log(`| node start to first result (ms) | ${fmt(cold.firstResultMs)} |`);
  log(`| spawn to exit, wall clock (ms) | ${fmt(cold.wallMs)} |`);
  log(`| peak RSS, VmHWM (MB) | ${cold.peakRssMb.toFixed(0)} |`);
  for (const n of notes) log(`\n${n}`);
  log(`\nauto picks ${cpu.storage} on this CPU: ${cpu.reason}.`);
  log(
    '\nint8 is fast on a VNNI CPU because of vpdpbusd (64 u8 x s8 MACs per instruction). Without VNNI, ' +
      'u8 x s8 needs vpmaddubsw + vpmaddwd + vpaddd and saturates pairs in int16, and the exact u8 x u8 path ' +
      'widens to int16 first (vpmaddwd, half the MACs per instruction), so int8 cannot reach that speed there.',
  );
  return lines;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' } } });
  for (const line of await toolchainBench({ runs: Number(values.runs) })) console.log(line);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  main().catch((err: Error) => {
    console.error(`bench/toolchain: ${err.stack ?? err.message}`);
    process.exit(1);
  });
