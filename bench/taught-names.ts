/**
 * npm run bench:names [-- --names 100,1000 --runs 2000]
 *
 * What scoring taught names adds to the tagger per upload (src/tagging/taught-labels.ts scoreNames,
 * the call writeTags makes), by its two paths in the same run: the JavaScript loop, and the dot
 * products in ONNX Runtime (src/classifier/dot-products.ts, the path the tagger takes from
 * DOT_PRODUCTS_MIN_VALUES centroid values on). `--names` labels of the served model, each with a
 * seeded random centroid, for the two embedding sizes the service ships (ResNet-18 512,
 * MobileNetV2 1280), in three cases: every label a "dog" name and the image a dog (every label
 * passes the group check and costs its dot product: the worst case), half of them of another group
 * (the loop skips their products; ONNX Runtime computes all), and no group at all (embedding only).
 * Prints, over `--runs` uploads (64 distinct random embeddings) after a warm-up: the median CPU
 * time per upload of batches of 50 (steadier than wall time on a shared machine; the two paths'
 * batches alternate, so load hits both alike), ONNX Runtime's wall time median and p99; then the
 * crossover: both paths' CPU time for short lists (embedding only), the fewest names from which
 * ONNX Runtime is cheaper, and where DOT_PRODUCTS_MIN_VALUES puts the switch. With the CPU flags.
 * The list of names itself is read once per container and TAUGHT_LABELS_TTL_MS.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { seededRandom } from '../models/resnet18.ts';
import { readCpuInfo } from '../src/classifier/cpu.ts';
import { ortDotProducts } from '../src/classifier/dot-products.ts';
import {
  DOT_PRODUCTS_MIN_VALUES,
  type DotProducts,
  scoreNames,
  type TaughtLabel,
} from '../src/tagging/taught-labels.ts';
import { l2Normalize } from '../src/tagging/vector-index.ts';
import { median } from './cold-start.ts';

/** Uploads per CPU-time sample (process.cpuUsage has microsecond resolution). */
const BATCH = 50;
const DIMENSIONS = [512, 1280];
/** Names per list for the crossover (embedding only). */
const CROSSOVER_COUNTS = [4, 8, 12, 16, 24, 32, 48, 64, 96, 128];
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;

type Image = { embedding: Float32Array; categories: { label: string; score: number }[] };
interface PathTimes {
  cpu: number[];
  wall: number[];
  matched: number[];
}

/** Both paths over `runs` uploads, batch by batch in turn: CPU µs per upload per batch, wall µs per upload. */
async function measure(labels: TaughtLabel[], images: Image[], runs: number, dotProducts: DotProducts) {
  const paths = {
    js: (image: Image) => scoreNames(labels, 'bench@1', image),
    ort: (image: Image) => scoreNames(labels, 'bench@1', image, dotProducts, 0),
  };
  const times: Record<keyof typeof paths, PathTimes> = {
    js: { cpu: [], wall: [], matched: [] },
    ort: { cpu: [], wall: [], matched: [] },
  };
  for (const path of Object.values(paths))
    for (let i = 0; i < 200; i++) await path(images[i % images.length] as Image);
  for (let b = 0; b < Math.max(1, Math.round(runs / BATCH)); b++)
    for (const [name, path] of Object.entries(paths) as [keyof typeof paths, (typeof paths)['js']][]) {
      const t = times[name];
      const c0 = process.cpuUsage();
      for (let j = 0; j < BATCH; j++) {
        const image = images[(b * BATCH + j) % images.length] as Image;
        const t0 = performance.now();
        const names = await path(image);
        t.wall.push((performance.now() - t0) * 1000);
        t.matched.push(names.length);
      }
      const used = process.cpuUsage(c0);
      t.cpu.push((used.user + used.system) / BATCH);
    }
  return times;
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { names: { type: 'string', default: '100,1000' }, runs: { type: 'string', default: '2000' } },
  });
  const counts = values.names.split(',').map(Number);
  const runs = Number(values.runs);
  const random = seededRandom(26);
  const unit = (d: number) => l2Normalize(Float32Array.from({ length: d }, () => random() - 0.5));
  const dotProducts = ortDotProducts();
  const flags = [...(readCpuInfo().flags ?? [])]
    .filter((f) => /^(avx2|avx512_vnni|avx_vnni)$/.test(f))
    .sort();
  const names = (count: number, dimension: number, groupOf: (i: number) => string | undefined) =>
    Array.from({ length: count }, (_, i): TaughtLabel => {
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
  const images = (dimension: number) =>
    Array.from({ length: 64 }, () => ({
      embedding: unit(dimension),
      categories: [{ label: 'dog', score: 0.9 }],
    }));

  console.log(
    `taught names scored per upload: ${counts.join(', ')} names, ${runs} uploads; CPU flags: ${flags.join(' ') || 'none'}`,
  );
  console.log(
    '| embedding | names (case) | JavaScript loop: CPU µs / upload | ONNX Runtime: CPU µs / upload | loop / ORT | ORT wall µs median | ORT wall µs p99 | names matched (median) |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const count of counts)
    for (const dimension of DIMENSIONS) {
      const cases: [string, (i: number) => string | undefined][] = [
        ['all pass the group check', () => 'dog'],
        ['half of another group', (i) => (i % 2 ? 'dog' : 'bird')],
        ['embedding only', () => undefined],
      ];
      for (const [title, groupOf] of cases) {
        const { js, ort } = await measure(
          names(count, dimension, groupOf),
          images(dimension),
          runs,
          dotProducts,
        );
        if (median(js.matched) !== median(ort.matched)) throw new Error('the two paths matched other names');
        const wall = ort.wall.sort((a, b) => a - b);
        console.log(
          `| ${dimension} | ${count} (${title}) | ${median(js.cpu).toFixed(0)} | ${median(ort.cpu).toFixed(0)} | ${(median(js.cpu) / median(ort.cpu)).toFixed(1)} | ${median(wall).toFixed(0)} | ${percentile(wall, 99).toFixed(0)} | ${median(ort.matched)} |`,
        );
      }
    }

  console.log(
    `\ncrossover (embedding only, ${Math.round(runs / 4)} uploads per list): CPU µs per upload, JavaScript loop / ONNX Runtime`,
  );
  console.log(
    `| embedding | ${CROSSOVER_COUNTS.map((n) => `${n} names`).join(' | ')} | ORT cheaper from | tagger switches at |`,
  );
  console.log(`| --- | ${CROSSOVER_COUNTS.map(() => '---').join(' | ')} | --- | --- |`);
  for (const dimension of DIMENSIONS) {
    const cells: string[] = [];
    let from: number | undefined;
    for (const count of CROSSOVER_COUNTS) {
      const { js, ort } = await measure(
        names(count, dimension, () => undefined),
        images(dimension),
        runs / 4,
        dotProducts,
      );
      cells.push(`${median(js.cpu).toFixed(0)} / ${median(ort.cpu).toFixed(0)}`);
      if (median(ort.cpu) < median(js.cpu)) from ??= count;
      else from = undefined;
    }
    const switchAt = Math.ceil(DOT_PRODUCTS_MIN_VALUES / dimension);
    console.log(`| ${dimension} | ${cells.join(' | ')} | ${from ?? '-'} names | ${switchAt} names |`);
  }
}

await main(process.argv.slice(2));
