/**
 * The benchmark the deployed functions answer (src/classifier/benchmark.ts) and the table
 * `npm run bench:lambda` prints (bench/lambda.ts), with fake sessions on a fake clock: which events
 * it takes, what it reports per storage, how it stays within the time budget and releases what it
 * loads. Preprocessing of the generated sample JPEG is real (sharp).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatReport } from '../../bench/lambda.ts';
import {
  type BenchmarkDeps,
  type BenchmarkFailure,
  type BenchmarkReport,
  createBenchmark,
  isBenchmarkEvent,
  MAX_RUNS,
  maxAbsDiff,
  median,
  parseBenchmarkEvent,
  RESERVE_MS,
  runBenchmark,
  SAMPLE,
  type Session,
  samplePhoto,
} from '../../src/classifier/benchmark.ts';
import { readCpuInfo } from '../../src/classifier/cpu.ts';
import { InvalidArgumentError } from '../../src/classifier/errors.ts';
import { IMAGENET_DEFAULTS, type ModelFolder } from '../../src/classifier/model-folder.ts';
import { DEFAULT_LIMITS } from '../../src/classifier/preprocess.ts';
import type { WeightStorage } from '../../src/classifier/storages.ts';
import type { WeightsChoice } from '../../src/classifier/weights.ts';
import { ROOT } from '../helpers/shared.ts';

const fixture = (name: string) => join(import.meta.dirname, '../fixtures/cpuinfo', name);
const AVX2 = readCpuInfo(fixture('x64-avx2-amd-epyc-zen2.txt'), 'x64');
const VNNI = readCpuInfo(fixture('x64-avx512vnni-amd-epyc-zen4.txt'), 'x64');

/** Outputs of the fake storages: s8 differs from u8 by 0.25 in one score (as if it saturated). */
const OUTPUT: Record<string, number[]> = { s8: [1, 2.25, 3], u8: [1, 2, 3], 'model.onnx': [0, 1, 0] };

/**
 * A fake model folder and serving session on a fake clock: each inference of a storage advances the
 * clock by that storage's cost; each load by `loadMs`. Records every load and release.
 */
function setup(
  options: {
    storages?: WeightStorage[] | null;
    serving?: WeightStorage | null;
    cost?: Record<string, number>;
  } = {},
) {
  const storages = options.storages === undefined ? (['s8', 'u8'] as WeightStorage[]) : options.storages;
  const servingStorage = options.serving === undefined ? 'u8' : options.serving;
  const cost = options.cost ?? { s8: 4, u8: 10, 'model.onnx': 5 };
  let clock = 0;
  const calls: string[] = [];
  const infer = (name: string) => async () => {
    if (name === 'flaky') throw new Error('fake: ORT failed');
    clock += cost[name] ?? 1;
    calls.push(`infer ${name}`);
    return new Float32Array(OUTPUT[name] ?? []);
  };
  const weights = (storage: WeightStorage | null): WeightsChoice => ({
    storage,
    file: storage === 'u8' ? 'model.u8.onnx' : 'model.onnx',
    reason: `fake: ${storage}`,
    requested: 'auto',
    exact: true,
  });
  const folder = {
    dir: '/fake',
    modelPath: '/fake/model.onnx',
    weightFiles: storages && Object.fromEntries(storages.map((s) => [s, `/fake/${s}.onnx`])),
    labels: ['a', 'b', 'c'],
    meta: {
      ...IMAGENET_DEFAULTS,
      name: 'fake',
      version: '1',
      inputName: 'input',
      inputShape: [1, 3, 224, 224],
      ...(storages ? { weights: Object.fromEntries(storages.map((s) => [s, `${s}.onnx`])) } : {}),
    },
  } as unknown as ModelFolder;
  const deps: BenchmarkDeps = {
    serving: {
      folder,
      threads: 1,
      limits: DEFAULT_LIMITS,
      initMs: 100,
      weights: weights(servingStorage),
      infer: infer(servingStorage ?? 'model.onnx'),
    },
    cpu: AVX2,
    memoryMb: 1769,
    now: () => clock,
    load: async (storage): Promise<Session> => {
      if (storage === ('broken' as WeightStorage)) throw new Error('fake: cannot open broken.onnx');
      clock += 50;
      calls.push(`load ${storage}`);
      return {
        infer: infer(storage),
        initMs: 50,
        weights: weights(storage),
        release: async () => {
          calls.push(`release ${storage}`);
        },
      };
    },
  };
  return { deps, calls, advance: (ms: number) => (clock += ms) };
}

const ok = (r: BenchmarkReport | BenchmarkFailure): BenchmarkReport => {
  if ('error' in r) throw new Error(`expected a report, got ${r.error.code}: ${r.error.message}`);
  return r;
};

