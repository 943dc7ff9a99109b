/**
 * The weight storages, named once for the service (model.json "weights", MODEL_WEIGHTS, the
 * benchmark) and the model toolchain (models/build.ts, models/quantize.ts).
 */

/**
 * The storages a model folder may carry (model.json "weights"): the two int8 storages of cpu.ts (s8, u8), two that
 * are exact on every CPU by construction (`s8-7bit`: int8 weights in [-64, 64], whose u8 x s8 pairs
 * cannot reach the int16 limit; `mixed`: u8 for the first Conv, depthwise Convs and Gemm/MatMul,
 * 7-bit int8 elsewhere), and `fp32`.
 */
export const WEIGHT_STORAGES = ['s8', 'u8', 's8-7bit', 'mixed', 'fp32'] as const;
export type WeightStorage = (typeof WEIGHT_STORAGES)[number];

/** The int8 storages: what models/quantize.ts makes from an fp32 model. */
export type Int8Storage = Exclude<WeightStorage, 'fp32'>;
export const INT8_STORAGES: readonly Int8Storage[] = WEIGHT_STORAGES.filter(
  (s): s is Int8Storage => s !== 'fp32',
);
export const isInt8Storage = (s: string): s is Int8Storage =>
  (INT8_STORAGES as readonly string[]).includes(s);

/** How one weight tensor is stored: `mixed` stores each tensor as one of these. */
export type TensorEncoding = Exclude<Int8Storage, 'mixed'>;

/** What each storage is, for tables and model.json. */
export const STORAGE_TEXT: Record<WeightStorage, string> = {
  u8: 'uint8 with zero point 128 (exact u8 x u8 kernels on x86-64 without VNNI)',
  s8: 'int8 with zero point 0 (u8 x s8 kernels: exact with VNNI, saturating on AVX2 without VNNI)',
  's8-7bit': 'int8 limited to [-64, 64] (7-bit; u8 x s8 pairs cannot saturate int16)',
  mixed:
    'mixed: uint8 zero point 128 for the first Conv, depthwise Convs and Gemm/MatMul, 7-bit int8 elsewhere',
  fp32: 'float32, not quantized',
};
