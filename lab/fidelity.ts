/**
 * npm run lab:fidelity -- --fp32 <model.onnx> --int8 <name=model.onnx|dir> [--int8 ...] [flags]
 *
 * How faithful int8 models are to their fp32 source, without labels and with them:
 * - views: every photo of --photos (default ../shared/photos) at several scales (shorter side
 *   256 x 0.875 / 1 / 1.25 / 1.5), five 224 crops each (centre and the four corners, at a quarter of
 *   the margin) and their mirror images: 40 views a photo, 2,000 for the 50 shared photos. Each view
 *   is PIL's resize (src/classifier/resize.ts pilResizeCrop) of the decoded photo, as torchvision.
 * - per int8 model: top-1 agreement with fp32 over the views and mean KL(fp32 || int8) of the
 *   softmax; also over the photos that a calibration list leaves out (--held-out-after N: photos
 *   after the first N by name, the ones `model:build --calibration-count N` did not see).
 * - labelled: top-1 / top-3 on the photos with photos.json's classIndex, through preprocess().
 * --int8 takes an .onnx file or a model folder (its model.onnx). Prints a markdown table.
 */
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { SHARED_FILES } from '../paths.ts';
import { sessionOptions } from '../src/classifier/classifier.ts';
import { IMAGENET_DEFAULTS } from '../src/classifier/model-folder.ts';
import { ort, sharp } from '../src/classifier/native.ts';
import { softmax } from '../src/classifier/postprocess.ts';
import { type PreprocessSpec, preprocess, resizedSize } from '../src/classifier/preprocess.ts';
import { pilResizeCrop, toNormalisedPlanes } from '../src/classifier/resize.ts';

const SPEC: PreprocessSpec = IMAGENET_DEFAULTS;
const SCALES = [0.875, 1, 1.25, 1.5];
const CROP = SPEC.cropSize;

interface Photo {
  file: string;
  classIndex: number;
}

/** The 40 views of one photo, normalised [3, 224, 224] planes each. */
async function viewsOf(path: string): Promise<Float32Array[]> {
  const { data, info } = await sharp(await readFile(path), { autoOrient: true, ignoreIcc: true })
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  const views: Float32Array[] = [];
  for (const scale of SCALES) {
    const size = resizedSize(info.width, info.height, Math.round(SPEC.resizeShorter * scale));
    const mx = size.width - CROP;
    const my = size.height - CROP;
    const at = (fx: number, fy: number) => ({ left: Math.round(mx * fx), top: Math.round(my * fy) });
    for (const { left, top } of [
      at(0.5, 0.5),
      at(0.25, 0.25),
      at(0.75, 0.25),
      at(0.25, 0.75),
      at(0.75, 0.75),
    ]) {
      const rgb = pilResizeCrop(data, info.width, info.height, size.width, size.height, {
        left,
        top,
        width: CROP,
        height: CROP,
      });
      const mirrored = new Uint8Array(rgb.length);
      for (let y = 0; y < CROP; y++)
        for (let x = 0; x < CROP; x++)
          for (let c = 0; c < 3; c++)
            mirrored[(y * CROP + x) * 3 + c] = rgb[(y * CROP + CROP - 1 - x) * 3 + c] as number;
      views.push(toNormalisedPlanes(rgb, CROP * CROP, SPEC), toNormalisedPlanes(mirrored, CROP * CROP, SPEC));
    }
  }
  return views;
}

/** Logits of a model for every input, in batches. */
async function logitsOf(model: string, inputs: Float32Array[], threads: number): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(model, sessionOptions(threads, false));
  try {
    const name = session.inputNames[0] as string;
    const out: Float32Array[] = [];
    // Batch 1: the models' graphs may fix the batch size, and it is what the classifier runs.
    for (const input of inputs) {
      const result = await session.run({ [name]: new ort.Tensor('float32', input, [1, 3, CROP, CROP]) });
      out.push(Float32Array.from(result[session.outputNames[0] as string]?.data as Float32Array));
    }
    return out;
  } finally {
    await session.release();
  }
}

const argmax = (v: ArrayLike<number>) => {
  let best = 0;
  for (let i = 1; i < v.length; i++) if ((v[i] as number) > (v[best] as number)) best = i;
  return best;
};

