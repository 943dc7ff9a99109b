/**
 * npm run model:import -- <model.onnx> --labels <labels.json> --out <dir> [flags]
 *
 * Makes a model folder (see src/classifier/model-folder.ts) from any ImageNet-style classifier:
 * reads the graph's input name and shape through ONNX Runtime, applies ImageNet preprocessing
 * defaults unless flags override them, records the sha256, then loads the folder with the
 * classifier to prove it runs.
 *
 * An int8 QOperator model with int8 (s8) weights is written in both weight storages: model.onnx as
 * given (s8) and model.u8.onnx (the same values as uint8 with zero point 128), named in model.json
 * "weights"; the classifier picks one at init from the CPU flags (src/classifier/cpu.ts).
 */
import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createClassifier } from '../src/classifier/classifier.ts';
import {
  IMAGENET_DEFAULTS,
  type ModelMeta,
  type WeightStorages,
  writeModelFolder,
} from '../src/classifier/model-folder.ts';
import { ort } from '../src/classifier/native.ts';
import { decodeModel, describeQuantization, encodeModel, reencodeS8WeightsAsU8 } from './onnx.ts';

const usage = `usage: npm run model:import -- <model.onnx> --labels <labels.json> --out <dir>
  [--name N] [--version V] [--resize 256] [--crop 224] [--mean 0.485,0.456,0.406]
  [--std 0.229,0.224,0.225] [--channel-order RGB|BGR] [--output logits|probabilities]
  [--source S] [--licence L]

An int8 QOperator model with int8 weights is written in both weight storages: model.onnx as given
(s8) and model.u8.onnx (re-encoded losslessly as uint8 + 128, exact on x86-64 CPUs without VNNI);
the classifier picks one at init from the CPU flags, or as MODEL_WEIGHTS=auto|s8|u8 says.`;

const KEEP_S8_GONE = `--keep-s8-weights is gone: the s8 file is always kept now (as model.onnx, next to the
u8 re-encoding model.u8.onnx) and the storage is chosen at init from the CPU flags; MODEL_WEIGHTS=s8
forces the s8 file`;

function triple(text: string, flag: string): [number, number, number] {
  const parts = text.split(',').map(Number);
  if (parts.length !== 3 || parts.some((x) => !Number.isFinite(x)))
    throw new Error(`${flag} takes three numbers: a,b,c`);
  return parts as [number, number, number];
}

function positive(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} takes a positive integer, got "${text}"`);
  return n;
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      labels: { type: 'string' },
      out: { type: 'string' },
      name: { type: 'string' },
      version: { type: 'string', default: '1' },
      resize: { type: 'string', default: String(IMAGENET_DEFAULTS.resizeShorter) },
      crop: { type: 'string', default: String(IMAGENET_DEFAULTS.cropSize) },
      mean: { type: 'string', default: IMAGENET_DEFAULTS.mean.join(',') },
      std: { type: 'string', default: IMAGENET_DEFAULTS.std.join(',') },
      'channel-order': { type: 'string', default: IMAGENET_DEFAULTS.channelOrder },
      output: { type: 'string', default: IMAGENET_DEFAULTS.output },
      source: { type: 'string' },
      licence: { type: 'string', default: 'see source' },
      'keep-s8-weights': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void console.log(usage);
  const modelPath = positionals[0];
  if (!modelPath || positionals.length !== 1 || !values.labels || !values.out) throw new Error(usage);

  if (values['keep-s8-weights']) throw new Error(KEEP_S8_GONE);

  const model: Uint8Array = await readFile(modelPath);
  const graph = decodeModel(model);
  const reencoded = reencodeS8WeightsAsU8(graph);
  const storages: WeightStorages | undefined =
    reencoded > 0 ? { model: 's8', others: { u8: encodeModel(graph) } } : undefined;
  const labels: unknown = JSON.parse(await readFile(values.labels, 'utf8'));
  const session = await ort.InferenceSession.create(model);
  const input = session.inputMetadata[0];
  await session.release();
  if (!input?.isTensor) throw new Error(`${modelPath}: the first input is not a tensor`);
  const crop = positive(values.crop, '--crop');
  const [n, c, h, w] = input.shape.map((d) => (typeof d === 'number' ? d : -1));
  if (input.shape.length !== 4 || c !== 3 || (h !== -1 && h !== crop) || (w !== -1 && w !== crop))
    throw new Error(
      `${modelPath}: input "${input.name}" has shape [${input.shape.join(',')}], expected [N,3,${crop},${crop}]`,
    );

  const channelOrder = values['channel-order'];
  const output = values.output;
  if (channelOrder !== 'RGB' && channelOrder !== 'BGR') throw new Error('--channel-order takes RGB or BGR');
  if (output !== 'logits' && output !== 'probabilities')
    throw new Error('--output takes logits or probabilities');

  const meta: Omit<ModelMeta, 'sha256'> = {
    name: values.name ?? basename(modelPath, '.onnx'),
    version: values.version,
    inputName: input.name,
    inputShape: [n ?? -1, 3, crop, crop],
    resizeShorter: positive(values.resize, '--resize'),
    cropSize: crop,
    mean: triple(values.mean, '--mean'),
    std: triple(values.std, '--std'),
    channelOrder,
    output,
    quantization:
      reencoded > 0
        ? `${describeQuantization(model)}, s8 weights (model.onnx) and their u8 re-encoding (model.u8.onnx)`
        : describeQuantization(model),
    source: values.source ?? resolve(modelPath),
    licence: values.licence,
  };
  const outDir = resolve(values.out);
  const folder = await writeModelFolder(outDir, model, labels as string[], meta, storages);
  for (const weights of storages ? (['s8', 'u8'] as const) : (['auto'] as const)) {
    const classifier = await createClassifier(outDir, { threads: 1, weights });
    await classifier.release();
  }
  console.log(`model folder written to ${outDir}`);
  console.log(`  ${meta.name} v${meta.version}, ${folder.labels.length} labels, input "${meta.inputName}"`);
  console.log(`  quantization: ${JSON.stringify(meta.quantization)}, sha256 ${folder.meta.sha256}`);
  if (storages)
    console.log(
      `  weights: ${JSON.stringify(folder.meta.weights)} (${reencoded} weight tensors re-encoded for u8)`,
    );
}

main(process.argv.slice(2)).catch((err: Error) => {
  console.error(`model:import: ${err.message}`);
  process.exit(1);
});
