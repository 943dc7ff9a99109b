/**
 * int8 weight storage chosen at init (issue 7), on real ONNX Runtime with ../shared's MobileNetV2:
 * the imported int8 folder carries s8 (model.onnx, as shipped) and u8 (model.u8.onnx); fp32 is
 * ../shared/models/mobilenetv2-fp32.onnx imported the same way.
 *
 * Exactness, true on any host:
 * - `auto` picks what the CPU flags say (s8 with VNNI, u8 without, arm64 by its rule);
 * - where the chosen storage is s8 (u8 x s8 claimed exact: VNNI, arm64) s8 and u8 give the same
 *   logits (u8 x u8 is exact everywhere, so s8 must match it); on an AVX2-only host auto picks u8 and
 *   the s8 difference is printed, not asserted (its vpmaddubsw kernels saturate);
 * - the chosen storage's mean logit cosine against fp32 over the 50 photos is at least 0.98.
 *   Measured here (AMD EPYC, avx512_vnni, 1 thread): s8 = u8 bit for bit (max |diff| 0), mean cosine
 *   0.9847 (min 0.9705), top-1 agreement with fp32 45/50. The earlier AVX2-only machine measured
 *   0.985 for u8 and 0.92 for the saturating s8 file, so 0.98 separates an exact storage from a
 *   saturating one.
 */
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agreement } from '../../models/evaluate.ts';
import { type Classifier, createClassifier } from '../../src/classifier/classifier.ts';
import { chooseStorage, readCpuInfo, storageExactness } from '../../src/classifier/cpu.ts';
import { ConfigError } from '../../src/classifier/errors.ts';
import { loadModelFolder, verifyModelHash } from '../../src/classifier/model-folder.ts';
import { preprocess } from '../../src/classifier/preprocess.ts';
import { createApi } from '../../src/http/api.ts';
import {
  importSharedModel,
  SHARED,
  sharedModelFolder,
  sharedPhotos,
  skipUnlessShared,
} from '../helpers/shared.ts';

const MIN_MEAN_COSINE = 0.98;

