/**
 * Calibration: runs the fp32 model with every tensor to quantize added as a graph output (ONNX
 * Runtime does the work) and records per-tensor ranges, by min/max or by percentile (a second pass
 * fills a histogram per tensor). Inputs are preprocessed by the classifier's own `preprocess()`.
 */

import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { IMAGE_SUFFIXES } from '../src/classifier/image-formats.ts';
import { ort, sharp } from '../src/classifier/native.ts';
import { type PreprocessSpec, preprocess } from '../src/classifier/preprocess.ts';
import { floatValueInfo } from './graph.ts';
import { decodeModel, encodeModel } from './onnx.ts';
import type { Range } from './quantize.ts';
import { normal, seededRandom } from './resnet18.ts';

export type CalibrationMethod = 'minmax' | 'percentile';

export interface CalibrationOptions {
  method?: CalibrationMethod;
  /** For 'percentile': keep this share of values inside the range (e.g. 99.999). */
  percentile?: number;
  threads?: number;
  onProgress?: (done: number, total: number) => void;
}

const BINS = 8192;

export async function calibrate(
  fp32: Uint8Array,
  tensors: string[],
  inputs: Float32Array[],
  options: CalibrationOptions = {},
): Promise<Map<string, Range>> {
  if (inputs.length === 0) throw new Error('calibration needs at least one input');
  const model = decodeModel(fp32);
  const graph = model.graph;
  if (!graph) throw new Error('model has no graph');
  const outputs = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  for (const t of tensors) if (!outputs.has(t)) graph.output?.push(floatValueInfo(t));
  const session = await ort.InferenceSession.create(encodeModel(model), {
    graphOptimizationLevel: 'basic',
    intraOpNumThreads: options.threads ?? 2,
    logSeverityLevel: 3,
  });
  const inputName = session.inputNames[0] ?? 'input';
  // [1, C, H, W] from the graph input when its non-batch dims are fixed, else [1, 3, side, side].
  const declared = (graph.input?.find((i) => i.name === inputName)?.type?.tensorType?.shape?.dim ?? []).map(
    (d) => Number(d.dimValue ?? 0),
  );
  const fixed =
    declared.length > 1 && declared.slice(1).every((d) => d > 0) ? [1, ...declared.slice(1)] : undefined;
  const method = options.method ?? 'minmax';
  const passes = method === 'percentile' ? 2 : 1;
  const ranges = new Map<string, Range>(
    tensors.map((t) => [t, { min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY }]),
  );
  const histograms = new Map<string, Float64Array>();
  try {
    for (let pass = 0; pass < passes; pass++) {
      for (const [index, planes] of inputs.entries()) {
        const side = Math.round(Math.sqrt(planes.length / 3));
        const result = await session.run(
          { [inputName]: new ort.Tensor('float32', planes, fixed ?? [1, 3, side, side]) },
          tensors,
        );
        for (const t of tensors) {
          const data = result[t]?.data as Float32Array | undefined;
          if (!data) throw new Error(`calibration: no value for tensor "${t}"`);
          const r = ranges.get(t) as Range;
          if (pass === 0) {
            let { min, max } = r;
            for (let i = 0; i < data.length; i++) {
              const v = data[i] as number;
              if (v < min) min = v;
              if (v > max) max = v;
            }
            r.min = min;
            r.max = max;
          } else {
            const h = histograms.get(t) ?? new Float64Array(BINS);
            histograms.set(t, h);
            const width = (r.max - r.min) / BINS || 1;
            for (let i = 0; i < data.length; i++) {
              const b = Math.min(BINS - 1, Math.floor(((data[i] as number) - r.min) / width));
              h[b] = (h[b] as number) + 1;
            }
          }
        }
        options.onProgress?.(pass * inputs.length + index + 1, passes * inputs.length);
      }
    }
  } finally {
    await session.release();
  }
  if (method === 'percentile') {
    const keep = (options.percentile ?? 99.999) / 100;
    for (const t of tensors) {
      const r = ranges.get(t) as Range;
      const h = histograms.get(t) as Float64Array;
      const total = h.reduce((a, b) => a + b, 0);
      const width = (r.max - r.min) / BINS;
      const cut = ((1 - keep) / 2) * total;
      let lo = 0;
      for (let acc = 0; lo < BINS - 1 && acc + (h[lo] as number) <= cut; lo++) acc += h[lo] as number;
      let hi = BINS - 1;
      for (let acc = 0; hi > 0 && acc + (h[hi] as number) <= cut; hi--) acc += h[hi] as number;
      // A one-sided tensor (e.g. after ReLU) keeps its exact bound on the side that holds 0.
      ranges.set(t, {
        min: r.min >= 0 ? r.min : r.min + lo * width,
        max: r.max <= 0 ? r.max : r.min + (hi + 1) * width,
      });
    }
  }
  return ranges;
}

/** The image files of a folder (the tagger's suffixes, any case), sorted by name, at most `limit`. */
export async function listImages(dir: string, limit = Number.POSITIVE_INFINITY): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => IMAGE_SUFFIXES.includes(extname(f).toLowerCase())).sort();
  return files.slice(0, limit).map((f) => join(dir, f));
}

/** Reads and preprocesses images with the classifier's own preprocessing. */
export async function preprocessFiles(files: string[], spec: PreprocessSpec): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const f of files) out.push((await preprocess(await readFile(f), spec)).data);
  return out;
}

/**
 * Seeded generated images (PNG bytes): smooth colour gradients, blobs and noise, so the activations
 * of a random-weight network see image-like statistics. For the synthetic model only.
 */
export async function syntheticImages(count: number, seed = 7, size = 320): Promise<Uint8Array[]> {
  const rand = seededRandom(seed);
  const gauss = normal(rand);
  const images: Uint8Array[] = [];
  for (let n = 0; n < count; n++) {
    const pixels = new Uint8Array(size * size * 3);
    const base = [rand(), rand(), rand()].map((v) => 40 + 170 * v);
    const grad = [gauss(), gauss(), gauss()].map((v) => v * 60);
    const blobs = Array.from({ length: 6 }, () => ({
      x: rand() * size,
      y: rand() * size,
      r: 20 + rand() * size * 0.3,
      c: [gauss() * 70, gauss() * 70, gauss() * 70],
    }));
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        for (let c = 0; c < 3; c++) {
          let v = (base[c] as number) + ((grad[c] as number) * (x + y)) / size + gauss() * 8;
          for (const b of blobs) {
            const d2 = ((x - b.x) ** 2 + (y - b.y) ** 2) / (b.r * b.r);
            if (d2 < 1) v += (b.c[c] as number) * (1 - d2);
          }
          pixels[(y * size + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
        }
      }
    }
    images.push(
      await sharp(pixels, { raw: { width: size, height: size, channels: 3 } })
        .png()
        .toBuffer(),
    );
  }
  return images;
}
