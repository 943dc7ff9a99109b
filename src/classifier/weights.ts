/**
 * Which model file the classifier loads: with a "weights" map in model.json, the storage that
 * MODEL_WEIGHTS asks for, or for `auto` the one this CPU computes exactly and fast (cpu.ts).
 */
import { basename } from 'node:path';
import { type CpuInfo, chooseStorage, storageExactness } from './cpu.ts';
import { ConfigError } from './errors.ts';
import { MODEL_FILE, type ModelFolder } from './model-folder.ts';
import { WEIGHT_STORAGES, type WeightStorage } from './storages.ts';

export type WeightRequest = 'auto' | WeightStorage;
export const WEIGHT_REQUESTS: readonly WeightRequest[] = ['auto', ...WEIGHT_STORAGES];

/**
 * What `auto` loads when the folder lacks the CPU's pick: the first storage in this order that the
 * folder has and this CPU computes exactly. Fixed, so every container on one kind of CPU serves the
 * same file (no timing at init).
 */
export const AUTO_FALLBACK: readonly WeightStorage[] = ['u8', 's8', 'mixed', 's8-7bit', 'fp32'];

export interface WeightsChoice {
  /** The storage loaded; null when the folder has no "weights" map (one unnamed model file). */
  storage: WeightStorage | null;
  /** The file loaded, relative to the model folder. */
  file: string;
  reason: string;
  requested: WeightRequest;
  /**
   * False only when a caller allowed a storage this CPU computes inexactly (benchmarks and tests that
   * compare storages); MODEL_WEIGHTS alone never gets one.
   */
  exact: boolean;
}

export interface ResolvedWeights extends WeightsChoice {
  /** Absolute path of `file`. */
  path: string;
}

export interface ResolveOptions {
  /** Load a storage even when this CPU computes it inexactly (it is then marked exact: false). */
  allowInexact?: boolean;
}

export function resolveWeights(
  folder: ModelFolder,
  requested: WeightRequest,
  cpu: CpuInfo,
  { allowInexact = false }: ResolveOptions = {},
): ResolvedWeights {
  const available = folder.weightFiles;
  if (available === null) {
    if (requested !== 'auto')
      throw new ConfigError(
        `MODEL_WEIGHTS=${requested}, but model folder ${folder.dir} has one model file (${MODEL_FILE}) and no "weights" map in model.json: unset MODEL_WEIGHTS or use auto`,
      );
    return {
      storage: null,
      file: MODEL_FILE,
      path: folder.modelPath,
      reason: `model.json has no "weights" map: ${MODEL_FILE} as it is`,
      requested,
      exact: true,
    };
  }
  const names = Object.keys(available).join(', ');
  const pick = (storage: WeightStorage, reason: string): ResolvedWeights => {
    const path = available[storage] as string;
    const { exact, why } = storageExactness(cpu, storage);
    if (!exact && !allowInexact)
      throw new ConfigError(
        requested === 'auto'
          ? `MODEL_WEIGHTS=auto: model folder ${folder.dir} has only ${storage} weights, which this CPU does not compute exactly (${why}), so its scores would be wrong; rebuild the folder with u8 weights (model.json "weights" names: ${names})`
          : `MODEL_WEIGHTS=${requested}: this CPU does not compute ${storage} weights exactly (${why}), so its scores would be wrong; use MODEL_WEIGHTS=auto`,
      );
    return {
      storage,
      file: basename(path),
      path,
      reason: exact ? reason : `${reason}; INEXACT on this CPU: ${why}`,
      requested,
      exact,
    };
  };
  const cpuChoice = chooseStorage(cpu);
  if (requested !== 'auto') {
    if (!available[requested])
      throw new ConfigError(
        `MODEL_WEIGHTS=${requested}, but model folder ${folder.dir} has no ${requested} weights (model.json "weights" names: ${names})`,
      );
    return pick(
      requested,
      `MODEL_WEIGHTS=${requested} (auto would pick ${cpuChoice.storage}: ${cpuChoice.reason})`,
    );
  }
  if (available[cpuChoice.storage]) return pick(cpuChoice.storage, cpuChoice.reason);
  const has = Object.keys(available) as WeightStorage[];
  if (has.length === 1)
    return pick(
      has[0] as WeightStorage,
      `the folder has only ${has[0]} weights; this CPU would pick ${cpuChoice.storage} (${cpuChoice.reason})`,
    );
  const fallback =
    AUTO_FALLBACK.find((s) => available[s] && storageExactness(cpu, s).exact) ??
    (AUTO_FALLBACK.find((s) => available[s]) as WeightStorage);
  return pick(
    fallback,
    `the folder has no ${cpuChoice.storage} weights, which this CPU would pick (${cpuChoice.reason}); ${fallback} is the first exact storage it has in the order ${AUTO_FALLBACK.join(', ')}`,
  );
}
