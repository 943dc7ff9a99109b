/**
 * npm run bench [-- --model <dir> ...] [--runs N]
 *
 * Classifier benchmark: prints a markdown table per model folder with medians over repeated runs:
 * model load, preprocessing of 0.3/3/12 MP JPEGs, inference at 1 and 2 threads (spin-wait off and
 * on), end to end, process cold start (node start to first result) and peak RSS. With no --model it
 * benchmarks ../shared's int8 MobileNetV2 (imported into .cache/bench) and the ResNet-18 model layer
 * when it has been built. Targets (this machine): 12 MP preprocessing <= 50 ms, 0.3 MP <= 5 ms.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { createClassifier } from '../src/classifier/classifier.ts';
import { loadModelFolder, sha256File } from '../src/classifier/model-folder.ts';
import { sharp } from '../src/classifier/native.ts';
import { preprocess } from '../src/classifier/preprocess.ts';
import { coldStart, median } from './cold-start.ts';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');
const CACHE = join(ROOT, '.cache/bench');
const SHARED = resolve(ROOT, '../shared');

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
  const photo = join(SHARED, 'photos/207-Golden-Retriever.jpg');
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

async function defaultModels(): Promise<string[]> {
  const dirs: string[] = [];
  const sharedInt8 = join(SHARED, 'models/mobilenetv2-int8.onnx');
  if (existsSync(sharedInt8)) {
    const out = join(CACHE, 'mobilenetv2-int8');
    if (!existsSync(join(out, 'model.json')))
      await run(join(ROOT, 'node_modules/.bin/tsx'), [
        join(ROOT, 'models/import.ts'),
        sharedInt8,
        '--labels',
        join(SHARED, 'data/imagenet-simple-labels.json'),
        '--out',
        out,
      ]);
    dirs.push(out);
  } else console.log(`(${SHARED} is absent: no MobileNetV2 rows)`);
  const layerModels = join(ROOT, 'layers/model/models');
  if (existsSync(layerModels))
    for (const name of await readdir(layerModels)) dirs.push(join(layerModels, name));
  else console.log('(no model layer built yet: `npm run model:build` adds ResNet-18 rows)');
  return dirs;
}

async function benchModel(
  modelDir: string,
  runs: number,
  images: Record<string, Buffer>,
): Promise<string[][]> {
  const rows: string[][] = [];
  const row = (what: string, value: string, note = '') => rows.push([what, value, note]);

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

  const planes = (await preprocess(images['0.3 MP'] as Buffer, folder.meta)).data;
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

async function main() {
  const { values } = parseArgs({
    options: { model: { type: 'string', multiple: true }, runs: { type: 'string', default: '30' } },
  });
  await mkdir(CACHE, { recursive: true });
  const runs = Number(values.runs);
  const models = values.model?.map((m) => resolve(m)) ?? (await defaultModels());
  const images: Record<string, Buffer> = {};
  for (const mp of [0.3, 3, 12]) images[`${mp} MP`] = await jpegOf(mp);

  console.log(`# Classifier benchmark (medians of ${runs} runs unless noted; ${new Date().toISOString()})\n`);
  for (const dir of models) {
    const meta = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
    const q = meta.quantization;
    console.log(
      `## ${meta.name} (${typeof q === 'string' ? q : (q.weights ?? q.scheme ?? 'see model.json')}) — ${dir}\n`,
    );
    console.log('| measure | ms | note |\n| --- | ---: | --- |');
    for (const r of await benchModel(dir, runs, images)) console.log(`| ${r.join(' | ')} |`);
    console.log();
  }
}

await main();
