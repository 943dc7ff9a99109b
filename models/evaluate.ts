/**
 * ONNX Runtime helpers for the toolchain: graph optimization read back from
 * `optimizedModelFilePath` (fp32 pre-processing, fusion checks), and fp32-vs-int8 agreement.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sessionOptions } from '../src/classifier/classifier.ts';
import { ort } from '../src/classifier/native.ts';
import { topK } from '../src/classifier/postprocess.ts';
import { countOps, decodeModel } from './onnx.ts';

type SessionOptions = NonNullable<Parameters<typeof ort.InferenceSession.create>[1]>;

/** Lets ONNX Runtime optimize a graph with `options` and returns the optimized graph's bytes. */
export async function optimizeWithOrt(model: Uint8Array, options: SessionOptions): Promise<Uint8Array> {
  const dir = await mkdtemp(join(tmpdir(), 'ort-opt-'));
  try {
    const path = join(dir, 'optimized.onnx');
    const session = await ort.InferenceSession.create(model, {
      logSeverityLevel: 3,
      ...options,
      optimizedModelFilePath: path,
    });
    await session.release();
    return await readFile(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Pre-processing before quantization, like ONNX Runtime's Python `quant_pre_process`: the 'basic'
 * graph optimizations (constant folding, Conv+BatchNorm/Add/Mul fusion, MatMul+Add -> Gemm,
 * Shape/Gather/Concat/Reshape -> Reshape, Identity removal). No contrib ops appear at that level.
 */
export function prepareFp32(model: Uint8Array): Promise<Uint8Array> {
  return optimizeWithOrt(model, { graphOptimizationLevel: 'basic', intraOpNumThreads: 1 });
}

/** Op counts of the graph that production sessions actually run (same options as the classifier). */
export async function optimizedOps(model: Uint8Array, threads = 1): Promise<Record<string, number>> {
  return countOps(decodeModel(await optimizeWithOrt(model, sessionOptions(threads, false))));
}

/** Float ops that should not survive quantization. */
export function floatComputeOps(ops: Record<string, number>): Record<string, number> {
  const left: Record<string, number> = {};
  for (const op of ['Conv', 'FusedConv', 'Gemm', 'MatMul', 'FusedGemm', 'FusedMatMul', 'NchwcConv'])
    if (ops[op]) left[op] = ops[op];
  return left;
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return dot / Math.sqrt(na * nb || 1);
}

/** Indices of the k largest values, best first (the classifier's own top-k). */
export function topIndices(v: Float32Array, k: number): number[] {
  return topK(v, [], k).map((l) => l.index);
}

export function argmax(v: Float32Array): number {
  return topIndices(v, 1)[0] ?? 0;
}

/** Runs a model on preprocessed [3,H,W] planes, one at a time, with production session options. */
export async function runAll(
  model: Uint8Array | string,
  inputs: Float32Array[],
  threads = 1,
): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(model as Uint8Array, sessionOptions(threads, false));
  try {
    const inputName = session.inputNames[0] ?? 'input';
    const outputName = session.outputNames[0] ?? 'output';
    const results: Float32Array[] = [];
    for (const planes of inputs) {
      const side = Math.round(Math.sqrt(planes.length / 3));
      const r = await session.run({ [inputName]: new ort.Tensor('float32', planes, [1, 3, side, side]) });
      results.push(Float32Array.from(r[outputName]?.data as Float32Array));
    }
    return results;
  } finally {
    await session.release();
  }
}

export interface Agreement {
  images: number;
  /** Share of images where int8 and fp32 have the same top-1 class. */
  top1Agreement: number;
  meanCosine: number;
  minCosine: number;
}

export function agreement(fp32: Float32Array[], int8: Float32Array[]): Agreement {
  const cosines = fp32.map((f, i) => cosine(f, int8[i] ?? new Float32Array()));
  const same = fp32.filter((f, i) => argmax(f) === argmax(int8[i] ?? new Float32Array())).length;
  return {
    images: fp32.length,
    top1Agreement: same / Math.max(1, fp32.length),
    meanCosine: cosines.reduce((a, b) => a + b, 0) / Math.max(1, cosines.length),
    minCosine: Math.min(...cosines),
  };
}
