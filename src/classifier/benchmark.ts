/**
 * The benchmark a deployed function runs when it is invoked directly with `{"benchmark": {"runs": N}}`
 * (events/benchmark.json; `npm run bench:lambda` prints the report as a table, see
 * docs/benchmark-in-lambda.md). It answers what no machine here can: which CPU the function gets and
 * which weight storage is fastest and exact there.
 *
 * No other event has a top-level "benchmark" key (API Gateway events carry rawPath and
 * requestContext, S3 notifications Records, S3 Batch Operations tasks), so it cannot arrive through
 * the HTTP API or a bucket; only a principal allowed lambda:InvokeFunction can send it.
 *
 * The report: the CPU (model, the flags that decide int8 kernels, arch), memory size, threads, the
 * serving classifier's init time; the preprocessing time of a generated sample JPEG; and for every
 * storage in the model folder the median and minimum inference time over N runs, whether this CPU
 * computes it exactly (cpu.ts storageExactness), and the largest difference of its output from the
 * serving storage's and from u8's. Each storage other than the serving one is loaded, timed and
 * released before the next, so at most two sessions are in memory. Every step checks the deadline
 * (the function's remaining time minus RESERVE_MS): what does not fit is reported as skipped.
 */
import { availableParallelism } from 'node:os';
import { type Classifier, createClassifier } from './classifier.ts';
import { type CpuInfo, INT8_FLAGS, readCpuInfo, storageExactness } from './cpu.ts';
import { InvalidArgumentError } from './errors.ts';
import { MODEL_FILE } from './model-folder.ts';
import { sharp } from './native.ts';
import { preprocess } from './preprocess.ts';
import type { WeightStorage } from './storages.ts';

export const DEFAULT_RUNS = 20;
export const MAX_RUNS = 200;
/** Kept free before the function's timeout: the reply, the logs, and a step that runs over. */
export const RESERVE_MS = 3000;

/** The generated sample photo: 640 x 480 (0.3 MP), JPEG quality 85. */
export const SAMPLE = { width: 640, height: 480, quality: 85 } as const;

export interface BenchmarkRequest {
  runs: number;
}

export interface StorageResult {
  /** The weight storage ("s8", "u8", ...), or model.onnx when the folder has no "weights" map. */
  storage: string;
  file: string;
  serving: boolean;
  exact: boolean;
  exactWhy: string;
  /** Session creation and warm-up; for the serving storage, its init at cold start; null: not loaded. */
  loadMs: number | null;
  runs: number;
  medianMs: number | null;
  minMs: number | null;
  /** max |output - serving output| on the sample; 0: identical scores. */
  maxAbsDiffVsServing: number | null;
  /** max |output - u8 output|; null when the folder has no u8 storage. */
  maxAbsDiffVsU8: number | null;
  /** Why the storage was not (fully) timed: the deadline, or its load error. */
  skipped?: string;
}

export interface BenchmarkReport {
  cpu: {
    arch: string;
    model: string | null;
    /** Each watched flag: present on every processor; null when the flags could not be read. */
    flags: Record<(typeof INT8_FLAGS)[number], boolean> | null;
    source: string;
    vcpus: number;
  };
  function: {
    name: string | null;
    memoryMb: number | null;
    node: string;
  };
  model: { name: string; version: string; servingStorage: string; servingReason: string };
  threads: number;
  initMs: number;
  sample: { width: number; height: number; jpegBytes: number; what: string };
  preprocess: { runs: number; medianMs: number | null; minMs: number | null };
  storages: StorageResult[];
  budget: { runsRequested: number; budgetMs: number; elapsedMs: number; truncated: boolean };
}

export interface BenchmarkFailure {
  error: { code: 'InvalidArgument' | 'InsufficientTime'; message: string };
}

/** A direct-invoke benchmark event: an object with a top-level "benchmark" key. */
export function isBenchmarkEvent(event: unknown): event is { benchmark: unknown } {
  return typeof event === 'object' && event !== null && Object.hasOwn(event, 'benchmark');
}

