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
 *
 * `importModel()` does the work and is what the benchmarks, check:runtimes and the tests call in
 * process; the CLI at the bottom only parses flags into it and prints the result.
 */
import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createClassifier } from '../src/classifier/classifier.ts';
import {
  IMAGENET_DEFAULTS,
  type ModelMeta,
  type WeightStorages,
  writeModelFolder,
} from '../src/classifier/model-folder.ts';
import { ort } from '../src/classifier/native.ts';
import { embeddingDimension, withEmbedding } from './embedding.ts';
import { decodeModel, describeQuantization, encodeModel, reencodeS8WeightsAsU8 } from './onnx.ts';
import { addVocabulary } from './vocabulary/attach.ts';

const usage = `usage: npm run model:import -- <model.onnx> --labels <labels.json> --out <dir>
  [--name N] [--version V] [--resize 256] [--crop 224] [--mean 0.485,0.456,0.406]
  [--std 0.229,0.224,0.225] [--channel-order RGB|BGR] [--output logits|probabilities]
  [--source S] [--licence L] [--without-embedding]

An int8 QOperator model with int8 weights is written in both weight storages: model.onnx as given
(s8) and model.u8.onnx (re-encoded losslessly as uint8 + 128, exact on x86-64 CPUs without VNNI);
the classifier picks one at init from the CPU flags, or as MODEL_WEIGHTS (auto, s8 or u8) says.

Every folder also gets the image embedding as a second output (the globally pooled features before
the classifier layer; model.json "embedding"): similar images and near-duplicates need it. A model
without global pooling right before its classifier layer is refused; --without-embedding imports it
without embeddings.`;

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

/** What importModel needs; the CLI flags map onto it one to one. */
export interface ImportOptions {
  /** The ONNX model file (int8 or fp32). */
  model: string;
  /** The labels JSON (an array of class names). */
  labels: string;
  /** The model folder to write. */
  out: string;
  name?: string;
  version?: string;
  resize?: number;
  crop?: number;
  mean?: [number, number, number];
  std?: [number, number, number];
  channelOrder?: 'RGB' | 'BGR';
  output?: 'logits' | 'probabilities';
  source?: string;
  licence?: string;
  /** Import a model without the embedding output (one with no global pooling before its classifier). */
  withoutEmbedding?: boolean;
}

export interface ImportResult {
  outDir: string;
  meta: ModelMeta;
  labels: number;
  /** int8 weight tensors re-encoded for the u8 storage (0: one storage only). */
  reencoded: number;
  /** The vocabulary added ("imagenet-1k@1"), or null: the labels are not ImageNet-1k's. */
  vocabulary: string | null;
}

/**
 * Writes a model folder from an ONNX classifier, then loads it with the classifier (each weight
 * storage) to prove it runs.
 */
