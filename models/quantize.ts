/**
 * Static QDQ int8 quantization of fp32 ONNX classifiers, in TypeScript.
 *
 * - Weights of Conv (depthwise included), Gemm and MatMul: per-channel symmetric int8 values
 *   (axis 0 for Conv; the output axis for Gemm/MatMul), stored either as uint8 with zero point 128
 *   ('u8', default: exact on every x86-64 CPU), as int8 with zero point 0 ('s8': fastest kernels but
 *   saturating on AVX2 without VNNI) or as 7-bit int8 ('s8-7bit': cannot saturate, coarser weights).
 * - Biases: int32 with scale = input scale x weight scale (per channel), zero point 0.
 * - Activations: per-tensor asymmetric uint8 from calibration ranges (see calibrate.ts).
 * - Relu and Clip that follow a Conv/Gemm/MatMul/Add are folded into that op's output range (their
 *   nodes disappear; uint8 saturation does the clipping).
 * - Add, GlobalAveragePool and AveragePool get their own output range (ORT: QLinearAdd,
 *   QLinearGlobalAveragePool); MaxPool, Reshape, Flatten, Squeeze, Unsqueeze and Transpose reuse their
 *   input's scale and zero point so ONNX Runtime drops the Q/DQ pair around them and runs them on
 *   uint8.
 * The result is a QDQ graph that ONNX Runtime fuses into QLinearConv, QLinearAdd, QGemm ... (check
 * with evaluate.ts `optimizedOps`).
 */

import { roundHalfEven } from '../src/classifier/math.ts';
import type { Int8Storage, TensorEncoding } from '../src/classifier/storages.ts';
import {
  dimsOf,
  floatTensor,
  getAttr,
  getInt,
  int8Tensor,
  int32Tensor,
  type Model,
  type Node,
  node,
  readFloats,
  type Tensor,
  uint8Tensor,
} from './graph.ts';
import { decodeModel, encodeModel } from './onnx.ts';

export interface Range {
  min: number;
  max: number;
}

/** Asymmetric uint8 parameters for a range; the range is widened to include 0 (exact zero padding). */
export function activationParams(range: Range): { scale: number; zeroPoint: number } {
  const min = Math.min(0, range.min);
  const max = Math.max(0, range.max);
  if (!Number.isFinite(min) || !Number.isFinite(max)) throw new Error(`range [${min}, ${max}] is not finite`);
  if (max - min < 1e-12) return { scale: 1, zeroPoint: 0 };
  const scale = (max - min) / 255;
  const zeroPoint = Math.min(255, Math.max(0, roundHalfEven(-min / scale)));
  return { scale, zeroPoint };
}

export interface QuantizedWeights {
  /** Stored values: uint8 (q + 128) for 'u8', int8 q otherwise. */
  values: Uint8Array | Int8Array;
  scales: Float32Array;
  zeroPoints: Uint8Array | Int8Array;
  /** The int8 value of each weight (what is multiplied), for checks and bias scales. */
  q: Int8Array;
}

/** Largest |q| used for each encoding: full symmetric int8, or 7 bits so u8 x s8 pairs fit int16. */
export function weightQMax(encoding: TensorEncoding): number {
  return encoding === 's8-7bit' ? 64 : 127;
}

/** Per-channel symmetric quantization of `w` with shape `dims` along `axis`. */
export function quantizeWeights(
  w: Float32Array,
  dims: number[],
  axis: number,
  encoding: TensorEncoding,
): QuantizedWeights {
  const channels = dims[axis] ?? 0;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channelOf = (i: number) => Math.floor(i / inner) % channels;
  const maxAbs = new Float32Array(channels);
  for (let i = 0; i < w.length; i++) {
    const c = channelOf(i);
    const a = Math.abs(w[i] ?? 0);
    if (a > (maxAbs[c] ?? 0)) maxAbs[c] = a;
  }
  const qmax = weightQMax(encoding);
  // An all-zero channel gets scale 1 (any positive scale represents zeros exactly).
  const scales = Float32Array.from(maxAbs, (m) => (m > 0 ? m / qmax : 1));
  const q = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) {
    const v = roundHalfEven((w[i] ?? 0) / (scales[channelOf(i)] ?? 1));
    q[i] = Math.max(-qmax, Math.min(qmax, v));
  }
  if (encoding === 'u8') {
    return {
      values: Uint8Array.from(q, (v) => v + 128),
      scales,
      zeroPoints: new Uint8Array(channels).fill(128),
      q,
    };
  }
  return { values: q, scales, zeroPoints: new Int8Array(channels), q };
}

