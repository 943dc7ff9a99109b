/**
 * Which int8 weight storage this CPU computes exactly and fast, from /proc/cpuinfo and process.arch.
 *
 * ONNX Runtime's x86-64 int8 GEMM/Conv kernels (MLAS) take uint8 activations and either int8 (`s8`) or
 * uint8 (`u8`, zero point 128: the same quantized values) weights:
 * - with AVX512-VNNI or AVX-VNNI, u8 x s8 uses vpdpbusd, which accumulates four products straight into
 *   int32: exact, and about twice the multiply-adds per instruction of the u8 x u8 path;
 * - without VNNI, u8 x s8 uses vpmaddubsw, which adds pairs of products into saturating int16 (wrong
 *   results for large activations); u8 x u8 widens to int16 first (vpmaddwd) and is exact.
 * A model folder may carry both storages (model.json "weights"); the classifier loads the one chosen
 * here unless MODEL_WEIGHTS asks for one.
 */
import { readFileSync } from 'node:fs';
import type { WeightStorage } from './storages.ts';

export interface CpuInfo {
  /** process.arch of the running node ('x64', 'arm64', ...). */
  arch: string;
  /** CPU flags (x86 "flags", arm64 "Features") present on every listed processor; null if unreadable. */
  flags: ReadonlySet<string> | null;
  /** "model name" (x86) or "CPU part" (arm64) when present, for logs. */
  model?: string;
  /** Where the flags came from, and why they are missing when they are. */
  source: string;
}

export interface StorageChoice {
  storage: 's8' | 'u8';
  reason: string;
}

export const CPUINFO_PATH = '/proc/cpuinfo';

/** The CPU flags that decide which int8 kernels ONNX Runtime runs, how fast and how exactly (x86, arm64). */
export const INT8_FLAGS = [
  'avx2',
  'avx512f',
  'avx512_vnni',
  'avx_vnni',
  'amx_tile',
  'amx_int8',
  'amx_bf16',
  'asimddp',
  'i8mm',
  'sve',
] as const;

/**
 * arm64 (e.g. AWS Graviton): MLAS sums both storages exactly in int32 (u8 through the widening
 * U8X8 QGEMM kernels, s8 through the symmetric ConvSym kernels, whose int16 pairs cannot overflow
 * with weights in [-127, 127]), and both gave bit-identical logits under emulation on three CPU
 * models (lab/README.md). s8 is the storage with dedicated arm64 convolution kernels.
 */
export const ARM64_RULE: StorageChoice = {
  storage: 's8',
  reason:
    'arm64: s8 and u8 are both exact (MLAS sums in int32; s8 has the dedicated sdot/smmla symmetric conv kernels)',
};

export const VNNI_REASON = (flag: string) =>
  `x86 with ${flag === 'avx_vnni' ? 'AVX-VNNI' : 'AVX512-VNNI'}: u8 x s8 dot products accumulate exactly in int32`;
export const NO_VNNI_REASON =
  "no VNNI: ORT's u8 x s8 kernels saturate int16 pairs (vpmaddubsw); u8 x u8 is exact";

/** Parses the text of /proc/cpuinfo: the flags every processor has (x86 "flags" or arm64 "Features"). */
export function parseCpuInfo(text: string, arch: string, source = CPUINFO_PATH): CpuInfo {
  let common = null as Set<string> | null;
  let model: string | undefined;
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const key = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (key === 'flags' || key === 'Features') {
      const these = new Set(value.split(/\s+/).filter(Boolean));
      common = common === null ? these : new Set([...common].filter((f) => these.has(f)));
    } else if (model === undefined && (key === 'model name' || key === 'CPU part')) model = value;
  }
  if (common === null) return { arch, flags: null, model, source: `${source} has no flags/Features line` };
  return { arch, flags: common, model, source };
}

/** Reads /proc/cpuinfo (path injectable for tests); an unreadable file gives flags: null. */
export function readCpuInfo(path: string = CPUINFO_PATH, arch: string = process.arch): CpuInfo {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return {
      arch,
      flags: null,
      source: `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? err})`,
    };
  }
  return parseCpuInfo(text, arch, path);
}

/**
 * Whether ONNX Runtime computes a storage exactly on this CPU: fp32, u8, s8-7bit and mixed everywhere;
 * s8 on arm64 and on x86 with VNNI. Anywhere else s8 is inexact or unknown: on x86 without VNNI its
 * vpmaddubsw kernels saturate and the scores are corrupted (issue 14), so MODEL_WEIGHTS may not ask
 * for it there.
 */
export function storageExactness(cpu: CpuInfo, storage: WeightStorage): { exact: boolean; why: string } {
  if (storage === 'fp32') return { exact: true, why: 'fp32 is the reference' };
  if (storage === 'u8') return { exact: true, why: 'u8 x u8 sums exactly on every CPU' };
  if (storage === 's8-7bit' || storage === 'mixed')
    return { exact: true, why: `${storage}: 7-bit int8 weights cannot saturate int16 pairs, the rest is u8` };
  if (cpu.arch === 'arm64') return { exact: true, why: ARM64_RULE.reason };
  if (cpu.flags === null) return { exact: false, why: `CPU flags unknown (${cpu.source})` };
  if (cpu.arch === 'x64' || cpu.arch === 'ia32') {
    const vnni = ['avx512_vnni', 'avx_vnni'].find((f) => cpu.flags?.has(f));
    return vnni ? { exact: true, why: VNNI_REASON(vnni) } : { exact: false, why: NO_VNNI_REASON };
  }
  return { exact: false, why: `architecture ${cpu.arch}: s8 exactness unknown` };
}

/** The storage `MODEL_WEIGHTS=auto` picks on this CPU, with the reason (logged, in /health). */
export function chooseStorage(cpu: CpuInfo): StorageChoice {
  if (cpu.flags === null)
    return { storage: 'u8', reason: `CPU flags unknown (${cpu.source}): u8, which is exact on every CPU` };
  if (cpu.arch === 'arm64') return ARM64_RULE;
  if (cpu.arch === 'x64' || cpu.arch === 'ia32') {
    const vnni = ['avx512_vnni', 'avx_vnni'].find((f) => cpu.flags?.has(f));
    if (vnni) return { storage: 's8', reason: VNNI_REASON(vnni) };
    return { storage: 'u8', reason: NO_VNNI_REASON };
  }
  return { storage: 'u8', reason: `architecture ${cpu.arch}: u8, which is exact on every CPU` };
}
