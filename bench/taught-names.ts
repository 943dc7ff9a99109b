/**
 * npm run bench:names [-- --names 100,1000 --runs 2000]
 *
 * What scoring taught names adds to the tagger per upload (src/tagging/taught-labels.ts scoreNames,
 * the call writeTags makes): `--names` labels of the served model, each with a seeded random
 * centroid, for the two embedding sizes the service ships (ResNet-18 512, MobileNetV2 1280), in
 * three cases: every label a "dog" name and the image a dog (every label passes the group check and
 * costs its dot product: the worst case), half of them of another group (their group check fails
 * first), and no group at all (embedding only). Prints, over `--runs` uploads (64 distinct random
 * embeddings) after a warm-up: the median CPU time per upload of batches of 50 (steadier than wall
 * time on a shared machine), and the wall time's median and p99; with the CPU flags. The list of names itself is read once per container and TAUGHT_LABELS_TTL_MS.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { seededRandom } from '../models/resnet18.ts';
import { readCpuInfo } from '../src/classifier/cpu.ts';
import { scoreNames, type TaughtLabel } from '../src/tagging/taught-labels.ts';
import { l2Normalize } from '../src/tagging/vector-index.ts';
import { median } from './cold-start.ts';

/** Uploads per CPU-time sample (process.cpuUsage has microsecond resolution). */
const BATCH = 50;
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;

function main(argv: string[]): void {
  const { values } = parseArgs({
    args: argv,
    options: { names: { type: 'string', default: '100,1000' }, runs: { type: 'string', default: '2000' } },
  });
  const counts = values.names.split(',').map(Number);
  const runs = Number(values.runs);
  const random = seededRandom(26);
  const unit = (d: number) => l2Normalize(Float32Array.from({ length: d }, () => random() - 0.5));
  const flags = [...(readCpuInfo().flags ?? [])]
    .filter((f) => /^(avx2|avx512_vnni|avx_vnni)$/.test(f))
    .sort();
  console.log(
    `taught names scored per upload: ${counts.join(', ')} names, ${runs} uploads; CPU flags: ${flags.join(' ') || 'none'}`,
  );
  console.log(
    '| embedding | names (case) | CPU µs / upload (median of batches) | wall µs median | wall µs p99 | names matched (median) |',
  );
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const count of counts)
    for (const dimension of [512, 1280]) {
      const cases: [string, (i: number) => string | undefined][] = [
        ['all pass the group check', () => 'dog'],
        ['half of another group', (i) => (i % 2 ? 'dog' : 'bird')],
        ['embedding only', () => undefined],
      ];
      for (const [title, groupOf] of cases) {
        const labels: TaughtLabel[] = Array.from({ length: count }, (_, i) => {
          const group = groupOf(i);
          return {
            name: `name ${i}`,
            model: 'bench@1',
            ...(group ? { group } : {}),
            centroid: unit(dimension),
            // Random directions in this many dimensions are near 0 apart: a low threshold lets a few match.
            threshold: 0.08,
            leaveOneOut: [],
            examples: [],
            not: [],
            createdBy: 'bench',
            createdAt: '',
            labelled: 0,
            complete: true,
          };
        });
        const images = Array.from({ length: 64 }, () => ({
          embedding: unit(dimension),
          categories: [{ label: 'dog', score: 0.9 }],
        }));
        for (let i = 0; i < 200; i++)
          scoreNames(labels, 'bench@1', images[i % images.length] as (typeof images)[0]);
        const times: number[] = [];
        const cpu: number[] = [];
        const matched: number[] = [];
        for (let b = 0; b < runs / BATCH; b++) {
          const c0 = process.cpuUsage();
          for (let j = 0; j < BATCH; j++) {
            const image = images[(b * BATCH + j) % images.length] as (typeof images)[0];
            const t0 = performance.now();
            const names = scoreNames(labels, 'bench@1', image);
            times.push((performance.now() - t0) * 1000);
            matched.push(names.length);
          }
          const used = process.cpuUsage(c0);
          cpu.push((used.user + used.system) / BATCH);
        }
        times.sort((a, b) => a - b);
        console.log(
          `| ${dimension} | ${count} (${title}) | ${median(cpu).toFixed(0)} | ${median(times).toFixed(0)} | ${percentile(times, 99).toFixed(0)} | ${median(matched)} |`,
        );
      }
    }
}

main(process.argv.slice(2));
