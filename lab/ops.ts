/**
 * npm run lab:ops -- --model <folder> [--runs N] [--threads N]
 *
 * Where inference time goes, per storage of a model folder (every file of its model.json "weights"
 * map): ONNX Runtime's own profile (kernel time of each node of the optimized graph, summed by op
 * type), in milliseconds per run, over N runs of one input after 5 warm-up runs. The ops are those ONNX
 * Runtime runs after its graph optimizations (QLinearConv, not Conv + QuantizeLinear), so the table
 * says which kernels a storage spends its time in on this CPU. Under `npm run lab:avx2-only` the
 * kernels are the ones an AVX2-only CPU (x86 Lambda) runs.
 */
import { parseArgs } from 'node:util';
import { profileOps } from '../bench/profile.ts';
import { INT8_FLAGS, readCpuInfo } from '../src/classifier/cpu.ts';
import { loadModelFolder } from '../src/classifier/model-folder.ts';
import type { WeightStorage } from '../src/classifier/storages.ts';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      runs: { type: 'string', default: '40' },
      threads: { type: 'string', default: '1' },
    },
  });
  if (!values.model) throw new Error('usage: npm run lab:ops -- --model <folder> [--runs N] [--threads N]');
  const runs = Number(values.runs);
  const threads = Number(values.threads);
  const folder = await loadModelFolder(values.model);
  const files = Object.entries(folder.weightFiles ?? { model: folder.modelPath }) as [
    WeightStorage,
    string,
  ][];
  const cpu = readCpuInfo();
  const flags = INT8_FLAGS.filter((f) => cpu.flags?.has(f)).join(', ') || 'unknown';
  const hidden = process.env.AVX2_ONLY_HIDDEN
    ? ` (npm run lab:avx2-only: hidden ${process.env.AVX2_ONLY_HIDDEN})`
    : '';
  console.log(
    `${cpu.model ?? 'unknown CPU'}, flags: ${flags}${hidden}; ${threads} thread(s), ${runs} runs\n`,
  );
  const profiles = new Map<string, Map<string, number>>();
  for (const [storage, file] of files)
    profiles.set(storage, await profileOps(file, folder.meta.cropSize, runs, threads));
  const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  const ops = [...new Set([...profiles.values()].flatMap((m) => [...m.keys()]))].sort(
    (a, b) =>
      Math.max(...[...profiles.values()].map((m) => m.get(b) ?? 0)) -
      Math.max(...[...profiles.values()].map((m) => m.get(a) ?? 0)),
  );
  const storages = [...profiles.keys()];
  console.log(`| op (ms per run) | ${storages.join(' | ')} |`);
  console.log(`| --- | ${storages.map(() => '---:').join(' | ')} |`);
  for (const op of ops)
    console.log(`| ${op} | ${storages.map((s) => (profiles.get(s)?.get(op) ?? 0).toFixed(2)).join(' | ')} |`);
  console.log(
    `| **all kernels** | ${storages.map((s) => `**${total(profiles.get(s) ?? new Map()).toFixed(2)}**`).join(' | ')} |`,
  );
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
