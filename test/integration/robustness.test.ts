/**
 * A corpus of awkward inputs, generated here with sharp (and by hand for SVG, PDF and broken bytes):
 * each one must give a tensor or the right typed error, quickly, never a crash or a hang.
 */
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { IMAGENET_DEFAULTS } from '../../src/classifier/model-folder.ts';
import { preprocess } from '../../src/classifier/preprocess.ts';

const spec = IMAGENET_DEFAULTS;
const photo = () =>
  sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 120, b: 40 } } }).composite([
    {
      input: { create: { width: 20, height: 48, channels: 3, background: { r: 10, g: 30, b: 220 } } },
      left: 0,
      top: 0,
    },
  ]);

/** A PNG whose header claims width x height over a tiny body: a decompression bomb's header. */
async function pngClaiming(width: number, height: number): Promise<Buffer> {
  const small = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#000' } })
    .png()
    .toBuffer();
  const bomb = Buffer.from(small);
  // IHDR starts at byte 8: length(4) 'IHDR'(4) width(4) height(4) ... then CRC over type+data.
  bomb.writeUInt32BE(width, 16);
  bomb.writeUInt32BE(height, 20);
  bomb.writeUInt32BE(crc32(bomb.subarray(12, 29)), 29);
  return bomb;
}

const corpus = {
  'PNG with alpha': () =>
    sharp({ create: { width: 40, height: 30, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
      .png()
      .toBuffer(),
  'greyscale JPEG': () => photo().toColourspace('b-w').jpeg().toBuffer(),
  'CMYK JPEG': () => photo().toColourspace('cmyk').jpeg().toBuffer(),
  'progressive JPEG': () => photo().jpeg({ progressive: true }).toBuffer(),
  WebP: () => photo().webp().toBuffer(),
  AVIF: () => photo().avif().toBuffer(),
  TIFF: () => photo().tiff().toBuffer(),
  '1x1 image': () =>
    sharp({ create: { width: 1, height: 1, channels: 3, background: '#808080' } })
      .png()
      .toBuffer(),
  '16-bit PNG': () => photo().toColourspace('rgb16').png().toBuffer(),
  'palette PNG': () => photo().png({ palette: true, colours: 8 }).toBuffer(),
  'animated GIF': async (): Promise<Buffer> => {
    const frame = (r: number) =>
      sharp({ create: { width: 32, height: 24, channels: 3, background: { r, g: 0, b: 0 } } })
        .png()
        .toBuffer();
    return sharp([await frame(255), await frame(0)], { join: { animated: true } })
      .gif()
      .toBuffer();
  },
} satisfies Record<string, () => Promise<Buffer>>;

describe('robustness corpus: accepted inputs give a finite tensor', () => {
  it.each(Object.keys(corpus) as (keyof typeof corpus)[])('%s', async (name) => {
    const input = await corpus[name]();
    const { data } = await preprocess(input, spec);
    expect(data.length).toBe(3 * 224 * 224);
    expect(data.every(Number.isFinite)).toBe(true);
  });

  it('composites alpha over white: a fully transparent PNG becomes white', async () => {
    const { data } = await preprocess(await corpus['PNG with alpha'](), spec);
    expect(data[0]).toBeCloseTo((1 - 0.485) / 0.229, 5);
  });

  it('greyscale gives three equal channels before normalisation', async () => {
    const { data } = await preprocess(await corpus['greyscale JPEG'](), spec);
    const n = 224 * 224;
    const pixel = (c: number) =>
      (data[c * n + 1000] as number) * (spec.std[c] as number) + (spec.mean[c] as number);
    expect(pixel(0)).toBeCloseTo(pixel(1), 5);
    expect(pixel(1)).toBeCloseTo(pixel(2), 5);
  });

  it('takes the first frame of an animated GIF (red, not black)', async () => {
    const { data } = await preprocess(await corpus['animated GIF'](), spec);
    expect((data[0] as number) * 0.229 + 0.485).toBeGreaterThan(0.9);
  });

  it('applies EXIF orientation: the same pixels tagged "rotate 90" give another tensor', async () => {
    const plain = await photo().jpeg().toBuffer();
    const rotated = await sharp(plain).withMetadata({ orientation: 6 }).jpeg().toBuffer();
    expect((await sharp(rotated).metadata()).orientation).toBe(6);
    const a = await preprocess(plain, spec);
    const b = await preprocess(rotated, spec);
    expect([a.width, a.height]).toEqual([64, 48]);
    expect([b.width, b.height]).toEqual([48, 64]);
    // The blue band is on the left of the upright image and on top of the rotated one.
    const blue = (d: Float32Array, index: number) => (d[2 * 224 * 224 + index] as number) * 0.225 + 0.406;
    expect(blue(a.data, 112 * 224 + 5)).toBeGreaterThan(0.7);
    expect(blue(b.data, 5 * 224 + 112)).toBeGreaterThan(0.7);
    expect(blue(b.data, 112 * 224 + 5)).toBeLessThan(0.3);
  });
});

describe('robustness corpus: rejected inputs give typed errors', () => {
  let truncated: Buffer;
  beforeAll(async () => {
    const jpeg = await photo().jpeg().toBuffer();
    truncated = jpeg.subarray(0, Math.floor(jpeg.length / 2));
  });

  it('refuses a 30000x30000 PNG bomb from its header, fast and without decoding', async () => {
    const bomb = await pngClaiming(30000, 30000);
    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();
    await expect(preprocess(bomb, spec)).rejects.toMatchObject({
      code: 'ImageTooLarge',
      message: expect.stringMatching(/30000x30000 \(900000000 pixels\); the limit is 100000000 pixels/),
    });
    expect(performance.now() - started).toBeLessThan(1000);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(50 * 1024 * 1024);
  });

  it('refuses inputs over the byte limit', async () => {
    const png = await corpus['1x1 image']();
    await expect(
      preprocess(png, spec, { maxBytes: 10, maxPixels: 1e8, timeoutSeconds: 5 }),
    ).rejects.toMatchObject({
      code: 'ImageTooLarge',
      message: expect.stringMatching(/the limit is 10 bytes/),
    });
  });

  it('refuses a truncated JPEG as corrupt', async () => {
    await expect(preprocess(truncated, spec)).rejects.toMatchObject({
      code: 'CorruptImage',
      message: expect.stringMatching(/cannot decode image/),
    });
  });

  it.each([
    ['zero bytes', Buffer.alloc(0), 'CorruptImage', /empty \(0 bytes\)/],
    [
      'random bytes',
      Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 251)),
      'UnsupportedFormat',
      /unrecognised bytes/,
    ],
    [
      'SVG',
      Buffer.from(
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>',
      ),
      'UnsupportedFormat',
      /SVG/,
    ],
    [
      'PDF',
      Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n'),
      'UnsupportedFormat',
      /PDF/,
    ],
    [
      'a PNG signature followed by garbage',
      Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), Buffer.alloc(64, 7)]),
      'CorruptImage',
      /cannot decode image/,
    ],
  ])('%s', async (_name, input, code, message) => {
    await expect(preprocess(input, spec)).rejects.toMatchObject({
      code,
      message: expect.stringMatching(message),
    });
  });
});
