/**
 * The model folder contract: `model.onnx`, `labels.json` (class names, index-aligned with the
 * outputs) and `model.json` (metadata and preprocessing). In Lambda the folder comes from the model
 * layer under /opt/models/<name>; locally it is any path (env MODEL_DIR).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from './errors.ts';
import { WEIGHT_STORAGES, type WeightStorage } from './storages.ts';
import { fitsLabels, VOCABULARY_FILE, type Vocabulary, validateVocabulary } from './vocabulary.ts';

export const MODEL_FILE = 'model.onnx';
export const LABELS_FILE = 'labels.json';
export const META_FILE = 'model.json';

export interface ModelMeta {
  name: string;
  version: string;
  /** Name of the image input of the graph. */
  inputName: string;
  /** Name of the scores output; the graph's first output when absent. */
  outputName?: string;
  /** [N, 3, H, W]; N may be -1 (dynamic batch). H and W equal cropSize. */
  inputShape: [number, number, number, number];
  /** The shorter side is resized to this before the centre crop (torchvision: 256). */
  resizeShorter: number;
  /** Side of the square centre crop (torchvision: 224). */
  cropSize: number;
  mean: [number, number, number];
  std: [number, number, number];
  channelOrder: 'RGB' | 'BGR';
  /** What the output holds: raw logits (softmax applied here) or probabilities. */
  output: 'logits' | 'probabilities';
  /** 'none' for fp32, or a description such as 'int8 static QDQ, per-channel weights'. */
  quantization: string | Record<string, unknown>;
  /** sha256 of model.onnx, hex. */
  sha256: string;
  /** Where the weights came from (file, URL, or 'synthetic'). */
  source: string;
  licence: string;
  /** False for models whose labels mean nothing (e.g. the synthetic random-weight ResNet-18). */
  labelsMeaningful?: boolean;
  /**
   * int8 models in two weight storages with the same quantized values: file names in the folder,
   * e.g. {"s8": "model.onnx", "u8": "model.u8.onnx"} (u8 = uint8 with zero point 128). The classifier
   * loads one at init (see cpu.ts, MODEL_WEIGHTS). Absent: model.onnx is the only model file.
   */
  weights?: Partial<Record<WeightStorage, string>>;
  /** sha256 of each weights file other than model.onnx (that one is `sha256`), hex. */
  weightsSha256?: Partial<Record<WeightStorage, string>>;
  /**
   * The image embedding every inference also gives (models/embedding.ts): the graph output holding
   * the globally pooled features before the classifier layer, float [N, dimension]. Absent: the
   * folder gives no embeddings (built before, or imported with --without-embedding), so no similar
   * images or near-duplicates.
   */
  embedding?: ModelEmbedding;
  /** Anything else a tool records (calibration set, fp32 agreement, build date...). */
  [extra: string]: unknown;
}

export interface ModelEmbedding {
  /** Name of the graph output (in every weight storage of the folder). */
  output: string;
  /** Its length per image (ResNet-18: 512, MobileNetV2: 1280). */
  dimension: number;
  /** The pooling node it is the value of. */
  pooling?: string;
}

export interface ModelFolder {
  dir: string;
  /** model.onnx: the model file when model.json has no "weights" map. */
  modelPath: string;
  /** Absolute path of each weight storage that model.json's "weights" names; null without the map. */
  weightFiles: Partial<Record<WeightStorage, string>> | null;
  meta: ModelMeta;
  labels: string[];
  /** vocabulary.json, present in folders of ImageNet-1k models (src/classifier/vocabulary.ts). */
  vocabulary?: Vocabulary;
}

/** ImageNet preprocessing defaults (torchvision ResNet/MobileNet recipe). */
export const IMAGENET_DEFAULTS = {
  resizeShorter: 256,
  cropSize: 224,
  mean: [0.485, 0.456, 0.406] as [number, number, number],
  std: [0.229, 0.224, 0.225] as [number, number, number],
  channelOrder: 'RGB' as const,
  output: 'logits' as const,
};

function fail(dir: string, what: string): never {
  throw new ConfigError(`model folder ${dir}: ${what}`);
}

const isPositiveInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;
const isTriple = (v: unknown): v is [number, number, number] =>
  Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && Number.isFinite(x));

/** Checks every field of model.json; throws a ConfigError naming the first bad field. */
export function validateMeta(raw: unknown, dir: string): ModelMeta {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    fail(dir, `${META_FILE} is not a JSON object`);
  const m = raw as Record<string, unknown>;
  const field = (name: string) => `${META_FILE} field "${name}"`;
  for (const name of ['name', 'version', 'inputName', 'sha256', 'source', 'licence']) {
    if (typeof m[name] !== 'string' || (m[name] as string).length === 0)
      fail(dir, `${field(name)} must be a non-empty string`);
  }
  if (m.outputName !== undefined && typeof m.outputName !== 'string')
    fail(dir, `${field('outputName')} must be a string`);
  if (!/^[0-9a-f]{64}$/.test(m.sha256 as string))
    fail(dir, `${field('sha256')} must be 64 lowercase hex digits`);
  for (const name of ['resizeShorter', 'cropSize']) {
    if (!isPositiveInt(m[name])) fail(dir, `${field(name)} must be a positive integer`);
  }
  const crop = m.cropSize as number;
  if ((m.resizeShorter as number) < crop) fail(dir, `${field('resizeShorter')} must be >= cropSize`);
  const shape = m.inputShape;
  if (
    !Array.isArray(shape) ||
    shape.length !== 4 ||
    !(shape[0] === -1 || isPositiveInt(shape[0])) ||
    shape[1] !== 3 ||
    shape[2] !== crop ||
    shape[3] !== crop
  ) {
    fail(dir, `${field('inputShape')} must be [N, 3, cropSize, cropSize] with N a positive integer or -1`);
  }
  if (!isTriple(m.mean)) fail(dir, `${field('mean')} must be three numbers`);
  if (!isTriple(m.std) || (m.std as number[]).some((s) => s <= 0))
    fail(dir, `${field('std')} must be three positive numbers`);
  if (m.channelOrder !== 'RGB' && m.channelOrder !== 'BGR')
    fail(dir, `${field('channelOrder')} must be "RGB" or "BGR"`);
  if (m.output !== 'logits' && m.output !== 'probabilities')
    fail(dir, `${field('output')} must be "logits" or "probabilities"`);
  if (typeof m.quantization !== 'string' && (typeof m.quantization !== 'object' || m.quantization === null))
    fail(dir, `${field('quantization')} must be a string or an object`);
  if (m.labelsMeaningful !== undefined && typeof m.labelsMeaningful !== 'boolean')
    fail(dir, `${field('labelsMeaningful')} must be a boolean`);
  if (m.embedding !== undefined) {
    const e = m.embedding as Record<string, unknown> | null;
    if (typeof e !== 'object' || e === null || Array.isArray(e))
      fail(dir, `${field('embedding')} must be an object {output, dimension}`);
    if (typeof e.output !== 'string' || e.output.length === 0)
      fail(dir, `${field('embedding')}.output must be a non-empty string`);
    if (!isPositiveInt(e.dimension)) fail(dir, `${field('embedding')}.dimension must be a positive integer`);
    if (e.pooling !== undefined && typeof e.pooling !== 'string')
      fail(dir, `${field('embedding')}.pooling must be a string`);
    if (e.output === (m.outputName ?? undefined))
      fail(dir, `${field('embedding')}.output must not be the scores output`);
  }
  if (m.weights !== undefined) validateWeightsMap(m.weights, dir, field('weights'), isFileName);
  if (m.weightsSha256 !== undefined) {
    if (m.weights === undefined) fail(dir, `${field('weightsSha256')} needs a "weights" map`);
    validateWeightsMap(m.weightsSha256, dir, field('weightsSha256'), (v) => /^[0-9a-f]{64}$/.test(v));
    for (const key of Object.keys(m.weightsSha256 as object))
      if ((m.weights as Record<string, unknown>)[key] === undefined)
        fail(dir, `${field('weightsSha256')} names "${key}", which "weights" does not`);
  }
  return m as unknown as ModelMeta;
}