/** Checks a benchmark event; throws InvalidArgumentError naming the bad field. */
export function parseBenchmarkEvent(event: { benchmark: unknown }): BenchmarkRequest {
  const extra = Object.keys(event).filter((k) => k !== 'benchmark');
  if (extra.length > 0)
    throw new InvalidArgumentError(
      `a benchmark event has only the key "benchmark"; got also ${extra.map((k) => JSON.stringify(k)).join(', ')}`,
    );
  const body = event.benchmark;
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new InvalidArgumentError(`"benchmark" must be an object such as {"runs": ${DEFAULT_RUNS}}`);
  const unknown = Object.keys(body).filter((k) => k !== 'runs');
  if (unknown.length > 0)
    throw new InvalidArgumentError(
      `"benchmark" has only the field "runs"; got ${unknown.map((k) => JSON.stringify(k)).join(', ')}`,
    );
  const runs = 'runs' in body ? body.runs : DEFAULT_RUNS;
  if (!Number.isInteger(runs) || (runs as number) < 1 || (runs as number) > MAX_RUNS)
    throw new InvalidArgumentError(
      `"benchmark.runs" must be an integer from 1 to ${MAX_RUNS}, got ${JSON.stringify(runs)}`,
    );
  return { runs: runs as number };
}

/** What a benchmark loads and times: one session of a storage. */
export type Session = Pick<Classifier, 'infer' | 'release' | 'initMs' | 'weights'>;

export interface BenchmarkDeps {
  serving: Pick<Classifier, 'folder' | 'threads' | 'limits' | 'initMs' | 'weights' | 'infer'>;
  /** Loads one more storage of the serving folder (default: createClassifier, inexact allowed). */
  load?: (storage: WeightStorage) => Promise<Session>;
  cpu?: CpuInfo;
  /** The function's memory size, MB (settings.lambda.memoryMb); undefined outside Lambda. */
  memoryMb?: number;
  now?: () => number;
}

export const median = (xs: readonly number[]): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

const minimum = (xs: readonly number[]): number | null => (xs.length === 0 ? null : Math.min(...xs));
/** Milliseconds to 0.01 ms in the report. */
const round = (ms: number | null): number | null => (ms === null ? null : Math.round(ms * 100) / 100);

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}

/**
 * A deterministic photo-like JPEG made with sharp (no photo ships with the function): smooth colour
 * gradients plus a hashed per-pixel texture, so the encoder and decoder do realistic work.
 */
export async function samplePhoto(): Promise<Uint8Array> {
  const { width, height, quality } = SAMPLE;
  const pixels = Buffer.alloc(width * height * 3);
  const clamp = (v: number) => Math.max(0, Math.min(255, Math.round(v)));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const texture = (Math.imul(x, 374761393) ^ Math.imul(y, 668265263)) >>> 27; // 0..31
      const i = (y * width + x) * 3;
      pixels[i] = clamp(100 + 80 * Math.sin(x / 41) * Math.cos(y / 29) + texture);
      pixels[i + 1] = clamp(120 + 60 * Math.sin((x + y) / 57) + texture);
      pixels[i + 2] = clamp(170 - y / 5 + 40 * Math.cos(x / 23) + texture);
    }
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .jpeg({ quality })
    .toBuffer();
}