/** int32 bias with scale inputScale x weightScale[c]; values beyond int32 are clamped (counted). */
export function quantizeBias(
  b: Float32Array,
  inputScale: number,
  weightScales: Float32Array,
): { values: Int32Array; scales: Float32Array; clamped: number } {
  const scales = Float32Array.from(
    b,
    (_, c) => inputScale * (weightScales[weightScales.length === 1 ? 0 : c] ?? 1),
  );
  let clamped = 0;
  const values = Int32Array.from(b, (v, c) => {
    const q = roundHalfEven(v / (scales[c] ?? 1));
    if (q > 2147483647 || q < -2147483648) clamped++;
    return Math.max(-2147483648, Math.min(2147483647, q));
  });
  return { values, scales, clamped };
}

const COMPUTE = new Set(['Conv', 'Gemm', 'MatMul', 'Add']);
const OWN_RANGE = new Set(['Conv', 'Gemm', 'MatMul', 'Add', 'GlobalAveragePool', 'AveragePool']);
const SAME_SCALE = new Set(['MaxPool', 'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Transpose']);

/** Which inputs of a node are activations to quantize (others are weights, biases or shapes). */
function activationSlots(n: Node, isInit: (name: string) => boolean): number[] {
  const op = n.opType ?? '';
  const inputs = n.input ?? [];
  if (op === 'Conv') return [0];
  if (op === 'Gemm') {
    if (getInt(n, 'transA', 0) !== 0 || !isInit(inputs[1] ?? '')) return [];
    const alpha = getAttr(n, 'alpha')?.f ?? 1;
    const beta = getAttr(n, 'beta')?.f ?? 1;
    return alpha === 1 && beta === 1 ? [0] : [];
  }
  if (op === 'MatMul') return isInit(inputs[1] ?? '') && !isInit(inputs[0] ?? '') ? [0] : [];
  if (op === 'Add') return inputs.length === 2 && inputs.every((i) => !isInit(i)) ? [0, 1] : [];
  if (OWN_RANGE.has(op) || SAME_SCALE.has(op)) return [0];
  return [];
}

export interface QuantizationPlan {
  /** A copy of the fp32 model with Relu/Clip folded away (not runnable as fp32: ranges do the clipping). */
  model: Model;
  /** Tensors whose range calibration must measure (names valid in the original fp32 model). */
  calibrate: string[];
  /** Extra clamp per tensor from folded Relu/Clip. */
  clamps: Map<string, Range>;
  /** Output of a same-scale op -> the tensor whose parameters it reuses. */
  sameScale: Map<string, string>;
  /** Quantized activations, in graph order. */
  tensors: string[];
  folded: { Relu: number; Clip: number };
}

function clipBounds(n: Node, inits: Map<string, Tensor>): Range | undefined {
  if (n.opType === 'Relu') return { min: 0, max: Number.POSITIVE_INFINITY };
  const read = (name: string | undefined, fallback: number): number | undefined => {
    if (!name) return fallback;
    const t = inits.get(name);
    return t ? readFloats(t)[0] : undefined;
  };
  const minAttr = getAttr(n, 'min');
  const maxAttr = getAttr(n, 'max');
  const min = minAttr ? (minAttr.f ?? 0) : read(n.input?.[1], Number.NEGATIVE_INFINITY);
  const max = maxAttr ? (maxAttr.f ?? 0) : read(n.input?.[2], Number.POSITIVE_INFINITY);
  if (min === undefined || max === undefined) return undefined; // bounds computed at run time
  return { min, max };
}

