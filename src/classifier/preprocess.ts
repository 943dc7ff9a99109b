/**
 * Image bytes -> normalised float32 NCHW tensor data, bit for bit what torchvision's eval transform
 * gives (PIL open, convert('RGB'), Resize(shorter side) bilinear with antialiasing, CenterCrop,
 * ToTensor, Normalize) for every image up to EXACT_MAX_PIXELS, and within about half a pixel level
 * above that, where speed needs libvips' shrink-on-load.
 *
 * - Only JPEG, PNG, WebP, GIF, AVIF and TIFF are accepted, recognised by their magic bytes before
 *   any decoder sees them (SVG, PDF, HEIC and the rest never reach libvips).
 * - Limits are checked from the header alone, so a decompression bomb is refused before decoding
 *   (image-header.ts reads it for JPEG, PNG and WebP; libvips for the rest, and libvips checks the
 *   pixel limit again from its own header read).
 * - sharp decodes; an embedded ICC profile is ignored, as PIL (which these models were trained
 *   with) ignores it: the stored values are the model's input. sharp's JPEG decode is then
 *   identical to PIL's.
 * - The resize is Pillow's own algorithm (`pilResize`: triangle filter, 22-bit fixed point,
 *   horizontal pass then vertical, each rounded to 8 bits), computed only for the centre crop, from
 *   only the source pixels that crop reads (libvips extracts them in the decoding pipeline).
 * - Two deliberate differences from PIL, both measured (docs/model-toolchain.md): EXIF orientation is
 *   applied (PIL ignores it, so a phone photo stored sideways would reach the model sideways), and
 *   alpha is composited over white (PIL keeps whatever colour the encoder left under transparent
 *   pixels, so two files that look the same would be tagged differently). 16-bit inputs are scaled
 *   to 8 bits (PIL clips 16-bit greyscale to white); CMYK is converted by libvips.
 * - Animated GIF/WebP: the first frame only (sharp's default page 0).
 */

import { CorruptImageError, ImageError, ImageTooLargeError, UnsupportedFormatError } from './errors.ts';
import { IMAGE_FORMATS, type ImageFormat } from './image-formats.ts';
import { orientedSize, readImageHeader } from './image-header.ts';
import { roundHalfEven } from './math.ts';
import type { ModelMeta } from './model-folder.ts';
import { sharp } from './native.ts';

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
  /**
   * The same cropSize x cropSize crop as interleaved RGB, 8 bits a channel, before normalisation
   * (the pixels `data` is computed from; RGB order whatever the model's): for colour and quality measures.
   */
  rgb: Uint8Array;
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
      `unsupported format: ${sniffed.unsupported}; accepted formats are ${IMAGE_FORMATS.map((f) => f.format).join(', ')}`,
    );

  const open = (limitInputPixels: number | false) =>
    sharp(bytes, {
      failOn: 'error',
      limitInputPixels,
      autoOrient: true,
      ignoreIcc: true,
      sequentialRead: true,
    });

  let width: number;
  let height: number;
  // The size (after EXIF orientation) from the header: read here for JPEG, PNG and WebP (one libvips
  // call per request instead of two), else by libvips without decoding any pixels.
  const header = readImageHeader(bytes, sniffed);
  if (header) ({ width, height } = orientedSize(header));
  else
    try {
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
  const crop = {
    left: roundHalfEven((resized.width - cropSize) / 2),
    top: roundHalfEven((resized.height - cropSize) / 2),
    width: cropSize,
    height: cropSize,
  };

  let rgb: Uint8Array;
  try {
    const image = open(limits.maxPixels).timeout({ seconds: limits.timeoutSeconds });
    if (width * height <= EXACT_MAX_PIXELS) {
      // libvips decodes at full size and hands over only the pixels the crop reads (a sequential
      // JPEG decode stops after its last row); Pillow's resize of the crop runs in TypeScript: exact.
      const plan = pilResizePlan(width, height, resized.width, resized.height, crop);
      const { window } = plan;
      const { data, info } = await image
        .extract(window)
        .flatten({ background: '#ffffff' })
        .toColourspace('srgb')
        .raw({ depth: 'uchar' })
        .toBuffer({ resolveWithObject: true });
      if (info.channels !== 3 || info.width !== window.width || info.height !== window.height)
        throw new CorruptImageError(
          `decoder produced ${info.width}x${info.height}x${info.channels}, expected ${window.width}x${window.height} RGB`,
        );
      rgb = pilResize(data, plan);
    } else {
      // Large photos: libvips decodes a JPEG or WebP already shrunk (shrink-on-load), then its
      // triangle filter ('linear', the same filter as PIL's bilinear) resizes the rest. With
      // fastShrinkOnLoad off, at least a factor of 2 is left to the filter: about 0.3-0.4 levels
      // mean from PIL on a 12 MP JPEG instead of 0.6-1.0, for a few ms more.
      const { data, info } = await image
        .resize(resized.width, resized.height, { fit: 'fill', kernel: 'linear', fastShrinkOnLoad: false })
        .flatten({ background: '#ffffff' })
        .extract(crop)
        .toColourspace('srgb')
        .raw({ depth: 'uchar' })
        .toBuffer({ resolveWithObject: true });
      if (info.channels !== 3 || info.width !== cropSize || info.height !== cropSize)
        throw new CorruptImageError(
          `decoder produced ${info.width}x${info.height}x${info.channels}, expected RGB`,
        );
      rgb = data;
    }
  } catch (err) {
    throw err instanceof ImageError ? err : describeSharpError(err);
  }
  return { data: toNormalisedPlanes(rgb, cropSize * cropSize, spec), rgb, format: sniffed, width, height };
}

