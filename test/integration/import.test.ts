/**
 * model:import's lossless re-encoding of int8 weights (lab/README.md), and the embedding output
 * every imported folder gets (models/embedding.ts).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { floatTensor, floatValueInfo, node } from '../../models/graph.ts';
import { importModel } from '../../models/import.ts';
import { decodeModel, encodeModel, onnx, reencodeS8WeightsAsU8 } from '../../models/onnx.ts';
import { SHARED_FILES } from '../../paths.ts';
import { createClassifier } from '../../src/classifier/classifier.ts';
import { dot } from '../../src/classifier/math.ts';
import {
  importSharedModel,
  runTs,
  SHARED,
  sharedModelFolder,
  sharedPhotos,
  skipUnlessShared,
} from '../helpers/shared.ts';

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

describe.skipIf(skipUnlessShared('embedding import test'))('the embedding output of imported folders', () => {
  it('int8 (QOperator) and fp32 MobileNetV2 give 1280 unit-length numbers per photo, int8 within cosine 0.98 of fp32 on average', async () => {
    const int8 = await createClassifier(sharedModelFolder(), { threads: 2 });
    const fp32 = await createClassifier(await importSharedModel('mobilenetv2-fp32'), { threads: 2 });
    try {
      expect(int8.folder.meta.embedding).toEqual({
        output: 'embedding',
        dimension: 1280,
        pooling: 'GlobalAveragePool_97_quant',
      });
      expect(fp32.folder.meta.embedding).toMatchObject({ output: 'embedding', dimension: 1280 });
      const cosines: number[] = [];
      for (const photo of sharedPhotos()) {
        const bytes = await readFile(photo.path);
        const [a, b] = [(await int8.classify(bytes)).embedding, (await fp32.classify(bytes)).embedding];
        expect(a).toHaveLength(1280);
        expect(Math.hypot(...(a ?? []))).toBeCloseTo(1, 5);
        cosines.push(dot(a ?? [], b ?? []));
      }
      const mean = cosines.reduce((x, y) => x + y, 0) / cosines.length;
      console.log(
        `int8 (${int8.weights.storage}) vs fp32 embedding cosine on 50 photos: mean ${mean.toFixed(4)}, min ${Math.min(...cosines).toFixed(4)}`,
      );
      // Measured 0.985 mean (u8 on AVX2, s8 on VNNI: the same values); an s8 file on AVX2 saturates (0.93).
      expect(mean).toBeGreaterThanOrEqual(0.98);
    } finally {
      await int8.release();
      await fp32.release();
    }
  });

  it('refuses a classifier without global pooling before its last layer, and imports it with --without-embedding', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'import-nopool-'));
    try {
      // input -> Conv (32x32, stride 32: 7x7 cells) -> Flatten -> Gemm (49 -> 1000): no pooling.
      const model = encodeModel({
        irVersion: 8,
        opsetImport: [{ domain: '', version: 17 }],
        graph: {
          name: 'nopool',
          input: [floatValueInfo('input', ['N', 3, 224, 224])],
          output: [floatValueInfo('output', ['N', 1000])],
          initializer: [
            floatTensor('w', [1, 3, 32, 32], new Float32Array(3 * 32 * 32).fill(0.001)),
            floatTensor(
              'fc',
              [1000, 49],
              Float32Array.from({ length: 49_000 }, (_, i) => (i % 7) / 7),
            ),
          ],
          node: [
            node('Conv', ['input', 'w'], ['cells'], { kernel_shape: [32, 32], strides: [32, 32] }),
            node('Flatten', ['cells'], ['flat'], { axis: 1 }),
            node('Gemm', ['flat', 'fc'], ['output'], { transB: 1 }),
          ],
        },
      });
      const file = join(tmp, 'nopool.onnx');
      await writeFile(file, model);
      const options = { model: file, labels: SHARED_FILES.labels, out: join(tmp, 'out') };
      await expect(importModel(options)).rejects.toThrow(
        /nopool\.onnx: no global pooling right before the classifier layer: walking back from output "output" through Gemm .* <- Flatten .*, Conv .* is neither a pooling.*Pass --without-embedding/,
      );
      const { meta } = await importModel({ ...options, withoutEmbedding: true });
      expect(meta.embedding).toBeUndefined();
      const classifier = await createClassifier(join(tmp, 'out'), { threads: 1 });
      const result = await classifier.classify(await readFile(sharedPhotos()[0]?.path as string));
      expect(result.labels).toHaveLength(3);
      expect(result.embedding).toBeUndefined();
      await classifier.release();
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});
