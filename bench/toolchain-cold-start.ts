/**
 * Bundled by bench/toolchain.ts and run in a fresh `node` process: creates the process-wide
 * classifier (session + warm-up at init), classifies one image, and prints the time from node's start
 * to the first result and the peak RSS. Peak RSS is VmHWM from /proc/self/status: unlike
 * process.resourceUsage().maxRSS, it is not inherited from the parent that forked this process (Linux
 * keeps ru_maxrss across fork+exec, so a big parent inflates it; both are printed).
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { classifier } from '../src/classifier/instance.ts';

const image = await readFile(process.env.BENCH_IMAGE as string);
const { labels } = await classifier.classify(image);
const firstResultMs = performance.now(); // counts from the process's start
const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
console.log(
  JSON.stringify({
    firstResultMs,
    initMs: classifier.initMs,
    peakRssMb: hwm ? Number(hwm) / 1024 : Number.NaN,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    top1: labels[0]?.label,
  }),
);
