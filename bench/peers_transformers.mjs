/**
 * transformers.js as `npm run bench -- --peers` (bench/peers.ts) times it: plain JavaScript, run by
 * plain `node` (no TypeScript loader, so its cold start is its own), importing @huggingface/transformers
 * from the folder bench/peers.ts installed it into (TRANSFORMERS_DIR; never a dependency of the service).
 *
 *   node bench/peers_transformers.mjs serve                       # JSON lines on stdin/stdout
 *   node bench/peers_transformers.mjs cold MODEL.onnx SPEC.json IMAGE   # a cold start
 *
 * Preprocessing: its RawImage and ImageProcessor with the ImageNet eval settings of the model's spec
 * (shortest edge to resizeShorter, bilinear, centre crop, rescale, normalise); inference: the
 * onnxruntime-node that transformers.js depends on, 1 thread, on the same ONNX file.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

const dir = process.env.TRANSFORMERS_DIR;
if (!dir) throw new Error('TRANSFORMERS_DIR (the folder transformers.js is installed in) is not set');
const started = performance.now();
const transformers = await import(
  pathToFileURL(join(dir, 'node_modules/@huggingface/transformers/dist/transformers.node.mjs')).href
);
const ort = createRequire(join(dir, 'node_modules/'))('onnxruntime-node');
const imported = performance.now();

function processorFor(spec) {
  return new transformers.ImageProcessor({
    do_resize: true,
    size: { shortest_edge: spec.resizeShorter },
    resample: 2, // bilinear
    do_center_crop: true,
    crop_size: { height: spec.cropSize, width: spec.cropSize },
    do_rescale: true,
    rescale_factor: 1 / 255,
    do_normalize: true,
    image_mean: spec.mean,
    image_std: spec.std,
    do_convert_rgb: true,
  });
}

async function sessionFor(model) {
  return ort.InferenceSession.create(model, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
}

async function pixels(processor, bytes) {
  const image = await transformers.RawImage.fromBlob(new Blob([bytes]));
  const { pixel_values } = await processor(image);
  return pixel_values;
}

async function top3(session, values) {
  const input = new ort.Tensor('float32', values.data, values.dims);
  const output = await session.run({ [session.inputNames[0]]: input });
  const scores = output[session.outputNames[0]].data;
  return [...scores.keys()].sort((a, b) => scores[b] - scores[a]).slice(0, 3);
}

/** CPU time of this process so far (every thread), ms. */
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};
const peakRssMb = () =>
  Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) / 1024;

async function serve() {
  let processor;
  let session;
  let images = [];
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    const request = JSON.parse(line);
    const reply = {};
    const image = images[request.i];
    if (request.op === 'load') {
      processor = processorFor(request.spec);
      images = request.files.map((f) => readFileSync(f));
      session = await sessionFor(request.model);
      reply.version = transformers.env.version;
    } else if (request.op === 'pre') {
      const t = performance.now();
      await pixels(processor, image);
      reply.ms = performance.now() - t;
    } else if (request.op === 'infer') {
      const values = await pixels(processor, image);
      const t = performance.now();
      await top3(session, values);
      reply.ms = performance.now() - t;
    } else if (request.op === 'e2e') {
      const t = performance.now();
      reply.top3 = await top3(session, await pixels(processor, image));
      reply.ms = performance.now() - t;
    } else reply.error = `unknown op ${request.op}`;
    process.stdout.write(`${JSON.stringify(reply)}\n`);
  }
}

async function cold(model, specFile, imageFile) {
  const spec = JSON.parse(readFileSync(specFile, 'utf8'));
  const processor = processorFor(spec);
  const t = performance.now();
  const session = await sessionFor(model);
  const sessionDone = performance.now();
  const labels = await top3(session, await pixels(processor, readFileSync(imageFile)));
  const done = performance.now();
  const parts = {
    start: started,
    imports: imported - started,
    session: sessionDone - t,
    firstRequest: done - sessionDone,
  };
  console.log(JSON.stringify({ top3: labels, peakRssMb: peakRssMb(), cpuMs: cpuMs(), parts }));
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'serve') await serve();
else if (mode === 'cold' && args.length === 3) await cold(args[0], args[1], args[2]);
else {
  console.error('usage: peers_transformers.mjs serve | cold MODEL.onnx SPEC.json IMAGE');
  process.exit(2);
}