/** Place of `index` in a stable descending sort (ties go to the lower index, as argmax and topK). */
const rank = (v: ArrayLike<number>, index: number) => {
  let above = 0;
  for (let i = 0; i < v.length; i++)
    if ((v[i] as number) > (v[index] as number) || ((v[i] as number) === (v[index] as number) && i < index))
      above++;
  return above;
};

/** KL(p || q) of two softmax distributions, natural log. */
function kl(p: Float64Array, q: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i] as number;
    if (pi > 0) sum += pi * Math.log(pi / Math.max(q[i] as number, 1e-30));
  }
  return sum;
}

interface Fidelity {
  agreement: number;
  kl: number;
  views: number;
}

function fidelity(fp32: Float32Array[], int8: Float32Array[], pick: (i: number) => boolean): Fidelity {
  let agree = 0;
  let klSum = 0;
  let views = 0;
  for (let i = 0; i < fp32.length; i++) {
    if (!pick(i)) continue;
    const a = fp32[i] as Float32Array;
    const b = int8[i] as Float32Array;
    if (argmax(a) === argmax(b)) agree++;
    klSum += kl(softmax(a), softmax(b));
    views++;
  }
  return { agreement: agree / views, kl: klSum / views, views };
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      fp32: { type: 'string' },
      int8: { type: 'string', multiple: true, default: [] },
      photos: { type: 'string', default: SHARED_FILES.photos },
      'held-out-after': { type: 'string', default: '25' },
      threads: { type: 'string', default: '2' },
    },
  });
  if (!values.fp32 || values.int8.length === 0)
    throw new Error(
      'usage: npm run lab:fidelity -- --fp32 <model.onnx> --int8 <name=model.onnx|dir> [--int8 ...]',
    );
  const threads = Number(values.threads);
  const heldOutAfter = Number(values['held-out-after']);
  const photos = (JSON.parse(await readFile(join(values.photos, 'photos.json'), 'utf8')) as Photo[]).sort(
    (a, b) => (a.file < b.file ? -1 : 1),
  );
  const views: Float32Array[] = [];
  const photoOf: number[] = [];
  const standard: Float32Array[] = [];
  for (const [p, photo] of photos.entries()) {
    const path = join(values.photos, photo.file);
    for (const v of await viewsOf(path)) {
      views.push(v);
      photoOf.push(p);
    }
    standard.push((await preprocess(await readFile(path), SPEC)).data);
  }
  const perPhoto = views.length / photos.length;
  console.error(`${photos.length} photos, ${views.length} views (${perPhoto} a photo)`);
  const models: [string, string][] = [
    ['fp32', values.fp32],
    ...values.int8.map((spec): [string, string] => {
      const [name, path] = spec.includes('=')
        ? (spec.split('=', 2) as [string, string])
        : [basename(spec), spec];
      return [name, path.endsWith('.onnx') ? path : join(path, 'model.onnx')];
    }),
  ];
  const results = new Map<string, { views: Float32Array[]; standard: Float32Array[] }>();
  for (const [name, path] of models) {
    const t = performance.now();
    results.set(name, {
      views: await logitsOf(path, views, threads),
      standard: await logitsOf(path, standard, threads),
    });
    console.error(`${name}: ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  const fp32 = results.get('fp32') as { views: Float32Array[]; standard: Float32Array[] };
  const held = (i: number) => (photoOf[i] as number) >= heldOutAfter;
  console.log(
    `| model | top-1 (${photos.length} photos) | top-3 | top-1 agreement with fp32 (${views.length} views) | mean KL (fp32 ‖ int8) | agreement, photos after the first ${heldOutAfter} (${views.filter((_, i) => held(i)).length} views) | mean KL there |`,
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const [name] of models) {
    const r = results.get(name) as { views: Float32Array[]; standard: Float32Array[] };
    const top1 = photos.filter((p, i) => argmax(r.standard[i] as Float32Array) === p.classIndex).length;
    const top3 = photos.filter((p, i) => rank(r.standard[i] as Float32Array, p.classIndex) < 3).length;
    const all = fidelity(fp32.views, r.views, () => true);
    const out = fidelity(fp32.views, r.views, held);
    const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
    console.log(
      `| ${name} | ${top1}/${photos.length} | ${top3}/${photos.length} | ${pct(all.agreement)} | ${all.kl.toFixed(4)} | ${pct(out.agreement)} | ${out.kl.toFixed(4)} |`,
    );
  }
}

await main(process.argv.slice(2));
