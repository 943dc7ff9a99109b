/**
 * Run by lab/preprocess.ts in a fresh `node --import tsx` process, as a new Lambda container:
 * creates the classifier of `<src root>` (the current tree's src/ or a baseline's), then preprocesses
 * each JPEG `calls` times in turn, as requests after init would, and prints JSON: init ms and, per
 * image, the CPU and wall milliseconds of each call.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

const [srcRoot, modelDir, calls, ...images] = process.argv.slice(2);
if (!srcRoot || !modelDir || !calls || images.length === 0)
  throw new Error('usage: preprocess-child.ts <src root> <model dir> <calls> <jpeg...>');
const { createClassifier } = await import(join(srcRoot, 'classifier/classifier.ts'));
const { preprocess } = await import(join(srcRoot, 'classifier/preprocess.ts'));
const classifier = await createClassifier(modelDir, { threads: 1 });
const bytes = await Promise.all(images.map((f) => readFile(f)));
const samples: { cpuMs: number; wallMs: number }[][] = bytes.map(() => []);
for (let i = 0; i < Number(calls); i++)
  for (const [j, image] of bytes.entries()) {
    const cpu = process.cpuUsage();
    const t = performance.now();
    await preprocess(image, classifier.folder.meta);
    const used = process.cpuUsage(cpu);
    samples[j]?.push({ cpuMs: (used.user + used.system) / 1000, wallMs: performance.now() - t });
  }
await classifier.release();
console.log(JSON.stringify({ initMs: classifier.initMs, samples }));