/** Decides what to quantize. `model` is not modified. */
export function planQuantization(source: Model): QuantizationPlan {
  const model = decodeModel(encodeModel(source));
  const graph = model.graph;
  if (!graph?.node) throw new Error('model has no graph');
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const isInit = (name: string) => inits.has(name);
  const graphOutputs = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  const consumers = () => {
    const map = new Map<string, Node[]>();
    for (const n of graph.node ?? []) for (const i of n.input ?? []) map.set(i, [...(map.get(i) ?? []), n]);
    return map;
  };
  const quantizable = (n: Node) => activationSlots(n, isInit).length > 0;

  // 1. Fold Relu/Clip into the producing op when that op's output feeds only them and their own
  //    output is a quantized activation (some consumer is quantizable, and it is not a graph output).
  const clamps = new Map<string, Range>();
  const folded = { Relu: 0, Clip: 0 };
  let cons = consumers();
  const producer = new Map<string, Node>();
  for (const n of graph.node) for (const o of n.output ?? []) producer.set(o, n);
  const removed = new Set<Node>();
  for (const act of graph.node) {
    if (act.opType !== 'Relu' && act.opType !== 'Clip') continue;
    const u = act.input?.[0] ?? '';
    const v = act.output?.[0] ?? '';
    const p = producer.get(u);
    if (!p || !COMPUTE.has(p.opType ?? '') || !quantizable(p) || removed.has(p)) continue;
    if ((cons.get(u) ?? []).length !== 1 || graphOutputs.has(u) || graphOutputs.has(v)) continue;
    if (!(cons.get(v) ?? []).some(quantizable)) continue;
    const bounds = clipBounds(act, inits);
    if (!bounds || bounds.min > 0 || bounds.max < 0) continue;
    const earlier = clamps.get(u);
    clamps.set(v, {
      min: Math.max(bounds.min, earlier?.min ?? Number.NEGATIVE_INFINITY),
      max: Math.min(bounds.max, earlier?.max ?? Number.POSITIVE_INFINITY),
    });
    if (p.output) p.output[0] = v;
    producer.set(v, p);
    removed.add(act);
    folded[act.opType]++;
  }
  graph.node = graph.node.filter((n) => !removed.has(n));
  cons = consumers();

  // 2. Quantized activations: float tensors (not initializers, not graph outputs) that a quantizable
  //    op reads as an activation.
  const tensors: string[] = [];
  const seen = new Set<string>();
  const add = (t: string) => {
    if (!seen.has(t) && !isInit(t) && !graphOutputs.has(t)) {
      seen.add(t);
      tensors.push(t);
    }
  };
  for (const i of graph.input ?? []) if ((cons.get(i.name ?? '') ?? []).some(quantizable)) add(i.name ?? '');
  const sameScale = new Map<string, string>();
  for (const n of graph.node) {
    const slots = activationSlots(n, isInit);
    for (const s of slots) add(n.input?.[s] ?? '');
    const out = n.output?.[0] ?? '';
    if (slots.length > 0 && SAME_SCALE.has(n.opType ?? '')) {
      // Quantize the output with the input's parameters, even if a float op reads it.
      sameScale.set(out, n.input?.[0] ?? '');
      add(out);
    } else if (slots.length > 0 && (cons.get(out) ?? []).some(quantizable)) add(out);
  }
  const calibrate = tensors.filter((t) => !sameScale.has(t));
  return { model, calibrate, clamps, sameScale, tensors, folded };
}

export interface QuantizeOptions {
  weightEncoding?: Int8Storage;
}

export interface QuantizeStats {
  activations: number;
  weights: number;
  biases: number;
  biasClamped: number;
  folded: { Relu: number; Clip: number };
}

