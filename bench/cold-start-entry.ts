/**
 * Bundled by bench/bench.ts and run in a fresh `node` process: imports the process-wide classifier
 * (session + warm-up at init, as a Lambda container does), classifies one image and prints the time
 * from node's start to the first result, plus peak RSS.
 */
import { readFile } from 'node:fs/promises';
import { classifier } from '../src/classifier/instance.ts';

const image = await readFile(process.env.BENCH_IMAGE as string);
const started = performance.now();
const { labels } = await classifier.classify(image);
const firstClassifyMs = performance.now() - started;
console.log(
  JSON.stringify({
    firstResultMs: performance.now(), // performance.now() counts from the process's start
    initMs: classifier.initMs,
    firstClassifyMs,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    top1: labels[0]?.label,
  }),
);
