/** model:import's lossless re-encoding of int8 weights (lab/README.md). */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeModel, onnx, reencodeS8WeightsAsU8 } from '../../models/onnx.ts';
import { SHARED_FILES } from '../../paths.ts';
import { runTs, SHARED, skipUnlessShared } from '../helpers/shared.ts';

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

describe.skipIf(skipUnlessShared('model:import CLI test'))('npm run model:import (the CLI)', () => {
  it('writes a model folder with both weight storages and prints what it wrote', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'import-cli-'));
    try {
      const out = join(tmp, 'm');
      const args = [SHARED_FILES.int8, '--labels', SHARED_FILES.labels, '--name', 'cli', '--out', out];
      const { stdout } = await runTs('models/import.ts', args);
      expect(stdout).toContain(`model folder written to ${out}`);
      expect(stdout).toContain('53 weight tensors re-encoded for u8');
      const meta = JSON.parse(await readFile(join(out, 'model.json'), 'utf8'));
      expect(meta).toMatchObject({ name: 'cli', weights: { s8: 'model.onnx', u8: 'model.u8.onnx' } });
      await expect(runTs('models/import.ts', [SHARED_FILES.int8])).rejects.toThrow(
        /usage: npm run model:import/,
      );
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});
