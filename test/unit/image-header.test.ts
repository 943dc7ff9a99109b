import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { ImageFormat } from '../../src/classifier/image-formats.ts';
import { orientedSize, readImageHeader } from '../../src/classifier/image-header.ts';

const base = () =>
  sharp({ create: { width: 37, height: 23, channels: 3, background: { r: 200, g: 90, b: 30 } } });

/** libvips' own answer: the size after EXIF orientation and the orientation. */
async function libvips(bytes: Buffer) {
  const meta = await sharp(bytes).metadata();
  return { ...meta.autoOrient, orientation: meta.orientation ?? 1 };
}

describe('readImageHeader agrees with libvips', () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8])('JPEG with EXIF orientation %i', async (orientation) => {
    const bytes = await base().withMetadata({ orientation }).jpeg().toBuffer();
    const header = readImageHeader(bytes, 'jpeg');
    expect(header).toBeDefined();
    const ours = header as NonNullable<typeof header>;
    expect({ ...orientedSize(ours), orientation: ours.orientation }).toEqual(await libvips(bytes));
  });

  it.each([
    ['jpeg', () => base().jpeg().toBuffer()],
    ['jpeg', () => base().jpeg({ progressive: true }).toBuffer()],
    ['jpeg', () => base().greyscale().jpeg().toBuffer()],
    ['png', () => base().png().toBuffer()],
    ['png', () => base().png({ palette: true }).toBuffer()],
    ['webp', () => base().webp().toBuffer()],
    ['webp', () => base().webp({ lossless: true }).toBuffer()],
    ['webp', () => base().ensureAlpha(0.5).webp().toBuffer()],
  ] as const)('%s %#', async (format, make) => {
    const bytes = await make();
    const header = readImageHeader(bytes, format as ImageFormat);
    expect(header).toBeDefined();
    const { width, height } = await libvips(bytes);
    expect(orientedSize(header as NonNullable<typeof header>)).toEqual({ width, height });
    expect({ width, height }).toEqual({ width: 37, height: 23 });
  });

  it('leaves to libvips what it does not read: EXIF in PNG or WebP, other formats, odd bytes', async () => {
    const exifPng = await base().withMetadata({ orientation: 6 }).png().toBuffer();
    const exifWebp = await base().withMetadata({ orientation: 6 }).webp().toBuffer();
    // Where libvips would orient the image, the reader must not guess.
    for (const [bytes, format] of [
      [exifPng, 'png'],
      [exifWebp, 'webp'],
    ] as const)
      if ((await libvips(bytes)).orientation !== 1) expect(readImageHeader(bytes, format)).toBeUndefined();
    expect(readImageHeader(await base().gif().toBuffer(), 'gif')).toBeUndefined();
    expect(readImageHeader(await base().tiff().toBuffer(), 'tiff')).toBeUndefined();
    const jpeg = await base().jpeg().toBuffer();
    expect(readImageHeader(jpeg.subarray(0, 20), 'jpeg')).toBeUndefined(); // cut before the frame header
    expect(readImageHeader(Buffer.from([0xff, 0xd8, 0xff, 0xc0, 0xff, 0xff]), 'jpeg')).toBeUndefined();
  });

  it('never throws on truncated or mangled headers', async () => {
    const files: [Buffer, ImageFormat][] = [
      [await base().withMetadata({ orientation: 3 }).jpeg().toBuffer(), 'jpeg'],
      [await base().png().toBuffer(), 'png'],
      [await base().webp().toBuffer(), 'webp'],
    ];
    for (const [bytes, format] of files)
      for (let cut = 0; cut < Math.min(bytes.length, 400); cut++) {
        const head = Buffer.from(bytes.subarray(0, cut));
        expect(() => readImageHeader(head, format)).not.toThrow();
        const mangled = Buffer.from(bytes);
        mangled[cut] = (mangled[cut] ?? 0) ^ 0xff;
        const header = readImageHeader(mangled, format);
        if (header) expect(header.width > 0 && header.height > 0).toBe(true);
      }
  });
});
