/**
 * npm run quantize:candidate -- --source <fp32.onnx> --calibration <dir> --out <int8.onnx>
 *   [--count N] [--method minmax|percentile] [--percentile P] [--weights s8|u8]
 *
 * The quantizer alone (models/pipeline.ts quantizeStatic, the same bytes as model:build's model.onnx
 * for the same flags), for comparing calibration candidates quickly with `npm run fidelity`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { type CalibrationMethod, listImages, preprocessFiles } from '../models/calibrate.ts';
import { quantizeStatic } from '../models/pipeline.ts';
import type { WeightChoice } from '../models/quantize.ts';
import { IMAGENET_DEFAULTS } from '../src/classifier/model-folder.ts';

const { values } = parseArgs({
  options: {
    source: { type: 'string' },
    calibration: { type: 'string' },
    out: { type: 'string' },
    count: { type: 'string', default: '25' },
    method: { type: 'string', default: 'minmax' },
    percentile: { type: 'string', default: '99.999' },
    weights: { type: 'string', default: 's8' },
  },
});
if (!values.source || !values.calibration || !values.out)
  throw new Error(
    'usage: --source <fp32.onnx> --calibration <dir> --out <int8.onnx> [--count N] [--method M]',
  );
const method = values.method as CalibrationMethod;
if (method !== 'minmax' && method !== 'percentile') throw new Error('--method takes minmax or percentile');
const files = await listImages(values.calibration, Number(values.count));
const inputs = await preprocessFiles(files, IMAGENET_DEFAULTS);
const q = await quantizeStatic(await readFile(values.source), inputs, {
  method,
  percentile: Number(values.percentile),
  weightEncoding: values.weights as WeightChoice,
});
await writeFile(values.out, q.int8);
console.log(
  `${values.out}: ${files.length} images, ${method}, ${values.weights}; ${JSON.stringify(q.stats)}`,
);
