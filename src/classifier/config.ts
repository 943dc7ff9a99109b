/** Environment configuration, read and validated once at init; errors name the variable. */
import { availableParallelism } from 'node:os';
import { ConfigError } from './errors.ts';
import { DEFAULT_LIMITS, type ImageLimits } from './preprocess.ts';
import { WEIGHT_REQUESTS, type WeightRequest } from './weights.ts';

export interface ClassifierConfig {
  modelDir: string;
  threads: number;
  spinWait: boolean;
  /** MODEL_WEIGHTS: which int8 weight storage to load, or auto (from the CPU flags; see cpu.ts). */
  weights: WeightRequest;
  limits: ImageLimits;
}

type Env = Record<string, string | undefined>;

/** Lambda gives one vCPU per 1,769 MB of memory, up to 6 vCPUs at 10,240 MB. */
export const MB_PER_LAMBDA_VCPU = 1769;
export const MAX_LAMBDA_VCPUS = 6;

function positiveInt(env: Env, name: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max)
    throw new ConfigError(`${name} must be an integer from 1 to ${max}, got "${raw}"`);
  return value;
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === '1' || raw === 'true') return true;
  if (raw === '0' || raw === 'false') return false;
  throw new ConfigError(`${name} must be 1, 0, true or false, got "${raw}"`);
}

/**
 * Intra-op threads: MODEL_THREADS if set; in Lambda, the vCPUs that the memory size buys (below
 * 1,769 MB a container shows 2 CPUs but gets less than one: 1 thread); else the CPUs available.
 */
export function resolveThreads(env: Env): number {
  const explicit = positiveInt(env, 'MODEL_THREADS', 64);
  if (explicit !== undefined) return explicit;
  const memory = positiveInt(env, 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE');
  if (memory !== undefined)
    return Math.min(MAX_LAMBDA_VCPUS, Math.max(1, Math.floor(memory / MB_PER_LAMBDA_VCPU)));
  return availableParallelism();
}

export function weightRequest(env: Env): WeightRequest {
  const raw = env.MODEL_WEIGHTS;
  if (raw === undefined || raw === '') return 'auto';
  if (!(WEIGHT_REQUESTS as readonly string[]).includes(raw))
    throw new ConfigError(`MODEL_WEIGHTS must be ${WEIGHT_REQUESTS.join(', ')}, got "${raw}"`);
  return raw as WeightRequest;
}

export function readConfig(env: Env = process.env): ClassifierConfig {
  const modelDir = env.MODEL_DIR;
  if (!modelDir)
    throw new ConfigError(
      'MODEL_DIR is not set: point it at a model folder (model.onnx, labels.json, model.json)',
    );
  return {
    modelDir,
    threads: resolveThreads(env),
    spinWait: flag(env, 'MODEL_SPIN_WAIT', false),
    weights: weightRequest(env),
    limits: {
      maxBytes: positiveInt(env, 'MAX_IMAGE_BYTES') ?? DEFAULT_LIMITS.maxBytes,
      maxPixels: positiveInt(env, 'MAX_IMAGE_PIXELS') ?? DEFAULT_LIMITS.maxPixels,
      timeoutSeconds: positiveInt(env, 'IMAGE_TIMEOUT_SECONDS', 900) ?? DEFAULT_LIMITS.timeoutSeconds,
    },
  };
}