/** A plain file name inside the folder: no directories, not "." or "..". */
const isFileName = (v: string) => v !== '.' && v !== '..' && !/[/\\]/.test(v);

function validateWeightsMap(raw: unknown, dir: string, what: string, valid: (v: string) => boolean): void {
  const storages = WEIGHT_STORAGES.join(', ');
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    fail(dir, `${what} must be an object with keys ${storages}`);
  const entries = Object.entries(raw);
  if (entries.length === 0) fail(dir, `${what} must name at least one of ${storages}`);
  for (const [key, value] of entries) {
    if (!(WEIGHT_STORAGES as readonly string[]).includes(key))
      fail(dir, `${what} has key "${key}"; the keys are ${storages}`);
    if (typeof value !== 'string' || value.length === 0 || !valid(value))
      fail(dir, `${what}.${key} is ${JSON.stringify(value)}, not a valid value`);
  }
}

export function validateLabels(raw: unknown, dir: string): string[] {
  if (!Array.isArray(raw) || raw.length === 0 || !raw.every((l) => typeof l === 'string' && l.length > 0))
    fail(dir, `${LABELS_FILE} must be a non-empty JSON array of non-empty strings`);
  return raw as string[];
}

async function readJson(dir: string, file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(join(dir, file), 'utf8');
  } catch (err) {
    fail(dir, `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    fail(dir, `${file} is not valid JSON (${(err as Error).message})`);
  }
}

/**
 * A path of the machine inside text: POSIX absolute or climbing out with "../" (not after a word
 * character: "Gemm/MatMul" is no path), or Windows absolute.
 */
const ABSOLUTE_PATH =
  /(?<![\w.~:/-])(?:\/|(?:\.\.\/)+)(?:[^\s/"'()]+\/)*([^\s/"'()]+)|\b[A-Za-z]:\\(?:[^\s\\"'()]+\\)*([^\s\\"'()]+)/g;

/**
 * The metadata without the paths of the machine that built it: every absolute path (or one that
 * climbs out with "../") in a string value becomes its last segment ("/tmp/probe/shared/photos" -> "photos"), in nested objects and
 * lists too. Model folders record names only (models/build.ts, models/import.ts); this also cleans
 * what folders built before say in /health, POST /classify and the logs.
 */
export function withoutBuildPaths<T>(value: T): T {
  if (typeof value === 'string')
    return value.replace(ABSOLUTE_PATH, (_, posix?: string, windows?: string) => posix ?? windows ?? '') as T;
  if (Array.isArray(value)) return value.map(withoutBuildPaths) as T;
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutBuildPaths(v)])) as T;
  return value;
}

/**
 * Reads and validates a model folder. Does not hash model.onnx: that costs tens of milliseconds per
 * cold start (see `npm run bench`), and the layer is immutable; the tools that write and import
 * folders verify the hash instead (`verifyModelHash`).
 */
export async function loadModelFolder(dir: string): Promise<ModelFolder> {
  const modelPath = join(dir, MODEL_FILE);
  const s = await stat(modelPath).catch(() => fail(dir, `missing ${MODEL_FILE}`));
  if (!s.isFile() || s.size === 0) fail(dir, `${MODEL_FILE} is empty or not a file`);
  const meta = withoutBuildPaths(validateMeta(await readJson(dir, META_FILE), dir));
  const labels = validateLabels(await readJson(dir, LABELS_FILE), dir);
  let weightFiles: ModelFolder['weightFiles'] = null;
  if (meta.weights) {
    weightFiles = {};
    for (const [storage, file] of Object.entries(meta.weights) as [WeightStorage, string][]) {
      const path = join(dir, file);
      const ws = await stat(path).catch(() =>
        fail(dir, `${META_FILE} field "weights": the ${storage} file ${file} is missing`),
      );
      if (!ws.isFile() || ws.size === 0)
        fail(dir, `${META_FILE} field "weights": the ${storage} file ${file} is empty or not a file`);
      weightFiles[storage] = path;
    }
  }
  const vocabulary = await loadVocabulary(dir, labels);
  return { dir, modelPath, weightFiles, meta, labels, ...(vocabulary ? { vocabulary } : {}) };
}

/** The folder's vocabulary.json if it has one; it must fit the folder's labels. */
async function loadVocabulary(dir: string, labels: readonly string[]): Promise<Vocabulary | undefined> {
  const present = await stat(join(dir, VOCABULARY_FILE)).then(
    () => true,
    () => false,
  );
  if (!present) return undefined;
  const vocabulary = validateVocabulary(
    await readJson(dir, VOCABULARY_FILE),
    `model folder ${dir}: ${VOCABULARY_FILE}`,
    labels.length,
  );
  if (!fitsLabels(vocabulary, labels))
    fail(
      dir,
      `${VOCABULARY_FILE} was made for other labels than ${LABELS_FILE} (remove it, or rebuild the folder)`,
    );
  return vocabulary;
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** Checks model.onnx against `sha256`, and each other weights file against `weightsSha256` when recorded. */
export async function verifyModelHash(folder: ModelFolder): Promise<void> {
  const actual = await sha256File(folder.modelPath);
  if (actual !== folder.meta.sha256)
    fail(folder.dir, `sha256 of ${MODEL_FILE} is ${actual}, but ${META_FILE} records ${folder.meta.sha256}`);
  for (const [storage, expected] of Object.entries(folder.meta.weightsSha256 ?? {})) {
    const file = folder.meta.weights?.[storage as WeightStorage] as string;
    const got = await sha256File(join(folder.dir, file));
    if (got !== expected)
      fail(
        folder.dir,
        `sha256 of ${file} (${storage}) is ${got}, but ${META_FILE} "weightsSha256" records ${expected}`,
      );
  }
}

/** The file name of a weight storage written next to model.onnx: model.u8.onnx, model.s8.onnx. */
export const storageFile = (storage: WeightStorage) => `model.${storage}.onnx`;

/** Both storages of an int8 model: which one model.onnx holds, and the other's bytes. */
export interface WeightStorages {
  /** The storage of the bytes written as model.onnx. */
  model: WeightStorage;
  /** The other storages' bytes, written as model.<storage>.onnx. */
  others: Partial<Record<WeightStorage, Uint8Array>>;
}

const sha256Of = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * Writes a complete folder: copies the model bytes, records their sha256, validates the result.
 * With `storages`, also writes the other weight storages and records the "weights" map and their
 * sha256 in model.json.
 */
export async function writeModelFolder(
  dir: string,
  model: Uint8Array,
  labels: string[],
  meta: Omit<ModelMeta, 'sha256'>,
  storages?: WeightStorages,
): Promise<ModelFolder> {
  const sha256 = sha256Of(model);
  const full = withoutBuildPaths({ ...meta, sha256 }) as ModelMeta;
  const others = Object.entries(storages?.others ?? {}) as [WeightStorage, Uint8Array][];
  if (storages) {
    if (others.some(([s]) => s === storages.model))
      fail(dir, `${storages.model} is both model.onnx and another storage`);
    const weights: Partial<Record<WeightStorage, string>> = { [storages.model]: MODEL_FILE };
    const hashes: Partial<Record<WeightStorage, string>> = {};
    for (const [storage, bytes] of others) {
      weights[storage] = storageFile(storage);
      hashes[storage] = sha256Of(bytes);
    }
    full.weights = weights;
    if (others.length > 0) full.weightsSha256 = hashes;
  }
  validateMeta(full, dir);
  validateLabels(labels, dir);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, MODEL_FILE), model);
  for (const [storage, bytes] of others) await writeFile(join(dir, storageFile(storage)), bytes);
  await writeFile(join(dir, LABELS_FILE), `${JSON.stringify(labels, null, 1)}\n`);
  await writeFile(join(dir, META_FILE), `${JSON.stringify(full, null, 2)}\n`);
  const folder = await loadModelFolder(dir);
  await verifyModelHash(folder);
  return folder;
}