/** Runs the benchmark within `remainingMs` (the function's remaining time). */
export async function runBenchmark(
  deps: BenchmarkDeps,
  request: BenchmarkRequest,
  remainingMs: number,
  functionName: string | null = null,
): Promise<BenchmarkReport | BenchmarkFailure> {
  const now = deps.now ?? (() => performance.now());
  const started = now();
  const budgetMs = Math.floor(remainingMs - RESERVE_MS);
  if (budgetMs <= 0)
    return {
      error: {
        code: 'InsufficientTime',
        message: `the function has ${Math.round(remainingMs)} ms left; the benchmark needs more than ${RESERVE_MS} ms`,
      },
    };
  const deadline = started + budgetMs;
  const fits = (ms: number) => now() + ms <= deadline;
  let truncated = false;
  const { serving } = deps;
  const { folder } = serving;
  const cpu = deps.cpu ?? readCpuInfo();
  const load =
    deps.load ??
    ((storage: WeightStorage) =>
      createClassifier(folder.dir, {
        threads: serving.threads,
        limits: serving.limits,
        weights: storage,
        cpu,
        allowInexact: true,
      }));

  /** Times `fn` up to `runs` times while the next run is expected to fit. */
  const time = async (runs: number, fn: () => Promise<unknown>): Promise<number[]> => {
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      if (!fits(times.length ? (minimum(times) as number) : 0)) {
        truncated = true;
        break;
      }
      const t0 = now();
      await fn();
      times.push(now() - t0);
    }
    return times;
  };

  const jpeg = await samplePhoto();
  const pre = await time(request.runs, () => preprocess(jpeg, folder.meta, serving.limits));
  const planes = (await preprocess(jpeg, folder.meta, serving.limits)).data;

  const servingName = serving.weights.storage ?? MODEL_FILE;
  const servingOutput = await serving.infer(planes);
  const storages: StorageResult[] = [];
  const outputs = new Map<string, Float32Array>([[servingName, servingOutput]]);
  const names = folder.weightFiles ? (Object.keys(folder.weightFiles) as WeightStorage[]) : [];
  // The serving storage first (it is loaded already), then the others in the folder's order.
  const order: (WeightStorage | null)[] =
    serving.weights.storage === null
      ? [null]
      : [serving.weights.storage, ...names.filter((s) => s !== serving.weights.storage)];

  for (const storage of order) {
    const name = storage ?? MODEL_FILE;
    const isServing = storage === serving.weights.storage;
    const { exact, why } = storage
      ? storageExactness(cpu, storage)
      : { exact: true, why: 'no "weights" map: the one model file' };
    const result: StorageResult = {
      storage: name,
      file: storage && folder.meta.weights ? (folder.meta.weights[storage] as string) : MODEL_FILE,
      serving: isServing,
      exact,
      exactWhy: why,
      loadMs: isServing ? round(serving.initMs) : null,
      runs: 0,
      medianMs: null,
      minMs: null,
      maxAbsDiffVsServing: null,
      maxAbsDiffVsU8: null,
    };
    storages.push(result);
    let loaded: Session | undefined;
    if (!isServing) {
      // Loading costs about what the serving storage's init did.
      if (!fits(serving.initMs)) {
        truncated = true;
        result.skipped = 'not loaded: the time budget would run out';
        continue;
      }
      try {
        loaded = await load(storage as WeightStorage);
      } catch (err) {
        result.skipped = `cannot load: ${err instanceof Error ? err.message : String(err)}`;
        continue;
      }
      result.loadMs = round(loaded.initMs);
    }
    const session = loaded ?? serving;
    try {
      outputs.set(name, isServing ? servingOutput : await session.infer(planes));
      const times = await time(request.runs, () => session.infer(planes));
      result.runs = times.length;
      result.medianMs = round(median(times));
      result.minMs = round(minimum(times));
      if (times.length < request.runs)
        result.skipped = `${times.length} of ${request.runs} runs: time budget`;
    } catch (err) {
      result.skipped = `inference failed: ${err instanceof Error ? err.message : String(err)}`;
    } finally {
      await loaded?.release();
    }
  }
  const u8 = outputs.get('u8');
  for (const result of storages) {
    const output = outputs.get(result.storage);
    if (!output) continue;
    result.maxAbsDiffVsServing = maxAbsDiff(output, servingOutput);
    result.maxAbsDiffVsU8 = u8 ? maxAbsDiff(output, u8) : null;
  }

  return {
    cpu: {
      arch: cpu.arch,
      model: cpu.model ?? null,
      flags: cpu.flags
        ? (Object.fromEntries(INT8_FLAGS.map((f) => [f, cpu.flags?.has(f) ?? false])) as Record<
            (typeof INT8_FLAGS)[number],
            boolean
          >)
        : null,
      source: cpu.source,
      vcpus: availableParallelism(),
    },
    function: {
      name: functionName,
      memoryMb: deps.memoryMb ?? null,
      node: process.version,
    },
    model: {
      name: folder.meta.name,
      version: folder.meta.version,
      servingStorage: servingName,
      servingReason: serving.weights.reason,
    },
    threads: serving.threads,
    initMs: round(serving.initMs) as number,
    sample: {
      width: SAMPLE.width,
      height: SAMPLE.height,
      jpegBytes: jpeg.length,
      what: `generated with sharp: gradients and a hashed texture, JPEG quality ${SAMPLE.quality}`,
    },
    preprocess: { runs: pre.length, medianMs: round(median(pre)), minMs: round(minimum(pre)) },
    storages,
    budget: {
      runsRequested: request.runs,
      budgetMs,
      elapsedMs: round(now() - started) as number,
      truncated,
    },
  };
}

/**
 * The benchmark as a handler's branch: validates the event (bad fields answer an InvalidArgument
 * error object, not a thrown error, so a mistyped event does not count as a function error) and runs
 * within the invocation's remaining time.
 */
export function createBenchmark(deps: BenchmarkDeps) {
  return async (
    event: { benchmark: unknown },
    context: { getRemainingTimeInMillis(): number; functionName?: string },
  ): Promise<BenchmarkReport | BenchmarkFailure> => {
    let request: BenchmarkRequest;
    try {
      request = parseBenchmarkEvent(event);
    } catch (err) {
      if (err instanceof InvalidArgumentError)
        return { error: { code: 'InvalidArgument', message: err.message } };
      throw err;
    }
    return runBenchmark(deps, request, context.getRemainingTimeInMillis(), context.functionName ?? null);
  };
}
