/**
 * Bundled by bench/cold-start.ts and run in a fresh `node` process: loads the two native packages,
 * then the process-wide classifier as a Lambda container's init does (settings from the environment,
 * session + warm-up), classifies one image and prints, in ms from the process's start
 * (performance.now()), where the time went: Node's own start, the bundle's code, the native packages (sharp and ONNX Runtime),
 * the rest of the modules, the session, the warm-up and the first classification; plus peak RSS and
 * the CPU time of every thread up to the first result (robust where other work shares the cores).
 * Peak RSS is VmHWM from /proc/self/status: process.resourceUsage().maxRSS is not used because Linux
 * carries ru_maxrss across fork+exec, so the (larger) benchmark process that spawned this one would
 * inflate it.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

const entered = performance.now();
/** CPU ms of every thread since the process's start. */
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};
const cpuEntered = cpuMs();
/** Node's own start, up to running this bundle (PerformanceNodeTiming; not in @types/node's Performance). */
const nodeStarted = (performance as unknown as { nodeTiming: { bootstrapComplete: number } }).nodeTiming
  .bootstrapComplete;
// The two native packages as the functions load them (src/classifier/native.ts: sharp without semver).
await import('../src/classifier/native.ts');
const nativeLoaded = performance.now();
const cpuNativeLoaded = cpuMs();
// The same init as the functions' (src/handlers/init.ts), its modules evaluated here, in order.
const { classifier } = await import('../src/handlers/init.ts');
const initDone = performance.now();
const cpuInitDone = cpuMs();
const image = await readFile(process.env.BENCH_IMAGE as string);
const started = performance.now();
const { labels } = await classifier.classify(image);
const firstResultMs = performance.now(); // performance.now() counts from the process's start
const cpuFirstResult = cpuMs();
const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
const sessionMs = classifier.initMs - classifier.warmUpMs;
console.log(
  JSON.stringify({
    firstResultMs,
    initMs: classifier.initMs,
    firstClassifyMs: firstResultMs - started,
    peakRssMb: hwm ? Number(hwm) / 1024 : Number.NaN,
    cpuMs: cpuFirstResult,
    top1: labels[0]?.label,
    parts: {
      node: nodeStarted,
      bundle: entered - nodeStarted,
      natives: nativeLoaded - entered,
      modules: initDone - nativeLoaded - classifier.initMs,
      session: sessionMs,
      warmUp: classifier.warmUpMs,
      firstRequest: firstResultMs - initDone,
    },
    /** The same steps in CPU ms (the session and the warm-up run inside the init). */
    cpuParts: {
      nodeAndBundle: cpuEntered,
      natives: cpuNativeLoaded - cpuEntered,
      init: cpuInitDone - cpuNativeLoaded,
      firstRequest: cpuFirstResult - cpuInitDone,
    },
  }),
);