/**
 * Images up to this many pixels (e.g. 1280x900: ImageNet-sized photos and all 50 shared photos) are
 * decoded at full size and resized exactly as PIL does; larger ones go through libvips' SIMD resize
 * with shrink-on-load, within half a level. Why a limit: the exact TypeScript resize needs the full
 * decode and its cost grows with the pixel count, while shrink-on-load decodes a large JPEG at a
 * fraction of its size; the limit keeps exact parity for photos of the size the models were trained
 * on (`npm run bench` times preprocessing at several sizes).
 */
export const EXACT_MAX_PIXELS = 1_200_000;

/** Pillow's fixed-point precision for 8-bit resampling (Resample.c: 32 - 8 - 2). */
const PRECISION_BITS = 22;
/** Rounding half of the last bit, added to every sum. */
const HALF = 1 << (PRECISION_BITS - 1);

/**
 * Pillow's precompute_coeffs + normalize_coeffs_8bpc for the bilinear (triangle) filter, for output
 * positions [first, first + count) of a resize from inSize to outSize: the first input index of
 * each output, its number of taps and its integer weights (ksize per output).
 */
interface Coefficients {
  start: Int32Array;
  taps: Int32Array;
  weights: Int32Array;
  ksize: number;
}

function pilCoefficients(inSize: number, outSize: number, first: number, count: number): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale; // the triangle filter's support is 1
  const ksize = Math.ceil(support) * 2 + 1;
  const ss = 1 / filterScale; // Pillow multiplies by the reciprocal: the same float rounding
  const start = new Int32Array(count);
  const taps = new Int32Array(count);
  const weights = new Int32Array(count * ksize);
  const w = new Float64Array(ksize);
  for (let o = 0; o < count; o++) {
    const center = (first + o + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const n = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let sum = 0;
    for (let x = 0; x < n; x++) {
      const d = Math.abs((x + xmin - center + 0.5) * ss);
      const v = d < 1 ? 1 - d : 0;
      w[x] = v;
      sum += v;
    }
    for (let x = 0; x < n; x++) {
      const k = sum !== 0 ? (w[x] as number) / sum : (w[x] as number);
      weights[o * ksize + x] = Math.trunc(
        k < 0 ? -0.5 + k * 2 ** PRECISION_BITS : 0.5 + k * 2 ** PRECISION_BITS,
      );
    }
    start[o] = xmin;
    taps[o] = n;
  }
  return { start, taps, weights, ksize };
}

interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** What `pilResize` computes: the coefficients of both passes and the source pixels they read. */
export interface PilResizePlan {
  h: Coefficients;
  v: Coefficients;
  crop: Rect;
  /** The rectangle of the source image the crop reads (what the decoder must hand over). */
  window: Rect;
}

/** The plan of PIL's `resize((outWidth, outHeight), BILINEAR)` of a width x height image, cropped to `crop`. */
export function pilResizePlan(
  width: number,
  height: number,
  outWidth: number,
  outHeight: number,
  crop: Rect,
): PilResizePlan {
  const h = pilCoefficients(width, outWidth, crop.left, crop.width);
  const v = pilCoefficients(height, outHeight, crop.top, crop.height);
  const end = (c: Coefficients, last: number) => (c.start[last] as number) + (c.taps[last] as number);
  const left = h.start[0] as number;
  const top = v.start[0] as number;
  return {
    h,
    v,
    crop,
    window: { left, top, width: end(h, crop.width - 1) - left, height: end(v, crop.height - 1) - top },
  };
}

/**
 * PIL's `Image.resize((outWidth, outHeight), BILINEAR)` of interleaved RGB, computed only for the
 * `crop` window of the output: the same coefficients, pass order (horizontal, then vertical) and
 * 8-bit rounding between the passes as Pillow's Resample.c, so the values are identical.
 */
export function pilResizeCrop(
  rgb: Uint8Array,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number,
  crop: Rect,
): Uint8Array {
  return pilResize(rgb, pilResizePlan(width, height, outWidth, outHeight, crop), { left: 0, top: 0, width });
}

/**
 * The plan's resize of interleaved RGB `rgb`, which holds the plan's window (or, with `source`, the
 * rows from source.top of a source.width-wide image whose columns start at source.left).
 * Every sum stays below 2^31 (weights are non-negative and add up to 2^22; 255 x 2^22 + 2^21 <
 * 2^31), so int32 arithmetic is exact, as Pillow's; Math.imul keeps the products int32 (the
 * resize of a 0.3 MP photo's crop took 0.93x the CPU time of float multiplies, same output).
 */
