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
  /** Anything else a tool records (calibration set, fp32 agreement, build date...). */
  [extra: string]: unknown;
}

export interface ModelFolder {
  dir: string;
  modelPath: string;
  meta: ModelMeta;
  labels: string[];
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
  return m as unknown as ModelMeta;
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
 * Reads and validates a model folder. Does not hash model.onnx: that costs tens of milliseconds per
 * cold start (see `npm run bench`), and the layer is immutable; the tools that write and import
 * folders verify the hash instead (`verifyModelHash`).
 */
export async function loadModelFolder(dir: string): Promise<ModelFolder> {
  const modelPath = join(dir, MODEL_FILE);
  const s = await stat(modelPath).catch(() => fail(dir, `missing ${MODEL_FILE}`));
  if (!s.isFile() || s.size === 0) fail(dir, `${MODEL_FILE} is empty or not a file`);
  const meta = validateMeta(await readJson(dir, META_FILE), dir);
  const labels = validateLabels(await readJson(dir, LABELS_FILE), dir);
  return { dir, modelPath, meta, labels };
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

export async function verifyModelHash(folder: ModelFolder): Promise<void> {
  const actual = await sha256File(folder.modelPath);
  if (actual !== folder.meta.sha256)
    fail(folder.dir, `sha256 of ${MODEL_FILE} is ${actual}, but ${META_FILE} records ${folder.meta.sha256}`);
}

/** Writes a complete folder: copies the model bytes, records their sha256, validates the result. */
export async function writeModelFolder(
  dir: string,
  model: Uint8Array,
  labels: string[],
  meta: Omit<ModelMeta, 'sha256'>,
): Promise<ModelFolder> {
  const sha256 = createHash('sha256').update(model).digest('hex');
  const full = { ...meta, sha256 };
  validateMeta(full, dir);
  validateLabels(labels, dir);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, MODEL_FILE), model);
  await writeFile(join(dir, LABELS_FILE), `${JSON.stringify(labels, null, 1)}\n`);
  await writeFile(join(dir, META_FILE), `${JSON.stringify(full, null, 2)}\n`);
  const folder = await loadModelFolder(dir);
  await verifyModelHash(folder);
  return folder;
}