describe('benchmark events', () => {
  it('only an object with a top-level "benchmark" key is one: none of the sample events of events/', () => {
    for (const file of readdirSync(join(ROOT, 'events'))) {
      const event = JSON.parse(readFileSync(join(ROOT, 'events', file), 'utf8'));
      expect(isBenchmarkEvent(event), file).toBe(file === 'benchmark.json');
    }
    expect(isBenchmarkEvent(null)).toBe(false);
    expect(isBenchmarkEvent('benchmark')).toBe(false);
    expect(isBenchmarkEvent({ Records: [], benchmark: {} })).toBe(true); // and then refused below
  });

  it('events/benchmark.json asks for 20 runs; runs defaults to 20', () => {
    const sample = JSON.parse(readFileSync(join(ROOT, 'events/benchmark.json'), 'utf8'));
    expect(parseBenchmarkEvent(sample)).toEqual({ runs: 20 });
    expect(parseBenchmarkEvent({ benchmark: {} })).toEqual({ runs: 20 });
    expect(parseBenchmarkEvent({ benchmark: { runs: 1 } })).toEqual({ runs: 1 });
    expect(parseBenchmarkEvent({ benchmark: { runs: MAX_RUNS } })).toEqual({ runs: MAX_RUNS });
  });

  it.each([
    [{ benchmark: { runs: 0 } }, '"benchmark.runs" must be an integer from 1 to 200, got 0'],
    [{ benchmark: { runs: 201 } }, 'got 201'],
    [{ benchmark: { runs: 2.5 } }, 'got 2.5'],
    [{ benchmark: { runs: '20' } }, 'got "20"'],
    [{ benchmark: { runs: null } }, 'got null'],
    [{ benchmark: 20 }, '"benchmark" must be an object'],
    [{ benchmark: [] }, '"benchmark" must be an object'],
    [{ benchmark: { runs: 5, storages: ['s8'] } }, '"benchmark" has only the field "runs"; got "storages"'],
    [{ benchmark: {}, Records: [] }, 'a benchmark event has only the key "benchmark"; got also "Records"'],
  ])('refuses %j with a typed error', (event, message) => {
    expect(() => parseBenchmarkEvent(event)).toThrow(InvalidArgumentError);
    expect(() => parseBenchmarkEvent(event)).toThrow(message);
  });

  it('the handler answers bad input with an InvalidArgument error object, and runs nothing', async () => {
    const { deps, calls } = setup();
    const bench = createBenchmark(deps);
    const answer = await bench({ benchmark: { runs: 1000 } }, { getRemainingTimeInMillis: () => 60_000 });
    expect(answer).toEqual({
      error: {
        code: 'InvalidArgument',
        message: '"benchmark.runs" must be an integer from 1 to 200, got 1000',
      },
    });
    expect(calls).toEqual([]);
  });
});

