import { readFile } from 'node:fs/promises';
import sharp, { type JpegOptions } from 'sharp';
import { describe, expect, it } from 'vitest';
import { SCAN_LIMIT, turboJpeg } from '../../src/classifier/jpeg-turbo.ts';
import { IMAGENET_DEFAULTS } from '../../src/classifier/model-folder.ts';
import { decodeWindow, openImage, orientedWindow, preprocess } from '../../src/classifier/preprocess.ts';
import { sharedPhotos, skipUnlessShared } from '../helpers/shared.ts';

/** A photo-like RGB image (gradients, edges and noise, so every chroma subsampling matters). */
function pixels(width: number, height: number): Buffer {
  const rgb = Buffer.alloc(width * height * 3);
  let seed = 7;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const o = (y * width + x) * 3;
      rgb[o] = (x * 255) / width + (seed % 17);
      rgb[o + 1] = (x + y) % 64 < 32 ? 220 : 30;
      rgb[o + 2] = (y * 255) / height - (seed % 13);
    }
  return rgb;
}

const jpeg = (width: number, height: number, options: JpegOptions = {}) =>
  sharp(pixels(width, height), { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 85, ...options })
    .toBuffer();

/** What preprocessing gets from libvips for the whole image (as stored: no EXIF orientation applied). */
async function libvipsPixels(bytes: Buffer) {
  const { data, info } = await sharp(bytes, { ignoreIcc: true })
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

const decoder = turboJpeg;
const linuxBuild = process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64');

describe('libjpeg-turbo decoding (jpeg-turbo.ts)', () => {
  it('loads on Linux x64 and arm64, where the runtime layer ships it', () => {
    if (linuxBuild) expect(decoder?.path).toMatch(/jpeg-turbo-linux-(x64|arm64)\/libturbojpeg\.so\.0$/);
    else expect(decoder).toBeNull();
  });

  describe.skipIf(!decoder)('the same pixels as libvips (and so PIL)', () => {
    const cases: [string, () => Promise<Buffer>][] = [
      ['4:2:0, odd size', () => jpeg(333, 251)],
      ['4:4:4', () => jpeg(320, 240, { chromaSubsampling: '4:4:4' })],
      ['progressive', () => jpeg(300, 200, { progressive: true })],
      ['optimised Huffman tables, quality 40', () => jpeg(257, 129, { optimiseCoding: true, quality: 40 })],
      [
        'greyscale',
        () =>
          sharp(pixels(200, 150), { raw: { width: 200, height: 150, channels: 3 } })
            .greyscale()
            .jpeg()
            .toBuffer(),
      ],
    ];
    for (const [name, make] of cases)
      it(name, async () => {
        const bytes = await make();
        const mine = decoder?.decode(bytes, 100_000_000);
        expect(mine).toBeDefined();
        expect(mine).toEqual(await libvipsPixels(bytes));
      });

    it.skipIf(skipUnlessShared('the shared photos'))('every shared photo, byte for byte', async () => {
      const photos = sharedPhotos();
      expect(photos).toHaveLength(50);
      for (const photo of photos) {
        const bytes = await readFile(photo.path);
        const mine = decoder?.decode(bytes, 100_000_000);
        const theirs = await libvipsPixels(bytes);
        expect([mine?.width, mine?.height], photo.file).toEqual([theirs.width, theirs.height]);
        expect(mine && Buffer.compare(mine.data, theirs.data), photo.file).toBe(0);
      }
    });
  });

  describe.skipIf(!decoder)('leaves to libvips what it should not decode', () => {
    it('CMYK', async () => {
      const cmyk = await sharp(pixels(64, 48), { raw: { width: 64, height: 48, channels: 3 } })
        .toColourspace('cmyk')
        .jpeg()
        .toBuffer();
      expect(decoder?.decode(cmyk, 100_000_000)).toBeUndefined();
      const { rgb } = await preprocess(cmyk, IMAGENET_DEFAULTS);
      expect(rgb).toHaveLength(224 * 224 * 3);
    });

    it('a truncated file (a warning is enough) and bytes that are not a JPEG, and decodes the next one', async () => {
      const whole = await jpeg(320, 240);
      const bad = [
        whole.subarray(0, whole.length >> 1),
        Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]),
        new Uint8Array(0),
      ];
      for (const bytes of bad) {
        expect(decoder?.decode(bytes, 100_000_000)).toBeUndefined();
        expect(decoder?.decode(whole, 100_000_000)?.width).toBe(320);
      }
    });

    it('more pixels than the limit, from the header, before decoding', async () => {
      expect(decoder?.decode(await jpeg(320, 240), 320 * 240 - 1)).toBeUndefined();
      expect(decoder?.decode(await jpeg(320, 240), 320 * 240)).toBeDefined();
    });

    it('has the progressive scan limit set', () => {
      expect(SCAN_LIMIT).toBe(500);
    });
  });

  it('preprocess() gives what libvips-decoded pixels give (a lossless PNG of the same pixels)', async () => {
    const bytes = await jpeg(447, 335);
    const decoded = await libvipsPixels(bytes);
    const png = await sharp(decoded.data, { raw: { width: 447, height: 335, channels: 3 } })
      .png()
      .toBuffer();
    const [fromJpeg, fromPng] = await Promise.all([
      preprocess(bytes, IMAGENET_DEFAULTS),
      preprocess(png, IMAGENET_DEFAULTS),
    ]);
    expect(Buffer.compare(fromJpeg.rgb, fromPng.rgb)).toBe(0);
    expect(Buffer.compare(new Uint8Array(fromJpeg.data.buffer), new Uint8Array(fromPng.data.buffer))).toBe(0);
  });
});

describe('orientedWindow: what libvips gives after autoOrient and extract', () => {
  for (let orientation = 1; orientation <= 8; orientation++)
    it(`EXIF orientation ${orientation}`, async () => {
      const bytes = await sharp(pixels(61, 37), { raw: { width: 61, height: 37, channels: 3 } })
        .withMetadata({ orientation })
        .jpeg({ quality: 90 })
        .toBuffer();
      const stored = await libvipsPixels(bytes);
      const [width, height] = orientation >= 5 ? [37, 61] : [61, 37];
      for (const window of [
        { left: 0, top: 0, width, height },
        { left: 3, top: 5, width: width - 7, height: height - 11 },
      ])
        expect(orientedWindow(stored, orientation, window)).toEqual(
          new Uint8Array(await decodeWindow(openImage(bytes, false), window)),
        );
    });
});