describe.skipIf(skipUnlessShared('weight storage exactness test'))(
  'int8 weight storage chosen at init',
  () => {
    const cpu = chooseStorage(readCpuInfo());
    let int8Dir: string;
    let fp32: Classifier;
    let s8: Classifier;
    let u8: Classifier;
    let auto: Classifier;
    const logits: Record<'fp32' | 's8' | 'u8' | 'auto', Float32Array[]> = {
      fp32: [],
      s8: [],
      u8: [],
      auto: [],
    };

    beforeAll(async () => {
      int8Dir = sharedModelFolder();
      fp32 = await createClassifier(await importSharedModel('mobilenetv2-fp32'), { threads: 1 });
      s8 = await createClassifier(int8Dir, { threads: 1, weights: 's8', allowInexact: true });
      u8 = await createClassifier(int8Dir, { threads: 1, weights: 'u8' });
      auto = await createClassifier(int8Dir, { threads: 1 });
      for (const photo of sharedPhotos()) {
        const { data } = await preprocess(await readFile(photo.path), fp32.folder.meta);
        logits.fp32.push(await fp32.infer(data));
        logits.s8.push(await s8.infer(data));
        logits.u8.push(await u8.infer(data));
        logits.auto.push(await auto.infer(data));
      }
    });
    afterAll(async () => {
      for (const c of [fp32, s8, u8, auto]) await c?.release();
    });

    it('model:import wrote both storages with the same quantized values, hashes recorded', async () => {
      const folder = await loadModelFolder(int8Dir);
      expect(folder.meta.weights).toEqual({ s8: 'model.onnx', u8: 'model.u8.onnx' });
      await verifyModelHash(folder); // model.onnx and model.u8.onnx
      // model.onnx is the shared file as shipped (s8) plus the embedding output: the same logits as
      // the shipped file, bit for bit; the u8 re-encoding is tested in import.test.ts.
      const shipped = await ort.InferenceSession.create(`${SHARED}/models/mobilenetv2-int8.onnx`, {
        intraOpNumThreads: 1,
      });
      const photo = sharedPhotos()[0];
      if (!photo) throw new Error('no shared photo');
      const { data } = await preprocess(await readFile(photo.path), folder.meta);
      const side = folder.meta.cropSize;
      const input = new ort.Tensor('float32', data, [1, 3, side, side]);
      const out = await shipped.run({ [shipped.inputNames[0] as string]: input });
      expect(Array.from(out[shipped.outputNames[0] as string]?.data as Float32Array)).toEqual(
        Array.from(logits.s8[0] ?? []),
      );
      await shipped.release();
      expect(folder.meta.embedding).toBeDefined();
      expect(fp32.weights).toMatchObject({ storage: null, file: 'model.onnx', requested: 'auto' });
    });

    it('auto loads the storage the CPU flags pick, and says why', () => {
      console.log(`this CPU: ${cpu.storage} (${cpu.reason})`);
      expect(auto.weights).toEqual({
        storage: cpu.storage,
        file: cpu.storage === 's8' ? 'model.onnx' : 'model.u8.onnx',
        reason: cpu.reason,
        requested: 'auto',
        exact: true,
      });
      expect(logits.auto).toEqual(cpu.storage === 's8' ? logits.s8 : logits.u8);
    });

    it('MODEL_WEIGHTS=s8 is served only where this CPU computes it exactly, else refused', async () => {
      const s8Exact = storageExactness(readCpuInfo(), 's8');
      expect(s8.weights.exact).toBe(s8Exact.exact);
      const asked = createClassifier(int8Dir, { threads: 1, weights: 's8' });
      if (s8Exact.exact) await (await asked).release();
      else await expect(asked).rejects.toThrow(ConfigError);
    });

    it('s8 and u8 give the same logits where the CPU computes u8 x s8 exactly', () => {
      let maxDiff = 0;
      for (const [i, a] of logits.s8.entries()) {
        const b = logits.u8[i] as Float32Array;
        for (let j = 0; j < a.length; j++)
          maxDiff = Math.max(maxDiff, Math.abs((a[j] as number) - (b[j] as number)));
      }
      const s8VsFp32 = agreement(logits.fp32, logits.s8);
      console.log(
        `s8 vs u8: max |logit diff| ${maxDiff.toExponential(2)} over 50 photos; s8 vs fp32 mean cosine ${s8VsFp32.meanCosine.toFixed(4)}`,
      );
      if (storageExactness(readCpuInfo(), 's8').exact) expect(maxDiff).toBeLessThanOrEqual(1e-4);
      else console.log('s8 is not exact on this CPU: it may differ (saturating u8 x s8 kernels)');
    });

    it(`the chosen storage's mean logit cosine vs fp32 is at least ${MIN_MEAN_COSINE}`, () => {
      const a = agreement(logits.fp32, logits.auto);
      const u = agreement(logits.fp32, logits.u8);
      console.log(
        `${auto.weights.storage} vs fp32: mean cosine ${a.meanCosine.toFixed(4)}, min ${a.minCosine.toFixed(4)}, top-1 agreement ${Math.round(a.top1Agreement * 50)}/50; u8: ${u.meanCosine.toFixed(4)}`,
      );
      expect(a.meanCosine).toBeGreaterThanOrEqual(MIN_MEAN_COSINE);
      expect(u.meanCosine).toBeGreaterThanOrEqual(MIN_MEAN_COSINE); // u8 is exact on every CPU
    });

    it('/health reports the storage, the file, the reason and what was asked for', async () => {
      const api = createApi({ classifier: u8 });
      const res = await api({ rawPath: '/health', requestContext: { http: { method: 'GET' } } } as never);
      expect(JSON.parse(res.body).weights).toEqual({
        storage: 'u8',
        file: 'model.u8.onnx',
        reason: `MODEL_WEIGHTS=u8 (auto would pick ${cpu.storage}: ${cpu.reason})`,
        requested: 'u8',
        exact: true,
      });
    });
  },
);
