import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { IMAGENET_DEFAULTS } from '../../src/classifier/model-folder.ts';
import {
  EXACT_MAX_PIXELS,
  type PreprocessSpec,
  preprocess,
  resizedSize,
  sniffFormat,
} from '../../src/classifier/preprocess.ts';
import { WARM_UP_IMAGE, WARM_UP_JPEG } from '../../src/classifier/warm-up-image.ts';

const mean: [number, number, number] = [0.485, 0.456, 0.406];
const std: [number, number, number] = [0.229, 0.224, 0.225];

/** A lossless PNG from interleaved RGB pixels. */
function png(width: number, height: number, rgb: number[]): Promise<Buffer> {
  return sharp(Buffer.from(rgb), { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

/** What torchvision's ToTensor + Normalize give for one pixel value of channel c. */
const expected = (value: number, c: number) => (value / 255 - (mean[c] as number)) / (std[c] as number);

describe('preprocess: pixel-exact tensor', () => {
  // 4x4 image with distinct values per pixel and channel, so any swap or transpose shows.
  const width = 4;
  const rgb = Array.from({ length: 16 * 3 }, (_, i) => (i * 37 + 11) % 256);
  const spec: PreprocessSpec = { resizeShorter: 4, cropSize: 4, mean, std, channelOrder: 'RGB' };

  it('lays out RGB planes (NCHW) with (x/255 - mean)/std', async () => {
    const { data } = await preprocess(await png(width, 4, rgb), spec);
    expect(data.length).toBe(3 * 16);
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < 4; y++)
        for (let x = 0; x < 4; x++) {
          const value = rgb[(y * width + x) * 3 + c] as number;
          expect(Math.abs((data[c * 16 + y * 4 + x] as number) - expected(value, c))).toBeLessThan(1e-5);
        }
  });

  it('hands over the crop as interleaved RGB bytes too, the pixels the tensor is computed from', async () => {
    const image = await png(width, 4, rgb);
    expect([...(await preprocess(image, spec)).rgb]).toEqual(rgb);
    expect([...(await preprocess(image, { ...spec, channelOrder: 'BGR' })).rgb]).toEqual(rgb);
  });

  it('puts blue first for BGR models', async () => {
    const { data } = await preprocess(await png(width, 4, rgb), { ...spec, channelOrder: 'BGR' });
    expect(Math.abs((data[0] as number) - expected(rgb[2] as number, 2))).toBeLessThan(1e-5);
    expect(Math.abs((data[32] as number) - expected(rgb[0] as number, 0))).toBeLessThan(1e-5);
  });

  it('centre-crops like torchvision (offset round((6-4)/2) = 1 column)', async () => {
    const wide = Array.from({ length: 6 * 4 * 3 }, (_, i) => (i * 53 + 5) % 256);
    const { data } = await preprocess(await png(6, 4, wide), spec);
    for (let y = 0; y < 4; y++)
      for (let x = 0; x < 4; x++)
        expect(
          Math.abs((data[y * 4 + x] as number) - expected(wide[(y * 6 + x + 1) * 3] as number, 0)),
        ).toBeLessThan(1e-5);
  });
});

describe('resizedSize (torchvision Resize(int))', () => {
  it.each([
    [500, 375, { width: 341, height: 256 }],
    [375, 500, { width: 256, height: 341 }],
    [4000, 3000, { width: 341, height: 256 }],
    [300, 300, { width: 256, height: 256 }],
    [1, 1, { width: 256, height: 256 }],
  ])('%ix%i -> %o', (w, h, size) => {
    expect(resizedSize(w, h, 256)).toEqual(size);
  });
});

describe('sniffFormat', () => {
  const bytes = (s: string) => Buffer.from(s, 'latin1');
  it.each([
    ['\xff\xd8\xff\xe0', 'jpeg'],
    ['\x89PNG\r\n\x1a\n', 'png'],
    ['GIF89a', 'gif'],
    ['RIFF\0\0\0\0WEBPVP8 ', 'webp'],
    ['II*\0', 'tiff'],
    ['MM\0*', 'tiff'],
    ['\0\0\0\x1cftypavif\0\0\0\0avifmif1', 'avif'],
  ])('recognises %j as %s', (head, format) => {
    expect(sniffFormat(bytes(head))).toBe(format);
  });

  it.each([
    ['\0\0\0\x18ftypheic\0\0\0\0mif1heic', /HEIC/],
    ['%PDF-1.4', /PDF/],
    ['<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', /SVG/],
    ['BM6\0\0\0', /BMP/],
    ['hello', /unrecognised/],
  ])('names %j as unsupported', (head, what) => {
    const result = sniffFormat(bytes(head));
    expect(typeof result).toBe('object');
    expect((result as { unsupported: string }).unsupported).toMatch(what);
  });
});

describe('the init warm-up image', () => {
  it("takes the exact resize path with a photo's downscale, so V8 optimises it before the first request", () => {
    const { width, height } = WARM_UP_IMAGE;
    expect(width * height).toBeLessThanOrEqual(EXACT_MAX_PIXELS);
    expect(Math.min(width, height)).toBeGreaterThan(IMAGENET_DEFAULTS.resizeShorter);
    expect(width * height).toBeGreaterThanOrEqual(100_000);
  });

  it('is stored as a JPEG of that size, which preprocess() takes', async () => {
    const meta = await sharp(WARM_UP_JPEG).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual([
      'jpeg',
      WARM_UP_IMAGE.width,
      WARM_UP_IMAGE.height,
    ]);
    const out = await preprocess(WARM_UP_JPEG, IMAGENET_DEFAULTS);
    expect([out.format, out.width, out.height]).toEqual(['jpeg', WARM_UP_IMAGE.width, WARM_UP_IMAGE.height]);
  });
});
