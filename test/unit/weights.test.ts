/** Which file the classifier loads: the "weights" map, MODEL_WEIGHTS and the CPU. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ARM64_RULE, type CpuInfo, NO_VNNI_REASON, readCpuInfo } from '../../src/classifier/cpu.ts';
import type { ModelFolder } from '../../src/classifier/model-folder.ts';
import { resolveWeights } from '../../src/classifier/weights.ts';

const fixture = (name: string) => join(import.meta.dirname, '../fixtures/cpuinfo', name);
const vnni = readCpuInfo(fixture('x64-avx512vnni-amd-epyc-zen4.txt'), 'x64');
const avx2 = readCpuInfo(fixture('x64-avx2-amd-epyc-zen2.txt'), 'x64');
const graviton = readCpuInfo(fixture('arm64-graviton2-neoverse-n1.txt'), 'arm64');

function folder(weightFiles: ModelFolder['weightFiles']): ModelFolder {
  return {
    dir: '/m',
    modelPath: '/m/model.onnx',
    weightFiles,
    labels: ['a'],
    meta: {} as ModelFolder['meta'],
  };
}
const both = folder({ s8: '/m/model.onnx', u8: '/m/model.u8.onnx' });

describe('resolveWeights', () => {
  it.each([
    ['x86 VNNI', vnni, 's8', 'model.onnx', /AVX512-VNNI/],
    ['x86 AVX2', avx2, 'u8', 'model.u8.onnx', new RegExp(NO_VNNI_REASON.slice(0, 20))],
    [
      'arm64',
      graviton,
      ARM64_RULE.storage,
      ARM64_RULE.storage === 's8' ? 'model.onnx' : 'model.u8.onnx',
      /arm64/,
    ],
  ] as [string, CpuInfo, string, string, RegExp][])('auto on %s', (_name, cpu, storage, file, reason) => {
    const w = resolveWeights(both, 'auto', cpu);
    expect(w).toMatchObject({ storage, file, requested: 'auto', path: `/m/${file}` });
    expect(w.reason).toMatch(reason);
  });

  it('MODEL_WEIGHTS overrides the CPU and says what auto would have picked', () => {
    const w = resolveWeights(both, 'u8', vnni);
    expect(w).toMatchObject({ storage: 'u8', file: 'model.u8.onnx', requested: 'u8' });
    expect(w.reason).toMatch(/^MODEL_WEIGHTS=u8 \(auto would pick s8: x86 with AVX512-VNNI/);
  });

  it('refuses s8 on x86 without VNNI (its kernels saturate), naming MODEL_WEIGHTS', () => {
    expect(() => resolveWeights(both, 's8', avx2)).toThrow(
      /^MODEL_WEIGHTS=s8: this CPU does not compute s8 weights exactly \(no VNNI.*use MODEL_WEIGHTS=auto$/,
    );
    const unknown = { arch: 'x64', flags: null, source: 'test' };
    expect(() => resolveWeights(both, 's8', unknown)).toThrow(/CPU flags unknown/);
    expect(resolveWeights(both, 's8', vnni)).toMatchObject({ storage: 's8', exact: true });
    expect(resolveWeights(both, 's8', graviton)).toMatchObject({ storage: 's8', exact: true });
    expect(resolveWeights(both, 'u8', avx2)).toMatchObject({ storage: 'u8', exact: true });
  });

  it('serves an inexact storage only when the caller allows it, and flags it', () => {
    const w = resolveWeights(both, 's8', avx2, { allowInexact: true });
    expect(w).toMatchObject({ storage: 's8', exact: false });
    expect(w.reason).toMatch(/INEXACT on this CPU: no VNNI/);
  });

  it('names MODEL_WEIGHTS and the folder when the folder lacks the storage asked for', () => {
    const onlyU8 = folder({ u8: '/m/model.onnx' });
    expect(() => resolveWeights(onlyU8, 's8', vnni)).toThrow(
      'MODEL_WEIGHTS=s8, but model folder /m has no s8 weights (model.json "weights" names: u8)',
    );
    expect(() => resolveWeights(folder(null), 'u8', avx2)).toThrow(
      /^MODEL_WEIGHTS=u8, but model folder \/m has one model file \(model.onnx\) and no "weights" map/,
    );
  });

  it('auto with one named storage loads it and says what the CPU would prefer', () => {
    const w = resolveWeights(folder({ u8: '/m/model.onnx' }), 'auto', vnni);
    expect(w).toMatchObject({ storage: 'u8', file: 'model.onnx', exact: true });
    expect(w.reason).toMatch(/^the folder has only u8 weights; this CPU would pick s8/);
  });

  it('auto refuses a folder whose only storage this CPU computes inexactly', () => {
    expect(() => resolveWeights(folder({ s8: '/m/model.onnx' }), 'auto', avx2)).toThrow(
      /^MODEL_WEIGHTS=auto: model folder \/m has only s8 weights, which this CPU does not compute exactly/,
    );
  });

  it('MODEL_WEIGHTS=fp32 loads the fp32 file of a folder built with --weights s8,u8,fp32, on every CPU', () => {
    const three = folder({ s8: '/m/model.onnx', u8: '/m/model.u8.onnx', fp32: '/m/model.fp32.onnx' });
    for (const cpu of [vnni, avx2, graviton, { arch: 'x64', flags: null, source: 'test' }])
      expect(resolveWeights(three, 'fp32', cpu)).toMatchObject({
        storage: 'fp32',
        file: 'model.fp32.onnx',
        exact: true,
      });
    expect(resolveWeights(three, 'auto', avx2).storage).toBe('u8');
  });

  it("auto without the CPU's pick takes the first exact storage of a fixed order, never a timing", () => {
    const sAndFp32 = folder({ s8: '/m/model.onnx', fp32: '/m/model.fp32.onnx' });
    expect(resolveWeights(sAndFp32, 'auto', vnni).storage).toBe('s8');
    const onAvx2 = resolveWeights(sAndFp32, 'auto', avx2);
    expect(onAvx2).toMatchObject({ storage: 'fp32', exact: true });
    expect(onAvx2.reason).toMatch(
      /^the folder has no u8 weights, which this CPU would pick .*; fp32 is the first exact storage it has in the order u8, s8, mixed, s8-7bit, fp32$/,
    );
    const mixed = folder({ fp32: '/m/model.fp32.onnx', 's8-7bit': '/m/a.onnx', mixed: '/m/model.onnx' });
    for (const cpu of [vnni, avx2, graviton])
      expect(resolveWeights(mixed, 'auto', cpu).storage).toBe('mixed');
  });

  it('without a "weights" map loads model.onnx as today', () => {
    expect(resolveWeights(folder(null), 'auto', vnni)).toMatchObject({
      storage: null,
      file: 'model.onnx',
      path: '/m/model.onnx',
      requested: 'auto',
    });
  });
});
