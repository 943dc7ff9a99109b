/**
 * The quantizer on two real graphs: the synthetic ResNet-18 (always) and MobileNetV2 with real trained
 * weights from ../shared (skipped with a message when ../shared is absent).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { listImages, preprocessFiles } from '../../models/calibrate.ts';
import {
  agreement,
  argmax,
  floatComputeOps,
  optimizedOps,
  runAll,
  topIndices,
} from '../../models/evaluate.ts';
import { countOps, decodeModel } from '../../models/onnx.ts';
import { type QuantizeResult, quantizeStatic } from '../../models/pipeline.ts';
import { countParams } from '../../models/resnet18.ts';
import { buildSyntheticResNet18, SYNTHETIC_SEEDS, syntheticInputs } from '../../models/synthetic.ts';
import { IMAGENET_DEFAULTS } from '../../src/classifier/model-folder.ts';
import { SHARED, skipUnlessShared } from '../helpers/shared.ts';

const hasShared = !skipUnlessShared('the quantizer tests on the shared photos and MobileNetV2');

interface Photo {
  file: string;
  classIndex: number;
}
let photos: Photo[] = [];
let photoInputs: Float32Array[] = [];
async function loadPhotos(): Promise<void> {
  if (photoInputs.length > 0) return;
  photos = JSON.parse(await readFile(join(SHARED, 'photos', 'photos.json'), 'utf8'));
  photoInputs = await preprocessFiles(
    photos.map((p) => join(SHARED, 'photos', p.file)),
    IMAGENET_DEFAULTS,
  );
}

describe('synthetic ResNet-18', () => {
  let fp32: Uint8Array;
  let q: QuantizeResult;
  beforeAll(async () => {
    fp32 = await buildSyntheticResNet18();
    q = await quantizeStatic(fp32, await syntheticInputs(25, SYNTHETIC_SEEDS.calibration));
  });

  it('has the torchvision ResNet-18 topology, BatchNorm folded, and fits the 12 MB int8 budget', () => {
    const model = decodeModel(fp32);
    expect(countOps(model)).toEqual({
      Conv: 20,
      Relu: 17,
      MaxPool: 1,
      Add: 8,
      GlobalAveragePool: 1,
      Flatten: 1,
      Gemm: 1,
    });
    // torchvision: 11,689,512 with BatchNorm (2 per channel); folded: 1 bias per channel, 4,800 fewer.
    expect(countParams(model)).toBe(11_689_512 - 4_800);
    expect(q.int8.length).toBeLessThan(12e6);
  });

  it('is fused by ONNX Runtime into int8 kernels, no float Conv/Gemm left', async () => {
    const ops = await optimizedOps(q.int8);
    console.log(`ResNet-18 int8, ORT-optimized ops: ${JSON.stringify(ops)}`);
    expect(floatComputeOps(ops)).toEqual({});
    expect(ops).toMatchObject({ QLinearConv: 20, QLinearAdd: 8, QLinearGlobalAveragePool: 1, QGemm: 1 });
  });

  it.skipIf(!hasShared)('int8 logits follow fp32 on the 50 shared photos (mean cosine >= 0.99)', async () => {
    await loadPhotos();
    const a = agreement(await runAll(q.prepared, photoInputs), await runAll(q.int8, photoInputs));
    console.log(`ResNet-18 synthetic, 50 photos: ${JSON.stringify(a)}`);
    expect(a.meanCosine).toBeGreaterThanOrEqual(0.99);
  });
});

describe.skipIf(!hasShared)('MobileNetV2 with real trained weights (../shared)', () => {
  let q: QuantizeResult;
  beforeAll(async () => {
    await loadPhotos();
    // Calibration: the first 25 of the 50 photos by file name.
    const calibration = await preprocessFiles(
      await listImages(join(SHARED, 'photos'), 25),
      IMAGENET_DEFAULTS,
    );
    q = await quantizeStatic(await readFile(join(SHARED, 'models', 'mobilenetv2-fp32.onnx')), calibration);
  });

  it('is fused by ONNX Runtime into int8 kernels, no float Conv/Gemm/MatMul left', async () => {
    const ops = await optimizedOps(q.int8);
    console.log(`MobileNetV2 int8, ORT-optimized ops: ${JSON.stringify(ops)}`);
    expect(floatComputeOps(ops)).toEqual({});
    expect(ops).toMatchObject({ QLinearConv: 52, QLinearAdd: 10, QLinearGlobalAveragePool: 1, QGemm: 1 });
    expect(q.stats.folded.Clip).toBe(62);
  });

  it('keeps the accuracy of fp32 on the 50 shared photos', async () => {
    const fp32Out = await runAll(q.prepared, photoInputs);
    const int8Out = await runAll(q.int8, photoInputs);
    const top = (outs: Float32Array[], k: number) =>
      outs.filter((o, i) => topIndices(o, k).includes(photos[i]?.classIndex ?? -1)).length;
    const top1 = int8Out.filter((o, i) => argmax(o) === photos[i]?.classIndex).length;
    const a = agreement(fp32Out, int8Out);
    console.log(
      `MobileNetV2: fp32 top-1 ${top(fp32Out, 1)}/50 top-3 ${top(fp32Out, 3)}/50; int8 top-1 ${top1}/50 top-3 ${top(int8Out, 3)}/50; ${JSON.stringify(a)}`,
    );
    // Measured on this CPU (AMD EPYC, AVX2, no VNNI): int8 40/50 top-1, 47/50 top-3, mean cosine
    // 0.986 -- the same top-1 as the fp32 model here (40/50; ../shared/README's 41 were measured on
    // another CPU). ONNX Runtime's own Python-quantized mobilenetv2-int8.onnx gets 35/50 here as
    // shipped (its s8 weights saturate without VNNI) and 39/50 re-encoded as u8. The gate keeps one
    // photo of margin under the measurement (issue: 40), for CPUs whose kernels round differently.
    expect(top1).toBeGreaterThanOrEqual(39);
    expect(top(int8Out, 3)).toBeGreaterThanOrEqual(46);
    expect(a.meanCosine).toBeGreaterThanOrEqual(0.98);
  });
});
