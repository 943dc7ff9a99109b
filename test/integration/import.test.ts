/** model:import's lossless re-encoding of int8 weights (see README "int8 on CPUs without VNNI"). */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { decodeModel, onnx, reencodeS8WeightsAsU8 } from '../../models/onnx.ts';
import { SHARED, skipUnlessShared } from '../helpers/shared.ts';

type Tensor = { rawData?: Uint8Array | null; int32Data?: number[] | null };
/** The quantized values of an int8 tensor, or of a uint8 tensor shifted by -128. */
const values = (t: Tensor, signed: boolean) => {
  const raw = t.rawData ?? new Uint8Array();
  if (!signed) return Array.from(raw, (v) => v - 128);
  return raw.length
    ? Array.from(new Int8Array(raw.buffer, raw.byteOffset, raw.length))
    : [...(t.int32Data ?? [])];
};

describe.skipIf(skipUnlessShared('int8 re-encoding test'))('reencodeS8WeightsAsU8', () => {
  it('turns every QLinearConv/QLinearMatMul weight into uint8 + 128 holding the same values', async () => {
    const bytes = await readFile(`${SHARED}/models/mobilenetv2-int8.onnx`);
    const before = decodeModel(bytes);
    const after = decodeModel(bytes);
    const pairs = reencodeS8WeightsAsU8(after);
    expect(pairs).toBe(53); // 52 QLinearConv + 1 QLinearMatMul

    const original = new Map(before.graph?.initializer?.map((t) => [t.name, t]));
    let checked = 0;
    for (const node of after.graph?.node ?? []) {
      if (node.opType !== 'QLinearConv' && node.opType !== 'QLinearMatMul') continue;
      for (const input of [node.input?.[3], node.input?.[5]]) {
        const now = after.graph?.initializer?.find((t) => t.name === input);
        const was = original.get(input);
        expect(now?.dataType).toBe(onnx.TensorProto.DataType.UINT8);
        expect(was?.dataType).toBe(onnx.TensorProto.DataType.INT8);
        expect(values(now as Tensor, false)).toEqual(values(was as Tensor, true));
        checked++;
      }
    }
    expect(checked).toBe(2 * pairs);
  });
});