export function pilResize(
  rgb: Uint8Array,
  plan: PilResizePlan,
  source: { left: number; top: number; width: number } = plan.window,
): Uint8Array {
  const { h, v, crop, window } = plan;
  const cw = crop.width;
  // Uint8ClampedArray: storing a sum clips it to 0..255 (Pillow's clip8; the sums are never negative).
  const temp = new Uint8ClampedArray(window.height * cw * 3);
  // Horizontal pass over the rows the vertical pass reads (Pillow skips it when the width does not
  // change: the identity either way).
  const rowBytes = source.width * 3;
  const { start: hStart, taps: hTaps, weights: hWeights, ksize: hK } = h;
  let dst = 0;
  for (let y = 0; y < window.height; y++) {
    const src = (window.top - source.top + y) * rowBytes - source.left * 3;
    for (let o = 0; o < cw; o++, dst += 3) {
      let k = o * hK;
      const end = k + (hTaps[o] as number);
      let p = src + (hStart[o] as number) * 3;
      let r = HALF;
      let g = HALF;
      let b = HALF;
      for (; k < end; k++, p += 3) {
        const w = hWeights[k] as number;
        r += Math.imul(rgb[p] as number, w);
        g += Math.imul(rgb[p + 1] as number, w);
        b += Math.imul(rgb[p + 2] as number, w);
      }
      temp[dst] = r >> PRECISION_BITS;
      temp[dst + 1] = g >> PRECISION_BITS;
      temp[dst + 2] = b >> PRECISION_BITS;
    }
  }
  // Vertical pass: per output row, its taps' weights and rows in locals for the common tap counts.
  const stride = cw * 3;
  const out = new Uint8ClampedArray(stride * crop.height);
  const { start: vStart, taps: vTaps, weights: vWeights, ksize: vK } = v;
  for (let o = 0; o < crop.height; o++) {
    const k = o * vK;
    const n = vTaps[o] as number;
    const r0 = ((vStart[o] as number) - window.top) * stride;
    const d = o * stride;
    const w0 = vWeights[k] as number;
    const w1 = vWeights[k + 1] as number;
    const w2 = vWeights[k + 2] as number;
    const r1 = r0 + stride;
    const r2 = r1 + stride;
    if (n === 2)
      for (let i = 0; i < stride; i++) {
        const s = (HALF + (temp[r0 + i] as number) * w0 + (temp[r1 + i] as number) * w1) >> PRECISION_BITS;
        out[d + i] = s;
      }
    else if (n === 3)
      for (let i = 0; i < stride; i++) {
        const s =
          (HALF +
            (temp[r0 + i] as number) * w0 +
            (temp[r1 + i] as number) * w1 +
            (temp[r2 + i] as number) * w2) >>
          PRECISION_BITS;
        out[d + i] = s;
      }
    else if (n === 4) {
      const w3 = vWeights[k + 3] as number;
      const r3 = r2 + stride;
      for (let i = 0; i < stride; i++) {
        const s =
          (HALF +
            (temp[r0 + i] as number) * w0 +
            (temp[r1 + i] as number) * w1 +
            (temp[r2 + i] as number) * w2 +
            (temp[r3 + i] as number) * w3) >>
          PRECISION_BITS;
        out[d + i] = s;
      }
    } else
      for (let i = 0; i < stride; i++) {
        let s = HALF;
        for (let y = 0, p = r0 + i; y < n; y++, p += stride)
          s += (temp[p] as number) * (vWeights[k + y] as number);
        out[d + i] = s >> PRECISION_BITS;
      }
  }
  return new Uint8Array(out.buffer);
}

/** Interleaved RGB uint8 -> planar float32 `(x/255 - mean)/std`, planes in the model's channel order. */
export function toNormalisedPlanes(
  rgb: Uint8Array,
  pixelCount: number,
  spec: Pick<PreprocessSpec, 'mean' | 'std' | 'channelOrder'>,
): Float32Array {
  const out = new Float32Array(3 * pixelCount);
  // Plane c holds source channel src[c]; one pass reads each pixel's three bytes once.
  const src = spec.channelOrder === 'RGB' ? [0, 1, 2] : [2, 1, 0];
  const scale = src.map((s) => 1 / (255 * (spec.std[s] as number)));
  const shift = src.map((s) => (spec.mean[s] as number) / (spec.std[s] as number));
  const [s0, s1, s2] = src as [number, number, number];
  const [k0, k1, k2] = scale as [number, number, number];
  const [h0, h1, h2] = shift as [number, number, number];
  const p1 = pixelCount;
  const p2 = 2 * pixelCount;
  for (let i = 0, j = 0; i < pixelCount; i++, j += 3) {
    out[i] = (rgb[j + s0] as number) * k0 - h0;
    out[p1 + i] = (rgb[j + s1] as number) * k1 - h1;
    out[p2 + i] = (rgb[j + s2] as number) * k2 - h2;
  }
  return out;
}
