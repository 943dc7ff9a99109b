/**
 * The long fuzz run: `npm run fuzz -- --runs 100000 [--seed N]`. Runs test/unit/fuzz-*.test.ts with
 * FUZZ_RUNS=N (each property runs N cases, or its stated share of N: the real-sharp property runs
 * N/10, the failing-store property N/2) and no test timeout. CI runs the same tests with a bounded
 * number of cases (see test/helpers/fuzz.ts).
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '100000' }, seed: { type: 'string' } },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1)
  throw new Error(`--runs must be a positive integer, got ${values.runs}`);

// Every run has a seed, printed first, so that any run (a failure, a hang) can be replayed exactly.
const seed = values.seed ?? String(Math.floor(Math.random() * 2 ** 31));
console.info(`fuzz: --runs ${runs} --seed ${seed}`);
const started = performance.now();
const result = spawnSync(
  'npx',
  ['vitest', 'run', 'test/unit/fuzz-', '--testTimeout', String(24 * 3600_000)],
  {
    stdio: 'inherit',
    env: { ...process.env, FUZZ_RUNS: String(runs), FUZZ_SEED: seed },
  },
);
const seconds = (performance.now() - started) / 1000;
console.info(
  `\nfuzz: --runs ${runs} --seed ${seed}: ${seconds.toFixed(0)} s wall, ` +
    `${result.status === 0 ? 'no failures' : `FAILED (exit ${result.status})`}`,
);
process.exit(result.status ?? 1);
