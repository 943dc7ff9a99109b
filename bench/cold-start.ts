/** Process cold start of the classifier: bundle bench/cold-start-entry.ts, run it in fresh processes. */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cacheDir, ROOT } from '../paths.ts';
import { bundle } from '../scripts/build.ts';

const run = promisify(execFile);

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

export interface ColdStart {
  /** node start to the first classification result */
  firstResultMs: number;
  /** session creation + warm-up inside createClassifier */
  initMs: number;
  /** the first classify() after init: what a warm (e.g. provisioned) container pays */
  firstClassifyMs: number;
  peakRssMb: number;
  /** spawn to exit, as the parent sees it */
  wallMs: number;
}

/**
 * Medians over `runs` fresh node processes, each classifying `image` with the folder at `modelDir`
 * (`env` adds variables, e.g. MODEL_WEIGHTS).
 */
export async function coldStart(
  modelDir: string,
  image: string,
  runs: number,
  env: Record<string, string> = {},
): Promise<ColdStart> {
  await mkdir(cacheDir('bench'), { recursive: true });
  const bundleFile = join(cacheDir('bench'), 'cold-start.mjs');
  await bundle(join(ROOT, 'bench/cold-start-entry.ts'), bundleFile);
  const samples: ColdStart[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const { stdout } = await run(process.execPath, [bundleFile], {
      cwd: ROOT, // so the bundle's require() finds node_modules, as the layer's does in Lambda
      env: { ...process.env, MODEL_DIR: modelDir, BENCH_IMAGE: image, MODEL_THREADS: '1', ...env },
    });
    samples.push({ ...JSON.parse(stdout), wallMs: performance.now() - t });
  }
  const pick = (key: keyof ColdStart) => median(samples.map((s) => s[key]));
  return {
    firstResultMs: pick('firstResultMs'),
    initMs: pick('initMs'),
    firstClassifyMs: pick('firstClassifyMs'),
    peakRssMb: pick('peakRssMb'),
    wallMs: pick('wallMs'),
  };
}
