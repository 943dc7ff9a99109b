import { describe, expect, it } from 'vitest';
import { calibrate } from '../../models/calibrate.ts';
import { floatComputeOps, optimizedOps } from '../../models/evaluate.ts';
import { floatTensor, floatValueInfo, type Model, node, readFloats } from '../../models/graph.ts';
import { countOps, decodeModel, encodeModel, onnx } from '../../models/onnx.ts';
import {
  activationParams,
  planQuantization,
  quantizeBias,
  quantizeWeights,
  quantizeWithRanges,
} from '../../models/quantize.ts';
import { seededRandom } from '../../models/resnet18.ts';
import { roundHalfEven } from '../../src/classifier/math.ts';
import { ort } from '../../src/classifier/native.ts';

describe('quantizer math', () => {
  it('rounds half to even like QuantizeLinear', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, 2.6, -2.6].map(roundHalfEven)).toEqual([
      0, 2, 2, -0, -2, -2, 2, 3, -3,
    ]);
  });

  it('gives uint8 asymmetric activation parameters that represent 0 exactly', () => {
    const p = activationParams({ min: -1, max: 3 });
    expect(p.scale).toBeCloseTo(4 / 255, 12);
    expect(p.zeroPoint).toBe(64); // round(1 / (4/255)) = round(63.75)
    // Ranges that exclude 0 are widened to include it.
    expect(activationParams({ min: 0.5, max: 2 })).toEqual({ scale: 2 / 255, zeroPoint: 0 });
    expect(activationParams({ min: -2, max: -1 })).toEqual({ scale: 2 / 255, zeroPoint: 255 });
    // A post-ReLU range has zero point 0: negative values saturate to 0 (the folded ReLU).
    expect(activationParams({ min: 0, max: 6 }).zeroPoint).toBe(0);
    expect(activationParams({ min: 0, max: 0 })).toEqual({ scale: 1, zeroPoint: 0 });
  });

  it('quantizes weights per output channel, symmetric, in three encodings', () => {
    // Conv weight [2, 1, 1, 2]: channel 0 max |w| = 2, channel 1 max |w| = 0.5.
    const w = Float32Array.from([2, -1, 0.25, -0.5]);
    const u8 = quantizeWeights(w, [2, 1, 1, 2], 0, 'u8');
    expect(Array.from(u8.scales)).toEqual([Math.fround(2 / 127), Math.fround(0.5 / 127)]);
    expect(Array.from(u8.q)).toEqual([127, -64, 64, -127]); // -63.5 -> -64, 63.5 -> 64 (ties to even)
    expect(Array.from(u8.values)).toEqual([255, 64, 192, 1]);
    expect(u8.values).toBeInstanceOf(Uint8Array);
    expect(Array.from(u8.zeroPoints)).toEqual([128, 128]);
    const s8 = quantizeWeights(w, [2, 1, 1, 2], 0, 's8');
    expect(s8.values).toBeInstanceOf(Int8Array);
    expect(Array.from(s8.values)).toEqual([127, -64, 64, -127]);
    expect(Array.from(s8.zeroPoints)).toEqual([0, 0]);
    const s7 = quantizeWeights(w, [2, 1, 1, 2], 0, 's8-7bit');
    expect(Array.from(s7.q)).toEqual([64, -32, 32, -64]);
    expect(s7.scales[0]).toBeCloseTo(2 / 64, 7);
  });

  it('quantizes a Gemm weight [K, N] along its output axis 1, and zero channels safely', () => {
    const w = Float32Array.from([1, 0, 4, -2, 0, 8]); // [3, 2]: column 0 = 1,4,0; column 1 = 0,-2,8... row-major
    const q = quantizeWeights(w, [3, 2], 1, 'u8');
    // Column 0 holds 1, 4, 0 (max 4); column 1 holds 0, -2, 8 (max 8).
    expect(Array.from(q.scales)).toEqual([Math.fround(4 / 127), Math.fround(8 / 127)]);
    expect(Array.from(q.q)).toEqual([32, 0, 127, -32, 0, 127]);
    const zero = quantizeWeights(new Float32Array(4), [2, 2], 0, 'u8');
    expect(Array.from(zero.scales)).toEqual([1, 1]);
    expect(Array.from(zero.values)).toEqual([128, 128, 128, 128]);
  });

  it('quantizes biases to int32 with scale input x weight scale', () => {
    const b = quantizeBias(Float32Array.from([0.1, -0.3]), 0.02, Float32Array.from([0.5, 0.01]));
    expect(Array.from(b.scales)).toEqual([Math.fround(0.01), Math.fround(0.0002)]);
    expect(Array.from(b.values)).toEqual([10, -1500]);
    expect(b.clamped).toBe(0);
    const huge = quantizeBias(Float32Array.from([1e6]), 1e-6, Float32Array.from([1e-6]));
    expect(Array.from(huge.values)).toEqual([2147483647]);
    expect(huge.clamped).toBe(1);
  });
});

