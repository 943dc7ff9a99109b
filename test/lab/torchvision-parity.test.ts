/**
 * preprocess() against REAL torchvision output (test/fixtures/torchvision_reference.py, run with
 * Debian's python3-torchvision). Skips, with the reason printed, when /usr/bin/python3 cannot import
 * torchvision; .ci/run installs it so CI runs this.
 *
 * - The 50 photos of ../shared and the generated edge cases that PIL decodes as intended must match
 *   exactly (float rounding only).
 * - The deliberate differences (EXIF orientation applied, alpha over white, 16-bit scaled, CMYK by
 *   profile) must match torchvision run on the image as the project reads it: the same pixels
 *   oriented / composited / converted, saved losslessly. So each differs from PIL only by that step.
 * - Photos above EXACT_MAX_PIXELS (libvips shrink-on-load) stay within about half a level.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  compareWithTorchvision,
  type ParityRow,
  pixelDiff,
  TORCHVISION_SPEC,
  torchvisionMissing,
  torchvisionTensors,
} from '../../lab/torchvision-parity.ts';
import { sharp } from '../../src/classifier/native.ts';
import { EXACT_MAX_PIXELS, preprocess } from '../../src/classifier/preprocess.ts';
import { edgeCases, sharedPhotoFiles } from '../fixtures/edge-cases.ts';
import { skipUnless, skipUnlessShared } from '../helpers/shared.ts';

const missing = skipUnless('the torchvision parity tests', await torchvisionMissing());

/** Float rounding only: a one-level error anywhere would be 1.0. */
const EXACT = 0.01;

/** Edge cases that PIL reads as the project does, so the tensors must be identical. */
const EXACT_CASES = [
  'rgb.png',
  'rgb-q90.jpg',
  'grey.jpg',
  'grey.png',
  'palette.png',
  'rgb16.png',
  'tiny-40x30.png',
  'small-200x150.jpg',
  'icc-p3.jpg',
];
/** Edge cases where the project deliberately reads the file differently from PIL. */
const DELIBERATE = ['alpha.png', 'palette-alpha.png', 'exif-orientation-6.jpg', 'grey16.png', 'cmyk.jpg'];

describe.skipIf(missing)('preprocess() matches torchvision', () => {
  let dir: string;
  let cases: Record<string, Buffer>;
  const path = (name: string) => join(dir, name);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'parity-'));
    cases = await edgeCases();
    for (const [name, bytes] of Object.entries(cases)) await writeFile(path(name), bytes);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const report = (rows: ParityRow[]) =>
    rows.map((r) => `${basename(r.file)} mean ${r.mean.toFixed(3)} max ${r.max.toFixed(2)}`).join('\n');

  it.skipIf(skipUnlessShared('the torchvision parity test on the shared photos'))(
    'is exact on every one of the 50 shared photos (ICC profiles and upsampled ones included)',
    async () => {
      const files = sharedPhotoFiles();
      expect(files).toHaveLength(50);
      const { rows } = await compareWithTorchvision(files);
      const off = rows.filter((r) => r.max > EXACT);
      expect(off, report(off)).toEqual([]);
    },
    120_000,
  );

  it('is exact on greyscale, palette, 16-bit RGB, tiny, small and ICC-profiled inputs', async () => {
    const { rows } = await compareWithTorchvision(EXACT_CASES.map(path));
    const off = rows.filter((r) => r.max > EXACT);
    expect(off, report(off)).toEqual([]);
  }, 60_000);

  it('differs on orientation, alpha, 16-bit grey and CMYK only by that one step', async () => {
    // What the project reads: oriented, composited over white, 8-bit sRGB; saved losslessly.
    const asRead = await Promise.all(
      DELIBERATE.map(async (name) => {
        const file = path(`as-read-${name}.png`);
        await sharp(cases[name] as Buffer, { autoOrient: true, ignoreIcc: true })
          .flatten({ background: '#ffffff' })
          .toColourspace('srgb')
          .png()
          .toFile(file);
        return file;
      }),
    );
    const { tensors } = await torchvisionTensors(asRead);
    const { tensors: pil } = await torchvisionTensors(DELIBERATE.map(path));
    for (const [i, name] of DELIBERATE.entries()) {
      const ours = (await preprocess(cases[name] as Buffer, TORCHVISION_SPEC)).data;
      expect(pixelDiff(ours, tensors[i] as Float32Array).max, name).toBeLessThan(EXACT);
      // ... and the step matters: PIL on the file itself gives something else.
      expect(pixelDiff(ours, pil[i] as Float32Array).mean, name).toBeGreaterThan(5);
    }
  }, 60_000);

  it('stays within half a level above EXACT_MAX_PIXELS (libvips shrink-on-load)', async () => {
    const file = path('large-1800x1350.jpg');
    const { width = 0, height = 0 } = await sharp(await readFile(file)).metadata();
    expect(width * height).toBeGreaterThan(EXACT_MAX_PIXELS);
    const { rows } = await compareWithTorchvision([file]);
    const [row] = rows as [ParityRow];
    expect(row.mean, report(rows)).toBeLessThan(0.6);
    expect(row.max, report(rows)).toBeLessThan(10);
  }, 60_000);
});
