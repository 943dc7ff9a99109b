/**
 * Which int8 weight storage is exact on arm64 (issue 7): the project-quantized MobileNetV2 with s8
 * weights and with u8 weights (zero point 128, same quantized values) must give bit-identical logits
 * under arm64 ONNX Runtime (the runtime layer, in qemu-user). Its u8 x u8 kernels widen before they
 * add (umull/uadalp, udot, ummla), so identical logits show that the s8 path (symmetric conv
 * kernels, sdot/smmla, int16 pairs of products that cannot overflow for |w| <= 127) is exact too.
 * Two CPU models: neoverse-n1 (dot product: Graviton2) and max (i8mm: Graviton3/4).
 * /work/notes/runtimes-note.md has the MLAS sources and the 50-photo figures (npm run lab:int8-arch).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { floatsOf, parseTarget, runTarget } from '../../lab/int8-arch.ts';
import type { ArchPlan } from '../../lab/int8-arch-probe.ts';
import { preprocessFiles } from '../../models/calibrate.ts';
import { encodeModel } from '../../models/onnx.ts';
import { quantizeStatic } from '../../models/pipeline.ts';
import { quantizeWithRanges } from '../../models/quantize.ts';
import { unavailable } from '../../scripts/runtimes.ts';
import { IMAGENET_DEFAULTS } from '../../src/classifier/model-folder.ts';
import { photo, SHARED, skipUnless, skipUnlessShared } from '../helpers/shared.ts';

const PHOTOS = ['207-Golden-Retriever.jpg', '027-newt.jpg'];
const CALIBRATION = ['007-cock.jpg', '087-grey-parrot.jpg', '167-English-foxhound.jpg', '287-lynx.jpg'];
const TARGETS = ['arm64:neoverse-n1', 'arm64:max'].map(parseTarget);

function argmax(v: Float32Array): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if ((v[i] ?? 0) > (v[best] ?? 0)) best = i;
  return best;
}

// .ci/run installs the emulation, so there (REQUIRE_SHARED=1) a missing piece fails instead of skipping.
const emulation = unavailable(parseTarget('arm64').runtime);

describe.skipIf(
  skipUnlessShared('the arm64 int8 storage check') || skipUnless('the arm64 int8 storage check', emulation),
)('int8 weight storage on arm64', () => {
  let dir: string;
  let plan: ArchPlan;

  beforeAll(async () => {
    expect(emulation).toBe(false);
    dir = await mkdtemp(join(tmpdir(), 'int8-arm64-'));
    const spec = IMAGENET_DEFAULTS;
    const calibration = await preprocessFiles(CALIBRATION.map(photo), spec);
    const fp32 = await readFile(join(SHARED, 'models/mobilenetv2-fp32.onnx'));
    const q = await quantizeStatic(fp32, calibration, { weightEncoding: 's8' });
    await writeFile(join(dir, 's8.onnx'), q.int8);
    const u8 = quantizeWithRanges(q.plan, q.ranges, { weightEncoding: 'u8' });
    const u8bytes = encodeModel(u8.model);
    expect(Buffer.from(u8bytes).equals(Buffer.from(q.int8))).toBe(false); // two storages, not one file
    await writeFile(join(dir, 'u8.onnx'), u8bytes);
    const inputs = await preprocessFiles(PHOTOS.map(photo), spec);
    const tensors = new Float32Array(inputs.length * (inputs[0]?.length ?? 0));
    for (const [i, t] of inputs.entries()) tensors.set(t, i * t.length);
    await writeFile(join(dir, 'tensors.f32'), new Uint8Array(tensors.buffer));
    plan = {
      tensors: join(dir, 'tensors.f32'),
      count: PHOTOS.length,
      size: spec.cropSize,
      models: ['s8', 'u8'].map((name) => ({ name, path: join(dir, `${name}.onnx`) })),
    };
  }, 300_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const target of TARGETS) {
    it(`${target.id}: s8 and u8 weights give bit-identical logits (${PHOTOS.join(', ')})`, async () => {
      const out = await runTarget(target, plan, dir);
      expect(out.arch).toBe('arm64');
      const s8 = floatsOf(out, 's8');
      const u8 = floatsOf(out, 'u8');
      expect(s8.length).toBe(PHOTOS.length * 1000);
      expect(Buffer.from(s8.buffer, s8.byteOffset, s8.byteLength)).toEqual(
        Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength),
      );
      expect(argmax(s8.subarray(0, 1000))).toBe(207); // Golden Retriever
    }, 300_000);
  }
});
