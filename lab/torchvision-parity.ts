/**
 * npm run lab:parity [-- IMAGE...]
 *
 * Compares the project's preprocess() with torchvision's eval transform (test/fixtures/
 * torchvision_reference.py, run by /usr/bin/python3 with Debian's python3-torchvision) image by
 * image, in pixel levels: |diff| x 255 x std of the channel, so 1.0 is one 8-bit level. With no
 * arguments: the 50 photos of ../shared plus the generated edge cases (test/fixtures/edge-cases.ts).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../paths.ts';
import { type PreprocessSpec, preprocess } from '../src/classifier/preprocess.ts';

const run = promisify(execFile);

export const PYTHON = '/usr/bin/python3';
export const REFERENCE_SCRIPT = join(ROOT, 'test/fixtures/torchvision_reference.py');

/** torchvision's ImageNet eval transform, as the project's model.json would describe it. */
export const TORCHVISION_SPEC: PreprocessSpec = {
  resizeShorter: 256,
  cropSize: 224,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  channelOrder: 'RGB',
};

/** False when /usr/bin/python3 can import torchvision; otherwise why the reference cannot run. */
export async function torchvisionMissing(): Promise<string | false> {
  if (!existsSync(PYTHON)) return `${PYTHON} is absent (install Debian python3-torchvision)`;
  try {
    await run(PYTHON, ['-c', 'import torchvision, PIL'], { timeout: 60_000 });
    return false;
  } catch (err) {
    return `${PYTHON} cannot import torchvision (install Debian python3-torchvision): ${(err as Error).message.split('\n')[0]}`;
  }
}

/** torchvision's tensors for the files, [3 x 224 x 224] each, from the Python reference. */
export async function torchvisionTensors(
  files: string[],
): Promise<{ tensors: Float32Array[]; versions: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'torchvision-'));
  try {
    const out = join(dir, 'tensors.f32');
    const { stdout } = await run(PYTHON, [REFERENCE_SCRIPT, out, ...files], {
      timeout: 300_000,
      maxBuffer: 1 << 20,
    });
    const bytes = await readFile(out);
    const size = 3 * TORCHVISION_SPEC.cropSize * TORCHVISION_SPEC.cropSize;
    const all = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    if (all.length !== size * files.length)
      throw new Error(`reference wrote ${all.length} floats, expected ${size * files.length}`);
    const tensors = files.map((_, i) => all.slice(i * size, (i + 1) * size));
    return { tensors, versions: stdout.trim() };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface PixelDiff {
  /** Mean |diff| over all values, in 8-bit pixel levels. */
  mean: number;
  /** Largest |diff|, in pixel levels. */
  max: number;
}

/** |a - b| of two normalised tensors in 8-bit pixel levels (undoing Normalize's 1/(255 std)). */
export function pixelDiff(
  a: Float32Array,
  b: Float32Array,
  spec: PreprocessSpec = TORCHVISION_SPEC,
): PixelDiff {
  if (a.length !== b.length) throw new Error(`tensor sizes differ: ${a.length} vs ${b.length}`);
  const plane = a.length / 3;
  let sum = 0;
  let max = 0;
  for (let c = 0; c < 3; c++) {
    const levels = 255 * (spec.std[c] as number);
    for (let i = c * plane; i < (c + 1) * plane; i++) {
      const d = Math.abs((a[i] as number) - (b[i] as number)) * levels;
      sum += d;
      if (d > max) max = d;
    }
  }
  return { mean: sum / a.length, max };
}

export interface ParityRow extends PixelDiff {
  file: string;
}

/** preprocess() against torchvision for each file. */
export async function compareWithTorchvision(
  files: string[],
): Promise<{ rows: ParityRow[]; versions: string }> {
  const { tensors, versions } = await torchvisionTensors(files);
  const rows: ParityRow[] = [];
  for (const [i, file] of files.entries()) {
    const ours = (await preprocess(await readFile(file), TORCHVISION_SPEC)).data;
    rows.push({ file, ...pixelDiff(ours, tensors[i] as Float32Array) });
  }
  return { rows, versions };
}

async function main(): Promise<void> {
  const missing = await torchvisionMissing();
  if (missing) throw new Error(missing);
  let files = process.argv.slice(2);
  let cleanup: (() => Promise<void>) | undefined;
  if (files.length === 0) {
    const { sharedPhotoFiles, writeEdgeCases } = await import('../test/fixtures/edge-cases.ts');
    const edge = await writeEdgeCases();
    cleanup = edge.cleanup;
    files = [...sharedPhotoFiles(), ...edge.files];
  }
  try {
    const { rows, versions } = await compareWithTorchvision(files);
    console.log(versions);
    console.log('| image | mean abs diff (levels) | max abs diff (levels) |');
    console.log('| --- | ---: | ---: |');
    for (const r of rows) console.log(`| ${basename(r.file)} | ${r.mean.toFixed(3)} | ${r.max.toFixed(3)} |`);
  } finally {
    await cleanup?.();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) await main();