describe('runBenchmark', () => {
  it('times every storage of the folder, serving one first, loading and releasing each other one', async () => {
    const { deps, calls } = setup();
    const report = ok(await runBenchmark(deps, { runs: 5 }, 60_000, 'image-tagger-dev-tagger'));
    expect(report.storages.map((s) => [s.storage, s.serving, s.runs, s.medianMs, s.minMs])).toEqual([
      ['u8', true, 5, 10, 10],
      ['s8', false, 5, 4, 4],
    ]);
    // One untimed inference of each storage gives its output; s8 is loaded, timed, released.
    expect(calls).toEqual([
      'infer u8',
      ...Array(5).fill('infer u8'),
      'load s8',
      ...Array(6).fill('infer s8'),
      'release s8',
    ]);
    expect(report.storages[0]).toMatchObject({ file: 'u8.onnx', loadMs: 100, exact: true });
    expect(report.storages[1]).toMatchObject({ file: 's8.onnx', loadMs: 50, exact: false });
    expect(report.storages[1]?.exactWhy).toContain('no VNNI');
    expect(report.storages.map((s) => [s.maxAbsDiffVsServing, s.maxAbsDiffVsU8])).toEqual([
      [0, 0],
      [0.25, 0.25],
    ]);
    expect(report.function).toEqual({
      name: 'image-tagger-dev-tagger',
      memoryMb: 1769,
      node: process.version,
    });
    expect(report.cpu).toMatchObject({ arch: 'x64', model: 'AMD EPYC 7R32' });
    expect(report.cpu.flags).toMatchObject({
      avx2: true,
      avx512f: false,
      avx512_vnni: false,
      avx_vnni: false,
    });
    expect(report).toMatchObject({ threads: 1, initMs: 100, model: { servingStorage: 'u8' } });
    expect(report.preprocess.runs).toBe(5);
    expect(report.sample).toMatchObject({ width: SAMPLE.width, height: SAMPLE.height });
    expect(report.budget).toMatchObject({
      runsRequested: 5,
      budgetMs: 60_000 - RESERVE_MS,
      truncated: false,
    });
  });

  it('on a CPU with VNNI, s8 is exact', async () => {
    const { deps } = setup({ serving: 's8' });
    const report = ok(await runBenchmark({ ...deps, cpu: VNNI }, { runs: 2 }, 60_000));
    expect(report.storages.map((s) => [s.storage, s.exact])).toEqual([
      ['s8', true],
      ['u8', true],
    ]);
    expect(report.cpu.flags?.avx512_vnni).toBe(true);
  });

  it('a folder without a "weights" map: one row, model.onnx', async () => {
    const { deps, calls } = setup({ storages: null, serving: null });
    const report = ok(await runBenchmark(deps, { runs: 3 }, 60_000));
    expect(report.storages).toEqual([
      expect.objectContaining({ storage: 'model.onnx', serving: true, runs: 3, maxAbsDiffVsU8: null }),
    ]);
    expect(calls.filter((c) => c.startsWith('load'))).toEqual([]);
  });

  it('stops timing when the next run would pass the deadline, and does not load what would not fit', async () => {
    // Budget 500 ms: the u8 runs (10 ms each, after preprocessing on the fake clock) fit; then loading
    // s8 (the serving init, 100 ms) would not once the budget is nearly gone.
    const { deps, calls } = setup({ cost: { u8: 120, s8: 4 } });
    const report = ok(await runBenchmark(deps, { runs: 10 }, RESERVE_MS + 500));
    expect(report.storages[0]).toMatchObject({
      storage: 'u8',
      runs: 3,
      skipped: '3 of 10 runs: time budget',
    });
    expect(report.storages[1]).toMatchObject({
      storage: 's8',
      runs: 0,
      loadMs: null,
      medianMs: null,
      skipped: 'not loaded: the time budget would run out',
    });
    expect(calls).not.toContain('load s8');
    expect(report.budget.truncated).toBe(true);
    expect(report.budget.elapsedMs).toBeLessThanOrEqual(500);
  });

  it('refuses to start with less than RESERVE_MS left', async () => {
    const { deps, calls } = setup();
    const answer = await runBenchmark(deps, { runs: 1 }, RESERVE_MS);
    expect(answer).toEqual({
      error: {
        code: 'InsufficientTime',
        message: `the function has ${RESERVE_MS} ms left; the benchmark needs more than ${RESERVE_MS} ms`,
      },
    });
    expect(calls).toEqual([]);
  });

  it('a storage that cannot load or run is reported, released, and the others still run', async () => {
    const { deps, calls } = setup({ storages: ['u8', 'broken', 'flaky', 's8'] as WeightStorage[] });
    const report = ok(await runBenchmark(deps, { runs: 2 }, 60_000));
    expect(report.storages.map((s) => [s.storage, s.runs, s.skipped])).toEqual([
      ['u8', 2, undefined],
      ['broken', 0, 'cannot load: fake: cannot open broken.onnx'],
      ['flaky', 0, 'inference failed: fake: ORT failed'],
      ['s8', 2, undefined],
    ]);
    expect(calls.filter((c) => /load|release/.test(c))).toEqual([
      'load flaky',
      'release flaky',
      'load s8',
      'release s8',
    ]);
  });
});

describe('helpers', () => {
  it('median, maxAbsDiff', () => {
    expect(median([])).toBeNull();
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(maxAbsDiff(new Float32Array([1, 2]), new Float32Array([1.5, 1]))).toBe(1);
    expect(maxAbsDiff(new Float32Array([1]), new Float32Array([1, 2]))).toBe(Number.POSITIVE_INFINITY);
  });

  it('the sample photo is a deterministic 0.3 MP JPEG', async () => {
    const [a, b] = [await samplePhoto(), await samplePhoto()];
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect([a[0], a[1], a[2]]).toEqual([0xff, 0xd8, 0xff]);
    expect(SAMPLE.width * SAMPLE.height).toBe(307_200);
    expect(a.length).toBeGreaterThan(30_000); // texture, not a flat image
  });
});

describe('bench:lambda table', () => {
  it('prints the CPU flags, the memory and a row per storage with exactness and output differences', async () => {
    const { deps } = setup();
    const text = formatReport(
      'tagger (image-tagger-dev-tagger)',
      ok(await runBenchmark(deps, { runs: 4 }, 60_000)),
    );
    const lines = text.split('\n');
    expect(lines[0]).toBe('## tagger (image-tagger-dev-tagger)');
    expect(text).toContain('CPU: AMD EPYC 7R32, x64, ');
    expect(text).toContain(
      'flags: avx2 (absent: avx512f avx512_vnni avx_vnni amx_tile amx_int8 amx_bf16 asimddp i8mm sve)',
    );
    expect(text).toContain('memory: 1769 MB, 1 inference thread(s)');
    const rows = lines.filter((l) => /^\| (u8|s8) /.test(l)).map((l) => l.split('|').map((c) => c.trim()));
    expect(rows).toEqual([
      [
        '',
        'u8',
        'u8.onnx',
        'yes',
        'yes',
        '100.0',
        '4',
        '10.0',
        '10.0',
        '1.00x',
        '0 (identical)',
        '0 (identical)',
        '',
      ],
      ['', 's8', 's8.onnx', '', 'NO', '50.0', '4', '4.0', '4.0', '0.40x', '0.250', '0.250', ''],
    ]);
    expect(text).toContain('- s8 is inexact on this CPU: no VNNI');
  });
});