/** Writes the QDQ graph for a plan and calibrated ranges (keyed by tensor name). */
export function quantizeWithRanges(
  plan: QuantizationPlan,
  ranges: Map<string, Range>,
  options: QuantizeOptions = {},
): { model: Model; stats: QuantizeStats } {
  const choice = options.weightEncoding ?? 'u8';
  const inputNames = new Set((plan.model.graph?.input ?? []).map((i) => i.name ?? ''));
  const model = decodeModel(encodeModel(plan.model));
  const graph = model.graph;
  if (!graph?.node) throw new Error('model has no graph');
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const isInit = (name: string) => inits.has(name);
  const newInits: Tensor[] = [];
  const stats: QuantizeStats = { activations: 0, weights: 0, biases: 0, biasClamped: 0, folded: plan.folded };

  // Activation parameters.
  const params = new Map<string, { scale: number; zeroPoint: number; names: [string, string] }>();
  const paramsOf = (t: string): { scale: number; zeroPoint: number; names: [string, string] } => {
    const known = params.get(t);
    if (known) return known;
    const base = plan.sameScale.get(t);
    if (base !== undefined) {
      const p = paramsOf(base);
      params.set(t, p);
      return p;
    }
    const measured = ranges.get(t);
    if (!measured) throw new Error(`no calibration range for tensor "${t}"`);
    const clamp = plan.clamps.get(t);
    const range = clamp
      ? { min: Math.max(measured.min, clamp.min), max: Math.min(measured.max, clamp.max) }
      : measured;
    const { scale, zeroPoint } = activationParams(range);
    const names: [string, string] = [`${t}_scale`, `${t}_zero_point`];
    newInits.push(floatTensor(names[0], [], [scale]), uint8Tensor(names[1], [], Uint8Array.of(zeroPoint)));
    const p = { scale, zeroPoint, names };
    params.set(t, p);
    return p;
  };

  const quantized = new Set(plan.tensors);
  const out: Node[] = [];
  const qOutput = (t: string) => `${t}_QuantizeLinear_Output`;
  let dqCount = 0;
  const dq = (t: string): string => {
    const p = paramsOf(t);
    const name = `${t}_DequantizeLinear_Output_${dqCount++}`;
    out.push(node('DequantizeLinear', [qOutput(t), ...p.names], [name]));
    return name;
  };
  const emitQ = (t: string) => {
    const p = paramsOf(t);
    out.push(node('QuantizeLinear', [t, ...p.names], [qOutput(t)]));
    stats.activations++;
  };
  for (const i of graph.input ?? []) if (quantized.has(i.name ?? '')) emitQ(i.name ?? '');

  const weightCache = new Map<string, { dq: string; scales: Float32Array }>();
  const dqWeight = (name: string, axis: number, encoding: TensorEncoding) => {
    const key = `${name}@${axis}`;
    const known = weightCache.get(key);
    if (known) return known;
    const t = inits.get(name);
    if (!t) throw new Error(`weight ${name} is not an initializer`);
    const dims = dimsOf(t);
    const w = quantizeWeights(readFloats(t), dims, axis, encoding);
    const qName = `${name}_quantized`;
    const names = [qName, `${name}_scale`, `${name}_zero_point`];
    const channels = dims[axis] ?? 0;
    newInits.push(
      w.values instanceof Uint8Array ? uint8Tensor(qName, dims, w.values) : int8Tensor(qName, dims, w.values),
      floatTensor(names[1] ?? '', [channels], w.scales),
      w.zeroPoints instanceof Uint8Array
        ? uint8Tensor(names[2] ?? '', [channels], w.zeroPoints)
        : int8Tensor(names[2] ?? '', [channels], w.zeroPoints),
    );
    const dqName = `${name}_DequantizeLinear_Output`;
    out.push(node('DequantizeLinear', names, [dqName], { axis }));
    stats.weights++;
    const result = { dq: dqName, scales: w.scales };
    weightCache.set(key, result);
    return result;
  };
  const dqBias = (name: string, inputScale: number, weightScales: Float32Array, tag: string) => {
    const t = inits.get(name);
    if (!t) throw new Error(`bias ${name} is not an initializer`);
    const b = quantizeBias(readFloats(t), inputScale, weightScales);
    stats.biasClamped += b.clamped;
    const base = `${name}_${tag}`;
    const names = [`${base}_quantized`, `${base}_scale`, `${base}_zero_point`];
    const n = b.values.length;
    newInits.push(
      int32Tensor(names[0] ?? '', dimsOf(t), b.values),
      floatTensor(names[1] ?? '', [n], b.scales),
      int32Tensor(names[2] ?? '', [n], new Int32Array(n)),
    );
    const dqName = `${base}_DequantizeLinear_Output`;
    out.push(node('DequantizeLinear', names, [dqName], { axis: 0 }));
    stats.biases++;
    return dqName;
  };

  for (const n of graph.node) {
    const inputs = n.input ?? [];
    const slots = activationSlots(n, isInit);
    // Activation inputs read through their own DequantizeLinear.
    const x = inputs[0] ?? '';
    for (let s = 0; s < inputs.length; s++) {
      const name = inputs[s] ?? '';
      if (quantized.has(name)) inputs[s] = dq(name);
    }
    if (slots.length > 0) {
      const op = n.opType;
      let axis = -1;
      if (op === 'Conv') axis = 0;
      else if (op === 'Gemm') axis = getInt(n, 'transB', 0) === 0 ? 1 : 0;
      else if (op === 'MatMul') axis = dimsOf(inits.get(inputs[1] ?? '') ?? {}).length - 1;
      if (axis >= 0) {
        const sensitive = op !== 'Conv' || getInt(n, 'group', 1) > 1 || inputNames.has(x);
        const encoding = choice === 'mixed' ? (sensitive ? 'u8' : 's8-7bit') : choice;
        const w = dqWeight(inputs[1] ?? '', axis, encoding);
        inputs[1] = w.dq;
        const bias = inputs[2];
        if (bias && (op === 'Conv' || op === 'Gemm') && isInit(bias) && quantized.has(x)) {
          inputs[2] = dqBias(bias, paramsOf(x).scale, w.scales, `${n.name ?? n.output?.[0]}`);
        }
      }
    }
    out.push(n);
    for (const o of n.output ?? []) if (quantized.has(o)) emitQ(o);
  }

  // Initializers no node reads any more (float weights and biases, folded Clip bounds) are dropped.
  const used = new Set(out.flatMap((n) => n.input ?? []));
  graph.initializer = [...(graph.initializer ?? []), ...newInits].filter((t) => used.has(t.name ?? ''));
  graph.node = out;
  // Per-axis QuantizeLinear/DequantizeLinear need opset 13; only the default domain is kept.
  const opset = Math.max(13, Number(model.opsetImport?.find((o) => !o.domain)?.version ?? 13));
  model.opsetImport = [{ domain: '', version: opset }];
  model.irVersion = Math.max(Number(model.irVersion ?? 7), 7);
  // Drop stale shape annotations of intermediate tensors (types changed); ORT infers them again.
  graph.valueInfo = [];
  model.producerName = 'image-tagger models/quantize.ts';
  return { model, stats };
}
