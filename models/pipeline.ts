/** The quantization pipeline: ORT pre-processing, plan, calibration, QDQ graph. */
import { type CalibrationOptions, calibrate } from './calibrate.ts';
import { prepareFp32 } from './evaluate.ts';
import { decodeModel, encodeModel } from './onnx.ts';
import {
  planQuantization,
  type QuantizationPlan,
  type QuantizeOptions,
  type QuantizeStats,
  quantizeWithRanges,
  type Range,
} from './quantize.ts';

export interface QuantizeResult {
  /** The fp32 graph after ORT 'basic' pre-processing (what was calibrated). */
  prepared: Uint8Array;
  int8: Uint8Array;
  plan: QuantizationPlan;
  ranges: Map<string, Range>;
  stats: QuantizeStats;
}

export async function quantizeStatic(
  fp32: Uint8Array,
  calibrationInputs: Float32Array[],
  options: QuantizeOptions & CalibrationOptions = {},
): Promise<QuantizeResult> {
  const prepared = await prepareFp32(fp32);
  const plan = planQuantization(decodeModel(prepared));
  const ranges = await calibrate(prepared, plan.calibrate, calibrationInputs, options);
  const { model, stats } = quantizeWithRanges(plan, ranges, options);
  return { prepared, int8: encodeModel(model), plan, ranges, stats };
}