export async function importModel(options: ImportOptions): Promise<ImportResult> {
  const modelPath = options.model;
  const given: Uint8Array = await readFile(modelPath);
  const graph = decodeModel(given);
  const embedding = withEmbedding(graph, options.withoutEmbedding ?? false, basename(modelPath));
  const model = embedding ? encodeModel(graph) : given;
  const reencoded = reencodeS8WeightsAsU8(graph);
  const storages: WeightStorages | undefined =
    reencoded > 0 ? { model: 's8', others: { u8: encodeModel(graph) } } : undefined;
  const labels: unknown = JSON.parse(await readFile(options.labels, 'utf8'));
  const session = await ort.InferenceSession.create(model);
  const input = session.inputMetadata[0];
  await session.release();
  if (!input?.isTensor) throw new Error(`${modelPath}: the first input is not a tensor`);
  const crop = options.crop ?? IMAGENET_DEFAULTS.cropSize;
  const [n, c, h, w] = input.shape.map((d) => (typeof d === 'number' ? d : -1));
  if (input.shape.length !== 4 || c !== 3 || (h !== -1 && h !== crop) || (w !== -1 && w !== crop))
    throw new Error(
      `${modelPath}: input "${input.name}" has shape [${input.shape.join(',')}], expected [N,3,${crop},${crop}]`,
    );

  const meta: Omit<ModelMeta, 'sha256'> = {
    name: options.name ?? basename(modelPath, '.onnx'),
    version: options.version ?? '1',
    inputName: input.name,
    inputShape: [n ?? -1, 3, crop, crop],
    resizeShorter: options.resize ?? IMAGENET_DEFAULTS.resizeShorter,
    cropSize: crop,
    mean: options.mean ?? IMAGENET_DEFAULTS.mean,
    std: options.std ?? IMAGENET_DEFAULTS.std,
    channelOrder: options.channelOrder ?? IMAGENET_DEFAULTS.channelOrder,
    output: options.output ?? IMAGENET_DEFAULTS.output,
    quantization:
      reencoded > 0
        ? `${describeQuantization(model)}, s8 weights (model.onnx) and their u8 re-encoding (model.u8.onnx)`
        : describeQuantization(model),
    source: options.source ?? basename(modelPath),
    licence: options.licence ?? 'see source',
    ...(embedding
      ? { embedding: { ...embedding, dimension: await embeddingDimension(model, embedding.output, crop) } }
      : {}),
  };
  const outDir = resolve(options.out);
  const folder = await writeModelFolder(outDir, model, labels as string[], meta, storages);
  const vocabulary = await addVocabulary(outDir, folder.labels);
  for (const weights of storages ? (['s8', 'u8'] as const) : (['auto'] as const)) {
    const classifier = await createClassifier(outDir, { threads: 1, weights, allowInexact: true });
    await classifier.release();
  }
  return { outDir, meta: folder.meta, labels: folder.labels.length, reencoded, vocabulary };
}

// ---- CLI --------------------------------------------------------------------------------------

/** The CLI's flags as ImportOptions; undefined for --help. Throws the usage on missing arguments. */
export function parseImportArgs(argv: string[]): ImportOptions | undefined {
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
      'without-embedding': { type: 'boolean', default: false },
      'keep-s8-weights': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return undefined;
  const modelPath = positionals[0];
  if (!modelPath || positionals.length !== 1 || !values.labels || !values.out) throw new Error(usage);
  if (values['keep-s8-weights']) throw new Error(KEEP_S8_GONE);
  const channelOrder = values['channel-order'];
  const output = values.output;
  if (channelOrder !== 'RGB' && channelOrder !== 'BGR') throw new Error('--channel-order takes RGB or BGR');
  if (output !== 'logits' && output !== 'probabilities')
    throw new Error('--output takes logits or probabilities');
  return {
    model: modelPath,
    labels: values.labels,
    out: values.out,
    ...(values.name !== undefined ? { name: values.name } : {}),
    version: values.version,
    resize: positive(values.resize, '--resize'),
    crop: positive(values.crop, '--crop'),
    mean: triple(values.mean, '--mean'),
    std: triple(values.std, '--std'),
    channelOrder,
    output,
    ...(values.source !== undefined ? { source: values.source } : {}),
    licence: values.licence,
    ...(values['without-embedding'] ? { withoutEmbedding: true } : {}),
  };
}

async function main(argv: string[]): Promise<void> {
  const options = parseImportArgs(argv);
  if (!options) return void console.log(usage);
  const { outDir, meta, labels, reencoded, vocabulary } = await importModel(options);
  console.log(`model folder written to ${outDir}`);
  console.log(`  ${meta.name} v${meta.version}, ${labels} labels, input "${meta.inputName}"`);
  console.log(`  quantization: ${JSON.stringify(meta.quantization)}, sha256 ${meta.sha256}`);
  if (meta.weights)
    console.log(`  weights: ${JSON.stringify(meta.weights)} (${reencoded} weight tensors re-encoded for u8)`);
  console.log(`  vocabulary: ${vocabulary ?? 'none (the labels are not the ImageNet-1k list)'}`);
  console.log(
    meta.embedding
      ? `  embedding: output "${meta.embedding.output}", ${meta.embedding.dimension} numbers (pooled at ${meta.embedding.pooling})`
      : '  embedding: none (--without-embedding): no similar images or near-duplicates',
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  main(process.argv.slice(2)).catch((err: Error) => {
    console.error(`model:import: ${err.message}`);
    process.exit(1);
  });
