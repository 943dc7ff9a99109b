/**
 * Bundled by bench/cold-start.ts and run in a fresh `node` process: imports the process-wide
 * classifier (session + warm-up at init, as a Lambda container does), classifies one image and
 * prints the time from node's start to the first result, plus peak RSS. Peak RSS is VmHWM from
 * /proc/self/status: process.resourceUsage().maxRSS is not used because Linux carries ru_maxrss
 * across fork+exec, so the (larger) benchmark process that spawned this one would inflate it.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { classifier } from '../src/handlers/init.ts';

const image = await readFile(process.env.BENCH_IMAGE as string);
const started = performance.now();
const { labels } = await classifier.classify(image);
const firstResultMs = performance.now(); // performance.now() counts from the process's start
const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
console.log(
  JSON.stringify({
    firstResultMs,
    initMs: classifier.initMs,
    firstClassifyMs: firstResultMs - started,
    peakRssMb: hwm ? Number(hwm) / 1024 : Number.NaN,
    top1: labels[0]?.label,
  }),
);
