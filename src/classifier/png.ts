/**
 * PNG decoding without libvips for the common photo and screenshot PNG: 8-bit grey, grey + alpha,
 * RGB or RGBA, not interlaced, no tRNS. Node's zlib inflates (native code, part of Node) and the
 * rows are reconstructed in WebAssembly (resize.c, `png_to_rgb`): about half of sharp's decode at
 * 0.15-0.3 MP, most of which was libvips' and sharp's fixed cost per call (docs/benchmarks.md). The
 * pixels are libvips' (and PIL's, without alpha; alpha goes over white as libvips flattens it), tested
 * byte for byte.
 *
 * Everything else (16-bit, palettes, interlacing, tRNS, a bad CRC or zlib stream, data of the
 * wrong length) answers undefined and goes to sharp, whose answer stays the service's.
 */
import { crc32, inflateSync } from 'node:zlib';
import type { DecodedImage } from './image-formats.ts';
import { tag, u32be } from './image-header.ts';
import { pngToRgb } from './resize.ts';

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** Samples a pixel by colour type (0 grey, 2 RGB, 4 grey + alpha, 6 RGBA); palettes (3) are left to libvips. */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

export function decodePng(bytes: Uint8Array, maxPixels: number): DecodedImage | undefined {
  if (!SIGNATURE.every((byte, i) => bytes[i] === byte)) return undefined;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Uint8Array[] = [];
  let ended = false;
  for (let at = 8; at + 12 <= bytes.length && !ended; ) {
    const length = u32be(bytes, at);
    const end = at + 12 + length;
    if (end > bytes.length) return undefined;
    const typeAndData = bytes.subarray(at + 4, at + 8 + length);
    if (crc32(typeAndData) !== u32be(bytes, at + 8 + length)) return undefined;
    const type = tag(bytes, at + 4);
    const data = bytes.subarray(at + 8, at + 8 + length);
    if (type === 'IHDR') {
      if (length !== 13) return undefined;
      width = u32be(data, 0);
      height = u32be(data, 4);
      const [depth, colourType, compression, filter, interlace] = data.subarray(8, 13);
      channels = CHANNELS[colourType ?? -1] ?? 0;
      if (depth !== 8 || !channels || compression !== 0 || filter !== 0 || interlace !== 0) return undefined;
    } else if (type === 'tRNS') return undefined;
    else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') ended = true;
    at = end;
  }
  if (!ended || !channels || !(width > 0 && height > 0) || width * height > maxPixels || !idat.length)
    return undefined;
  const expected = height * (width * channels + 1);
  let raw: Buffer;
  try {
    raw = inflateSync(Buffer.concat(idat), { maxOutputLength: expected });
  } catch {
    return undefined; // a broken stream, or more data than the image holds
  }
  if (raw.length !== expected) return undefined;
  const data = pngToRgb(raw, width, height, channels);
  return data && { data, width, height };
}
