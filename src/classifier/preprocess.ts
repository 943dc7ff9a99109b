/**
 * Image bytes -> normalised float32 NCHW tensor data, with sharp, following the torchvision
 * reference (Resize(shorter side) with bilinear antialiasing, CenterCrop, ToTensor, Normalize).
 *
 * - Only JPEG, PNG, WebP, GIF, AVIF and TIFF are accepted, recognised by their magic bytes before
 *   any decoder sees them (SVG, PDF, HEIC and the rest never reach libvips).
 * - Limits are checked from the header alone, so a decompression bomb is refused before decoding.
 * - EXIF orientation is applied; CMYK, greyscale, palette and 16-bit inputs end as 8-bit sRGB.
 * - Alpha is composited over white (what a viewer shows on a white page), then removed.
 * - Animated GIF/WebP: the first frame only (sharp's default page 0).
 */

import { CorruptImageError, ImageError, ImageTooLargeError, UnsupportedFormatError } from './errors.ts';
import { roundHalfEven } from './math.ts';
import type { ModelMeta } from './model-folder.ts';
import { sharp } from './native.ts';

export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'avif' | 'tiff';
export const SUPPORTED_FORMATS: readonly ImageFormat[] = ['jpeg', 'png', 'webp', 'gif', 'avif', 'tiff'];

export type PreprocessSpec = Pick<ModelMeta, 'resizeShorter' | 'cropSize' | 'mean' | 'std' | 'channelOrder'>;

export interface ImageLimits {
  /** Largest accepted input, in bytes. */
  maxBytes: number;
  /** Largest accepted width x height of the (first frame of the) image. */
  maxPixels: number;
  /** libvips gives up after this many seconds of decoding and resizing. */
  timeoutSeconds: number;
}

export const DEFAULT_LIMITS: ImageLimits = {
  maxBytes: 25 * 1024 * 1024,
  maxPixels: 100_000_000,
  timeoutSeconds: 10,
};

export interface Preprocessed {
  /** [3, cropSize, cropSize] planes, normalised, in the model's channel order. */
  data: Float32Array;
  format: ImageFormat;
  /** Size of the decoded image after EXIF orientation, before resizing. */
  width: number;
  height: number;
}

// Keep libvips from caching decoded inputs between unrelated images (bounded memory in Lambda).
sharp.cache(false);

const ascii = (bytes: Uint8Array, start: number, end: number) =>
  String.fromCharCode(...bytes.subarray(start, end));

