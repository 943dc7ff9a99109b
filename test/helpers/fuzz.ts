/**
 * Fuzzing knobs shared by test/unit/fuzz-*.test.ts. CI runs each property a bounded number of
 * times; `npm run fuzz -- --runs N` sets FUZZ_RUNS=N for the long run (and FUZZ_SEED to replay).
 */
import fc from 'fast-check';

const fromEnv = Number(process.env.FUZZ_RUNS);
export const LONG_RUN = Number.isInteger(fromEnv) && fromEnv > 0;

/** Cases for one property: `ci` in a normal test run, FUZZ_RUNS x `share` in the long run. */
export function runs(ci: number, share = 1): number {
  return LONG_RUN ? Math.max(1, Math.round(fromEnv * share)) : ci;
}

export const fuzzParameters = (numRuns: number): fc.Parameters<unknown> => {
  const seed = Number(process.env.FUZZ_SEED);
  // A case that hangs fails (a Lambda would run into its timeout) instead of stalling the run.
  return { numRuns, timeout: 10_000, ...(Number.isInteger(seed) ? { seed } : {}) };
};

/**
 * Runs a property and prints how many cases it took and how long (the long run's figures). An error
 * that escapes as an uncaught exception or unhandled rejection while a case runs (an unlistened
 * stream error, say: it would kill a Lambda process) fails that case, so fast-check shrinks it.
 */
export async function fuzz<T>(
  name: string,
  arb: fc.Arbitrary<T>,
  numRuns: number,
  check: (value: T) => Promise<void>,
) {
  let cases = 0;
  let escaped: unknown;
  const onEscape = (err: unknown) => {
    escaped ??= err;
  };
  process.on('uncaughtException', onEscape);
  process.on('unhandledRejection', onEscape);
  const started = performance.now();
  try {
    await fc.assert(
      fc.asyncProperty(arb, async (value) => {
        cases++;
        escaped = undefined;
        await check(value);
        await new Promise((resolve) => setImmediate(resolve));
        if (escaped !== undefined) throw new Error(`escaped the handler: ${String(escaped)}`);
      }),
      fuzzParameters(numRuns) as fc.Parameters<[T]>,
    );
  } finally {
    process.off('uncaughtException', onEscape);
    process.off('unhandledRejection', onEscape);
  }
  const seconds = (performance.now() - started) / 1000;
  console.info(`fuzz ${name}: ${cases} cases, ${seconds.toFixed(1)} s, 0 failures`);
}

/** Byte-level mutations of a seed: flips, cuts, insertions, duplicated slices. */
export const mutation = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), byte: fc.nat(255) }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('insert' as const),
      at: fc.nat(),
      bytes: fc.uint8Array({ maxLength: 16 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('repeat' as const),
      at: fc.nat(),
      length: fc.nat(64),
      times: fc.nat(8),
    }),
  },
);
export type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

export function mutate(seed: Uint8Array, mutations: readonly Mutation[]): Buffer {
  let b = Buffer.from(seed);
  for (const m of mutations) {
    const at = b.length === 0 ? 0 : m.at % (b.length + 1);
    if (m.kind === 'flip' && b.length > 0) b[at % b.length] = m.byte;
    else if (m.kind === 'cut') b = b.subarray(0, at);
    else if (m.kind === 'insert') b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
    else if (m.kind === 'repeat') {
      const slice = b.subarray(at, at + m.length);
      b = Buffer.concat([b.subarray(0, at), ...Array.from({ length: m.times }, () => slice), b.subarray(at)]);
    }
  }
  return b;
}
