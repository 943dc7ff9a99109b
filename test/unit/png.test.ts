import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { IMAGENET_DEFAULTS } from '../../src/classifier/model-folder.ts';
import { decodePng } from '../../src/classifier/png.ts';
import { preprocess } from '../../src/classifier/preprocess.ts';

/** Photo-like samples (gradients, edges, noise), `channels` a pixel; alpha, when there is one, varies. */
function samples(width: number, height: number, channels: number): Buffer {
  const out = Buffer.alloc(width * height * channels);
  let seed = 11;
  for (let i = 0; i < width * height; i++) {
    const x = i % width;
    const y = Math.floor(i / width);
    for (let c = 0; c < channels; c++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      out[i * channels + c] = (x * (c + 1) * 7 + y * 3 + (seed % 23)) & 255;
    }
  }
  return out;
}

const chunk = (type: string, data: Uint8Array) => {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(body.length + 8);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), body.length + 4);
  return out;
};

const paeth = (a: number, b: number, c: number) => {
  const p = a + b - c;
  const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
};

/**
 * A PNG written here, row y with filter filters[y % filters.length] (0-4 as the specification
 * defines them; 5 is invalid), the zlib stream split over `idatChunks` IDAT chunks.
 */
function png(
  width: number,
  height: number,
  colourType: number,
  pixels: Buffer,
  { filters = [0, 1, 2, 3, 4], idatChunks = 1, extra = [] as Buffer[] } = {},
): Buffer {
  const channels = { 0: 1, 2: 3, 4: 2, 6: 4 }[colourType] as number;
  const stride = width * channels;
  const raw = Buffer.alloc(height * (stride + 1));
  for (let y = 0; y < height; y++) {
    const filter = filters[y % filters.length] as number;
    raw[y * (stride + 1)] = filter;
    for (let i = 0; i < stride; i++) {
      const at = (dy: number, di: number) =>
        y + dy < 0 || i + di < 0 ? 0 : (pixels[(y + dy) * stride + i + di] as number);
      const [x, a, b, c] = [at(0, 0), at(0, -channels), at(-1, 0), at(-1, -channels)];
      const predicted = [0, a, b, (a + b) >> 1, paeth(a, b, c), 0][filter] as number;
      raw[y * (stride + 1) + 1 + i] = (x - predicted) & 255;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, colourType, 0, 0, 0], 8);
  const z = deflateSync(raw);
  const part = Math.ceil(z.length / idatChunks);
  const idat = Array.from({ length: idatChunks }, (_, k) =>
    chunk('IDAT', z.subarray(k * part, (k + 1) * part)),
  );
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    ...extra,
    ...idat,
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/** What preprocessing gets from libvips: sRGB, alpha over white. */
async function libvipsPixels(bytes: Buffer) {
  const { data, info } = await sharp(bytes, { ignoreIcc: true })
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

describe('decodePng: the pixels libvips gives', () => {
  for (const [name, colourType] of [
    ['RGB', 2],
    ['RGBA (alpha over white)', 6],
    ['grey', 0],
    ['grey + alpha', 4],
  ] as const)
    it(`${name}, every filter type, odd size, the stream over three IDAT chunks`, async () => {
      const channels = { 0: 1, 2: 3, 4: 2, 6: 4 }[colourType];
      const bytes = png(37, 23, colourType, samples(37, 23, channels), { idatChunks: 3 });
      const mine = decodePng(bytes, 1e8);
      expect(mine).toBeDefined();
      expect(mine).toEqual(await libvipsPixels(bytes));
    });

  it('what sharp (libspng) writes, with its own filter choice and compression', async () => {
    for (const options of [{}, { compressionLevel: 9, adaptiveFiltering: true }, { compressionLevel: 1 }]) {
      const bytes = await sharp(samples(211, 97, 3), { raw: { width: 211, height: 97, channels: 3 } })
        .png(options)
        .toBuffer();
      const mine = decodePng(bytes, 1e8);
      expect(mine && Buffer.compare(mine.data, (await libvipsPixels(bytes)).data)).toBe(0);
    }
  });

  it('preprocess() gives what libvips gives for the same pixels (the same PNG interlaced, which libvips decodes)', async () => {
    const rgba = samples(447, 335, 4);
    const bytes = png(447, 335, 6, rgba);
    const interlaced = await sharp(rgba, { raw: { width: 447, height: 335, channels: 4 } })
      .png({ progressive: true })
      .toBuffer();
    expect(decodePng(interlaced, 1e8)).toBeUndefined();
    const [direct, libvips] = await Promise.all([
      preprocess(bytes, IMAGENET_DEFAULTS),
      preprocess(interlaced, IMAGENET_DEFAULTS),
    ]);
    expect(Buffer.compare(direct.rgb, libvips.rgb)).toBe(0);
    expect(Buffer.compare(new Uint8Array(direct.data.buffer), new Uint8Array(libvips.data.buffer))).toBe(0);
  });
});

describe('decodePng leaves to libvips what it does not decode', () => {
  const rgb = samples(16, 8, 3);
  const good = png(16, 8, 2, rgb);

  it('decodes the plain file these are made from', () => {
    expect(decodePng(good, 1e8)?.data).toEqual(new Uint8Array(rgb));
  });

  it('palettes, 16-bit and interlaced files, and tRNS', async () => {
    const raw = { raw: { width: 16, height: 8, channels: 3 } } as const;
    const palette = await sharp(rgb, raw).png({ palette: true }).toBuffer();
    const deep = await sharp(rgb, raw).toColourspace('rgb16').png().toBuffer();
    const interlaced = await sharp(rgb, raw).png({ progressive: true }).toBuffer();
    const transparent = png(16, 8, 2, rgb, { extra: [chunk('tRNS', new Uint8Array(6))] });
    for (const bytes of [palette, deep, interlaced, transparent])
      expect(decodePng(bytes, 1e8)).toBeUndefined();
    // libvips reads them all, so preprocess() still does.
    for (const bytes of [palette, deep, interlaced, transparent])
      expect((await preprocess(bytes, IMAGENET_DEFAULTS)).rgb).toHaveLength(224 * 224 * 3);
  });

  it('a bad CRC, a cut file, a broken zlib stream, an unknown filter, too many pixels', () => {
    const badCrc = Buffer.from(good);
    badCrc[30] = (badCrc[30] as number) ^ 1; // in IHDR's CRC
    const brokenStream = Buffer.from(good);
    const idat = brokenStream.indexOf('IDAT');
    brokenStream.writeUInt32BE(0xffffffff, idat + 4);
    const body = brokenStream.subarray(idat, idat + 4 + brokenStream.readUInt32BE(idat - 4));
    brokenStream.writeUInt32BE(crc32(body), idat + 4 + body.length - 4);
    for (const bytes of [
      badCrc,
      good.subarray(0, good.length - 20),
      brokenStream,
      png(16, 8, 2, rgb, { filters: [0, 5] }),
    ])
      expect(decodePng(bytes, 1e8)).toBeUndefined();
    expect(decodePng(good, 16 * 8 - 1)).toBeUndefined();
  });
});