/** Names the container from its magic bytes: a supported format, or a description of what it is. */
export function sniffFormat(bytes: Uint8Array): ImageFormat | { unsupported: string } {
  const b = bytes;
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (ascii(b, 0, 8) === '\x89PNG\r\n\x1a\n') return 'png';
  if (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a') return 'gif';
  if (ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP') return 'webp';
  if (ascii(b, 0, 4) === 'II*\0' || ascii(b, 0, 4) === 'MM\0*') return 'tiff';
  if (ascii(b, 4, 8) === 'ftyp') {
    // ISO-BMFF: AVIF when the major or a compatible brand says so; HEIC and video otherwise.
    const boxSize = Math.min(
      ((b[0] ?? 0) << 24) | ((b[1] ?? 0) << 16) | ((b[2] ?? 0) << 8) | (b[3] ?? 0),
      64,
      b.length,
    );
    const brands: string[] = [];
    for (let i = 8; i + 4 <= boxSize; i += 4) brands.push(ascii(b, i, i + 4));
    if (brands.some((brand) => brand === 'avif' || brand === 'avis')) return 'avif';
    return { unsupported: `ISO media file (brand "${brands[0] ?? '?'}"), e.g. HEIC or video` };
  }
  if (ascii(b, 0, 5) === '%PDF-') return { unsupported: 'PDF document' };
  if (ascii(b, 0, 2) === 'BM') return { unsupported: 'BMP image' };
  const head = ascii(b, 0, 512).trimStart().toLowerCase();
  if (head.startsWith('<svg') || (head.startsWith('<?xml') && head.includes('<svg')))
    return { unsupported: 'SVG image' };
  if (head.startsWith('<')) return { unsupported: 'XML/HTML text' };
  return { unsupported: 'unrecognised bytes' };
}

/** torchvision Resize(int): shorter side to `size`, longer side int(size * long / short). */
export function resizedSize(width: number, height: number, size: number): { width: number; height: number } {
  return width <= height
    ? { width: size, height: Math.max(size, Math.floor((size * height) / width)) }
    : { width: Math.max(size, Math.floor((size * width) / height)), height: size };
}

function describeSharpError(err: unknown): ImageError {
  const message = err instanceof Error ? err.message : String(err);
  if (/pixel limit/i.test(message))
    return new ImageTooLargeError(`image exceeds the pixel limit: ${message}`);
  if (/timeout/i.test(message)) return new ImageTooLargeError(`image took too long to decode: ${message}`);
  return new CorruptImageError(`cannot decode image: ${message.split('\n')[0]}`, err);
}

export async function preprocess(
  bytes: Uint8Array,
  spec: PreprocessSpec,
  limits: ImageLimits = DEFAULT_LIMITS,
): Promise<Preprocessed> {
  if (bytes.length === 0) throw new CorruptImageError('image is empty (0 bytes)');
  if (bytes.length > limits.maxBytes)
    throw new ImageTooLargeError(`image is ${bytes.length} bytes; the limit is ${limits.maxBytes} bytes`);
  const sniffed = sniffFormat(bytes);
  if (typeof sniffed !== 'string')
    throw new UnsupportedFormatError(
      `unsupported format: ${sniffed.unsupported}; accepted formats are ${SUPPORTED_FORMATS.join(', ')}`,
    );

  const open = (limitInputPixels: number | false) =>
    sharp(bytes, {
      failOn: 'error',
      limitInputPixels,
      autoOrient: true,
      sequentialRead: true,
    });

  let width: number;
  let height: number;
  try {
    // Header only: no pixels are decoded, so the size check below can name the dimensions.
    const meta = await open(false).metadata();
    if (sniffed === 'avif' && meta.compression !== 'av1')
      throw new UnsupportedFormatError(`unsupported format: HEIF with ${meta.compression} compression`);
    ({ width, height } = meta.autoOrient);
  } catch (err) {
    throw err instanceof ImageError ? err : describeSharpError(err);
  }
  if (!(width > 0 && height > 0)) throw new CorruptImageError('image header has no size');
  if (width * height > limits.maxPixels)
    throw new ImageTooLargeError(
      `image is ${width}x${height} (${width * height} pixels); the limit is ${limits.maxPixels} pixels`,
    );

  const { resizeShorter, cropSize } = spec;
  const resized = resizedSize(width, height, resizeShorter);
  const left = roundHalfEven((resized.width - cropSize) / 2);
  const top = roundHalfEven((resized.height - cropSize) / 2);

  let pixels: Buffer;
  try {
    const { data, info } = await open(limits.maxPixels)
      .timeout({ seconds: limits.timeoutSeconds })
      // 'linear' is libvips' antialiased triangle filter, the same as PIL's bilinear in torchvision.
      .resize(resized.width, resized.height, { fit: 'fill', kernel: 'linear' })
      .flatten({ background: '#ffffff' })
      .extract({ left, top, width: cropSize, height: cropSize })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || info.width !== cropSize || info.height !== cropSize)
      throw new CorruptImageError(
        `decoder produced ${info.width}x${info.height}x${info.channels}, expected RGB`,
      );
    pixels = data;
  } catch (err) {
    throw err instanceof ImageError ? err : describeSharpError(err);
  }
  return { data: toNormalisedPlanes(pixels, cropSize * cropSize, spec), format: sniffed, width, height };
}

/** Interleaved RGB uint8 -> planar float32 `(x/255 - mean)/std`, planes in the model's channel order. */
export function toNormalisedPlanes(
  rgb: Uint8Array,
  pixelCount: number,
  spec: Pick<PreprocessSpec, 'mean' | 'std' | 'channelOrder'>,
): Float32Array {
  const out = new Float32Array(3 * pixelCount);
  for (let c = 0; c < 3; c++) {
    const src = spec.channelOrder === 'RGB' ? c : 2 - c;
    const std = spec.std[src] as number;
    const scale = 1 / (255 * std);
    const shift = (spec.mean[src] as number) / std;
    const plane = c * pixelCount;
    for (let i = 0; i < pixelCount; i++) out[plane + i] = (rgb[3 * i + src] as number) * scale - shift;
  }
  return out;
}