/** input [1,2,4,4] -> Conv 3x3 (3 ch) -> Relu -> MaxPool 2x2 -> Conv 1x1 (3 ch) -> Add(skip) -> Clip(0,6)
 *  -> GlobalAveragePool -> Flatten -> Gemm 3 -> 4 -> output */
function tinyModel(): Model {
  const rand = seededRandom(3);
  const r = (n: number, s = 1) => Float32Array.from({ length: n }, () => (rand() * 2 - 1) * s);
  return {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'tiny',
      input: [floatValueInfo('input', [1, 2, 4, 4])],
      output: [floatValueInfo('output', [1, 4])],
      initializer: [
        floatTensor('w1', [3, 2, 3, 3], r(54)),
        floatTensor('b1', [3], r(3, 0.1)),
        floatTensor('w2', [3, 3, 1, 1], r(9)),
        floatTensor('b2', [3], r(3, 0.1)),
        floatTensor('lo', [], [0]),
        floatTensor('hi', [], [6]),
        floatTensor('fc', [4, 3], r(12)),
        floatTensor('fcb', [4], r(4, 0.1)),
      ],
      node: [
        node('Conv', ['input', 'w1', 'b1'], ['c1'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
        node('Relu', ['c1'], ['r1']),
        node('MaxPool', ['r1'], ['p1'], { kernel_shape: [2, 2], strides: [2, 2] }),
        node('Conv', ['p1', 'w2', 'b2'], ['c2'], { kernel_shape: [1, 1] }),
        node('Add', ['c2', 'p1'], ['a1']),
        node('Clip', ['a1', 'lo', 'hi'], ['k1']),
        node('GlobalAveragePool', ['k1'], ['g1']),
        node('Flatten', ['g1'], ['f1'], { axis: 1 }),
        node('Gemm', ['f1', 'fc', 'fcb'], ['output'], { transB: 1 }),
      ],
    },
  };
}

describe('QDQ graph rewriting', () => {
  it('folds Relu and Clip, shares scales through MaxPool and Flatten, keeps the logits float', () => {
    const plan = planQuantization(tinyModel());
    expect(plan.folded).toEqual({ Relu: 1, Clip: 1 });
    expect(countOps(plan.model)).not.toHaveProperty('Relu');
    expect(plan.clamps.get('r1')).toEqual({ min: 0, max: Number.POSITIVE_INFINITY });
    expect(plan.clamps.get('k1')).toEqual({ min: 0, max: 6 });
    expect(plan.sameScale).toEqual(
      new Map([
        ['p1', 'r1'],
        ['f1', 'g1'],
      ]),
    );
    // c2 feeds the Add, so it is quantized too (QLinearConv -> QLinearAdd).
    expect(plan.tensors).toEqual(['input', 'r1', 'p1', 'c2', 'k1', 'g1', 'f1']);
    expect(plan.calibrate).toEqual(['input', 'r1', 'c2', 'k1', 'g1']);
  });

  it('writes per-axis weight, int32 bias and uint8 activation Q/DQ nodes that match the math', () => {
    const plan = planQuantization(tinyModel());
    const ranges = new Map([
      ['input', { min: -1, max: 1 }],
      ['r1', { min: -5, max: 4 }], // clamped to [0, 4] by the folded ReLU
      ['c2', { min: -2, max: 2 }],
      ['k1', { min: 0, max: 9 }], // clamped to [0, 6] by the folded Clip
      ['g1', { min: 0, max: 3 }],
    ]);
    const { model, stats } = quantizeWithRanges(plan, ranges, { weightEncoding: 'u8' });
    expect(stats).toMatchObject({ activations: 7, weights: 3, biases: 3, biasClamped: 0 });
    const g = model.graph;
    const init = (name: string) => g?.initializer?.find((t) => t.name === name);
    expect(readFloats(init('r1_scale') ?? {})[0]).toBeCloseTo(4 / 255, 7);
    expect(readFloats(init('k1_scale') ?? {})[0]).toBeCloseTo(6 / 255, 7);
    expect(init('p1_scale')).toBeUndefined(); // MaxPool output reuses r1's parameters
    const w1 = init('w1_quantized');
    expect(w1?.dataType).toBe(onnx.TensorProto.DataType.UINT8);
    const b1 = init(`b1_${'Conv_c1'}_quantized`);
    expect(b1?.dataType).toBe(onnx.TensorProto.DataType.INT32);
    const axisOf = (out: string) =>
      g?.node?.find((n) => n.output?.[0] === out)?.attribute?.find((a) => a.name === 'axis')?.i;
    expect(Number(axisOf('w1_DequantizeLinear_Output'))).toBe(0);
    expect(Number(axisOf('fc_DequantizeLinear_Output'))).toBe(0); // transB = 1: rows are outputs
    expect(g?.initializer?.some((t) => t.name === 'w1' || t.name === 'lo')).toBe(false);
    expect(model.opsetImport).toEqual([{ domain: '', version: 13 }]);
  });

  it("'mixed' keeps u8 weights for the first Conv and the Gemm, 7-bit int8 for the others", () => {
    const plan = planQuantization(tinyModel());
    const ranges = new Map(plan.calibrate.map((t) => [t, { min: -1, max: 1 }]));
    const { model } = quantizeWithRanges(plan, ranges, { weightEncoding: 'mixed' });
    const init = (name: string) => model.graph?.initializer?.find((t) => t.name === name);
    const { UINT8, INT8 } = onnx.TensorProto.DataType;
    expect([
      init('w1_quantized')?.dataType,
      init('w2_quantized')?.dataType,
      init('fc_quantized')?.dataType,
    ]).toEqual([UINT8, INT8, UINT8]);
    const w2 = init('w2_quantized')?.rawData ?? new Uint8Array();
    expect(Math.max(...Array.from(new Int8Array(w2.buffer, w2.byteOffset, w2.length), Math.abs))).toBe(64);
  });

  it('runs in ONNX Runtime close to fp32, with every Conv and the Gemm fused into int8 kernels', async () => {
    const fp32 = encodeModel(tinyModel());
    const rand = seededRandom(9);
    const inputs = Array.from({ length: 8 }, () => Float32Array.from({ length: 32 }, () => rand() * 2 - 1));
    const plan = planQuantization(decodeModel(fp32));
    const ranges = await calibrate(fp32, plan.calibrate, inputs, { threads: 1 });
    expect(ranges.get('input')?.min).toBeLessThan(-0.8);
    const int8 = encodeModel(quantizeWithRanges(plan, ranges).model);
    const run = async (bytes: Uint8Array, level: 'disabled' | 'all') => {
      const s = await ort.InferenceSession.create(bytes, {
        graphOptimizationLevel: level,
        logSeverityLevel: 3,
      });
      const out = [];
      for (const x of inputs) {
        const r = await s.run({ input: new ort.Tensor('float32', x, [1, 2, 4, 4]) });
        out.push(Array.from(r.output?.data as Float32Array));
      }
      await s.release();
      return out;
    };
    const ref = await run(fp32, 'disabled');
    // The QDQ graph as written (reference kernels) and as fused (int8 kernels) agree with fp32.
    for (const level of ['disabled', 'all'] as const) {
      const got = await run(int8, level);
      const maxRef = Math.max(...ref.flat().map(Math.abs));
      const maxErr = Math.max(...got.flat().map((v, i) => Math.abs(v - (ref.flat()[i] ?? 0))));
      expect(maxErr / maxRef).toBeLessThan(0.05);
    }
    const ops = await optimizedOps(int8);
    expect(floatComputeOps(ops)).toEqual({});
    expect(ops).toMatchObject({ QLinearConv: 2, QLinearAdd: 1, QGemm: 1 });
  });
});
