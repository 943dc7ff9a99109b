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
 * - Up to EXACT_MAX_PIXELS, JPEGs are decoded by libjpeg-turbo directly (jpeg-turbo.ts: a third
 *   of sharp's cost at photo sizes) and common PNGs by Node's zlib and WebAssembly (png.ts: about
 *   half); everything else by sharp; an embedded ICC profile is ignored, as
 *   PIL (which these models were trained with) ignores it: the stored values are the model's input.
 *   Both JPEG decodes are then identical to PIL's.
 * - The resize is Pillow's own algorithm (`pilResize` in resize.ts: triangle filter, 22-bit fixed
 *   point, horizontal pass then vertical, each rounded to 8 bits, in WebAssembly SIMD), computed
 *   only for the centre crop, from only the source pixels that crop reads (libvips extracts them in
 *   the decoding pipeline).
 * - Two deliberate differences from PIL, both measured (docs/model-toolchain.md): EXIF orientation is
 *   applied (PIL ignores it, so a phone photo stored sideways would reach the model sideways), and
 *   alpha is composited over white (PIL keeps whatever colour the encoder left under transparent
 *   pixels, so two files that look the same would be tagged differently). 16-bit inputs are scaled
 *   to 8 bits (PIL clips 16-bit greyscale to white); CMYK is converted by libvips.
 * - Animated GIF/WebP: the first frame only (sharp's default page 0).
 */

import { CorruptImageError, ImageError, ImageTooLargeError, UnsupportedFormatError } from './errors.ts';
import { type DecodedImage, IMAGE_FORMATS, type ImageFormat } from './image-formats.ts';
import { orientedSize, readImageHeader } from './image-header.ts';
import { turboJpeg } from './jpeg-turbo.ts';
import { roundHalfEven } from './math.ts';
import type { ModelMeta } from './model-folder.ts';
import { sharp } from './native.ts';
import { decodePng } from './png.ts';
import { pilResize, pilResizePlan, toNormalisedPlanes } from './resize.ts';

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

/** sharp opened on `bytes` as preprocessing reads every image (EXIF orientation applied, ICC ignored). */
export const openImage = (bytes: Uint8Array, limitInputPixels: number | false) =>
  sharp(bytes, {
    failOn: 'error',
    limitInputPixels,
    autoOrient: true,
    ignoreIcc: true,
    sequentialRead: true,
  });

/**
 * The exact path's decode: the pixels of `window` (of the oriented image) as interleaved 8-bit sRGB,
 * alpha over white. libvips decodes at full size and hands over only the window (a sequential JPEG
 * decode stops after its last row).
 */
export async function decodeWindow(
  image: ReturnType<typeof openImage>,
  window: { left: number; top: number; width: number; height: number },
): Promise<Uint8Array> {
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
  return data;
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

  let width: number;
  let height: number;
  // The size (after EXIF orientation) from the header: read here for JPEG, PNG and WebP (one libvips
  // call per request instead of two), else by libvips without decoding any pixels.
  const header = readImageHeader(bytes, sniffed);
  if (header) ({ width, height } = orientedSize(header));
  else
    try {
      const meta = await openImage(bytes, false).metadata();
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
    const image = () => openImage(bytes, limits.maxPixels).timeout({ seconds: limits.timeoutSeconds });
    if (width * height <= EXACT_MAX_PIXELS) {
      // Pillow's resize of the crop, in WebAssembly: exact. Common JPEGs and PNGs are decoded
      // without libvips (jpeg-turbo.ts, png.ts); otherwise libvips decodes and hands over only the
      // pixels the crop reads.
      const plan = pilResizePlan(width, height, resized.width, resized.height, crop);
      // At most the pixels the header promised: the decoders allocate nothing larger.
      const decoded = header && decodeDirectly(bytes, sniffed, width * height);
      if (decoded && header && decoded.width === header.width && decoded.height === header.height)
        rgb =
          header.orientation === 1
            ? pilResize(decoded.data, plan, { left: 0, top: 0, width: decoded.width })
            : pilResize(orientedWindow(decoded, header.orientation, plan.window), plan);
      else rgb = pilResize(await decodeWindow(image(), plan.window), plan);
    } else {
      // Large photos: libvips decodes a JPEG or WebP already shrunk (shrink-on-load), then its
      // triangle filter ('linear', the same filter as PIL's bilinear) resizes the rest. With
      // fastShrinkOnLoad off, at least a factor of 2 is left to the filter: about 0.3-0.4 levels
      // mean from PIL on a 12 MP JPEG instead of 0.6-1.0, for a few ms more.
      const { data, info } = await image()
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

/** The pixels of a JPEG or PNG decoded without libvips, when this image is one it decodes. */
export function decodeDirectly(
  bytes: Uint8Array,
  format: ImageFormat,
  maxPixels: number,
): DecodedImage | undefined {
  if (format === 'jpeg') return turboJpeg?.decode(bytes, maxPixels);
  if (format === 'png') return decodePng(bytes, maxPixels);
  return undefined;
}

/**
 * The pixels of `window` (a rectangle of the image as EXIF `orientation` shows it) from an image
 * decoded as stored: what libvips' autoOrient followed by extract gives.
 */
export function orientedWindow(
  stored: DecodedImage,
  orientation: number,
  window: { left: number; top: number; width: number; height: number },
): Uint8Array {
  const { data, width: w, height: h } = stored;
  const out = new Uint8Array(window.width * window.height * 3);
  // The stored pixel shown at (x, y): its offset is x * dx + y * dy + origin (in pixels).
  const [dx, dy, origin] = (
    {
      2: [-1, w, w - 1],
      3: [-1, -w, h * w - 1],
      4: [1, -w, (h - 1) * w],
      5: [w, 1, 0],
      6: [-w, 1, (h - 1) * w],
      7: [-w, -1, h * w - 1],
      8: [w, -1, w - 1],
    } as Record<number, [number, number, number]>
  )[orientation] ?? [1, w, 0];
  let o = 0;
  for (let y = window.top; y < window.top + window.height; y++) {
    let p = window.left * dx + y * dy + origin;
    for (let x = 0; x < window.width; x++, p += dx, o += 3) {
      out[o] = data[p * 3] as number;
      out[o + 1] = data[p * 3 + 1] as number;
      out[o + 2] = data[p * 3 + 2] as number;
    }
  }
  return out;
}

/**
 * Images up to this many pixels (e.g. 1280x900: ImageNet-sized photos and all 50 shared photos) are
 * decoded at full size and resized exactly as PIL does; larger ones go through libvips' SIMD resize
 * with shrink-on-load, within half a level. Why a limit: the exact resize (resize.ts) needs the full
 * decode and its cost grows with the pixel count, while shrink-on-load decodes a large JPEG at a
 * fraction of its size; the limit keeps exact parity for photos of the size the models were trained
 * on (`npm run bench` times preprocessing at several sizes).
 */
export const EXACT_MAX_PIXELS = 1_200_000;
