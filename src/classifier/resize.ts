/**
 * Pillow's bilinear resize (`Image.resize(size, BILINEAR)`: triangle filter, antialiased when
 * shrinking) of interleaved RGB, computed only for a crop of the output, and the normalised planes:
 * the exact half of preprocess.ts. The coefficients are Pillow's, computed here in TypeScript (the
 * same float64 steps as Resample.c); the pixel loops run in WebAssembly SIMD (src/classifier/resize.c,
 * compiled by `npm run build:wasm` into resize-wasm.ts), integer arithmetic only, so the bytes are
 * Pillow's. test/unit/resize.test.ts compares them with the JavaScript loops that ran before
 * (test/helpers/pil-resize-reference.ts) on random images and sizes; the torchvision parity test
 * with torchvision itself.
 */
import type { ModelMeta } from './model-folder.ts';
import { RESIZE_WASM } from './resize-wasm.ts';

/** Pillow's fixed-point precision for 8-bit resampling (Resample.c: 32 - 8 - 2). */
const PRECISION_BITS = 22;
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

/** The module's exports (resize.c): offsets into `memory`, which the caller lays out. */
interface ResizeExports {
  memory: WebAssembly.Memory;
  __heap_base: WebAssembly.Global;
  horizontal(
    src: number,
    srcStride: number,
    rows: number,
    dst: number,
    outWidth: number,
    start: number,
    taps: number,
    weights: number,
    ksize: number,
  ): void;
  vertical(
    src: number,
    stride: number,
    dst: number,
    outRows: number,
    start: number,
    taps: number,
    weights: number,
    ksize: number,
  ): void;
  planes(rgb: number, pixels: number, table: number, c0: number, c1: number, c2: number, out: number): void;
  pixel_statistics(
    rgb: number,
    width: number,
    height: number,
    bits: number,
    count: number,
    sums: number,
    luma: number,
    out: number,
  ): void;
  png_to_rgb(raw: number, width: number, rows: number, channels: number, zero: number, dst: number): number;
}

// Compiled and instantiated once, at module load (6 KB: well under a millisecond).
const wasm = new WebAssembly.Instance(new WebAssembly.Module(RESIZE_WASM))
  .exports as unknown as ResizeExports;
const HEAP_BASE = wasm.__heap_base.value as number;
const PAGE = 65_536;
/** Bytes after each block that the SIMD loops may read or write (resize.c). */
const SLACK = 16;

/**
 * Byte offsets of consecutive blocks of the given sizes in the module's memory (16-byte aligned,
 * each followed by SLACK bytes), growing the memory when they do not fit. One call's blocks are
 * reused by the next call: the memory only grows, to the largest image resized so far.
 */
function layout(sizes: number[]): number[] {
  let end = HEAP_BASE;
  const offsets = sizes.map((size) => {
    const offset = Math.ceil(end / 16) * 16;
    end = offset + size + SLACK;
    return offset;
  });
  const { memory } = wasm;
  if (end > memory.buffer.byteLength) memory.grow(Math.ceil((end - memory.buffer.byteLength) / PAGE));
  return offsets;
}

/** Copies `data` into the module's memory at `offset` (views are made after layout(): growing detaches them). */
function put(offset: number, data: Uint8Array | Int32Array | Float32Array): void {
  new Uint8Array(wasm.memory.buffer, offset, data.byteLength).set(
    new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  );
}

/**
 * The plan's resize of interleaved RGB `rgb`, which holds the plan's window (or, with `source`, the
 * rows from source.top of a source.width-wide image whose columns start at source.left): Pillow's
 * two passes (horizontal over the rows the vertical pass reads, then vertical), each rounded to
 * 8 bits, in WebAssembly SIMD. Pillow skips a pass when that size does not change: the identity
 * either way (one tap of weight 2^22).
 */
export function pilResize(
  rgb: Uint8Array,
  plan: PilResizePlan,
  source: { left: number; top: number; width: number } = plan.window,
): Uint8Array {
  const { h, v, crop, window } = plan;
  const rowBytes = source.width * 3;
  const rows = rgb.subarray(
    (window.top - source.top) * rowBytes,
    (window.top - source.top + window.height) * rowBytes,
  );
  // Byte offsets of the first tap in a row, and rows of the window.
  const hStart = h.start.map((x) => (x - source.left) * 3);
  const vStart = v.start.map((y) => y - window.top);
  const stride = crop.width * 3;
  const outBytes = stride * crop.height;
  const [src, temp, out, hs, ht, hw, vs, vt, vw] = layout([
    rows.byteLength,
    stride * window.height,
    outBytes,
    hStart.byteLength,
    h.taps.byteLength,
    h.weights.byteLength,
    vStart.byteLength,
    v.taps.byteLength,
    v.weights.byteLength,
  ]) as [number, number, number, number, number, number, number, number, number];
  put(src, rows);
  put(hs, hStart);
  put(ht, h.taps);
  put(hw, h.weights);
  put(vs, vStart);
  put(vt, v.taps);
  put(vw, v.weights);
  wasm.horizontal(src, rowBytes, window.height, temp, crop.width, hs, ht, hw, h.ksize);
  wasm.vertical(temp, stride, out, crop.height, vs, vt, vw, v.ksize);
  return new Uint8Array(wasm.memory.buffer, out, outBytes).slice();
}

export type PlanesSpec = Pick<ModelMeta, 'mean' | 'std' | 'channelOrder'>;

/**
 * Interleaved RGB uint8 -> planar float32 `(x/255 - mean)/std`, planes in the model's channel order.
 * The float32 of each channel's 256 values is computed here, as before (float64, then rounded to
 * float32), and the module's loop looks each pixel up.
 */
export function toNormalisedPlanes(rgb: Uint8Array, pixelCount: number, spec: PlanesSpec): Float32Array {
  // Plane c holds source channel src[c].
  const src = spec.channelOrder === 'RGB' ? [0, 1, 2] : [2, 1, 0];
  const table = new Float32Array(3 * 256);
  src.forEach((s, c) => {
    const scale = 1 / (255 * (spec.std[s] as number));
    const shift = (spec.mean[s] as number) / (spec.std[s] as number);
    for (let value = 0; value < 256; value++) table[c * 256 + value] = value * scale - shift;
  });
  const pixels = rgb.subarray(0, 3 * pixelCount);
  const [input, lookup, out] = layout([pixels.byteLength, table.byteLength, 3 * pixelCount * 4]) as [
    number,
    number,
    number,
  ];
  put(input, pixels);
  put(lookup, table);
  const [c0, c1, c2] = src as [number, number, number];
  wasm.planes(input, pixelCount, lookup, c0, c1, c2, out);
  return new Float32Array(wasm.memory.buffer, out, 3 * pixelCount).slice();
}

/** What imageProperties (properties.ts) needs from one pass over the pixels. */
export interface PixelStatistics {
  /** Pixels per bin of RGB at `bits` per channel (bin = r << 2 bits | g << bits | b, each shifted to `bits`). */
  binCount: Uint32Array;
  /** Their red, green and blue sums, three per bin. */
  binSums: Uint32Array;
  /** The mean of the pixels' BT.601 luma (0-255), and its variance. */
  lumaMean: number;
  lumaVariance: number;
  /** The variance of the luma's 4-neighbour Laplacian over the interior (0 without one). */
  laplacianVariance: number;
}

/** The widest image pixel_statistics sums exactly (its per-row int32 and float64 lanes). */
export const PIXEL_STATISTICS_MAX_WIDTH = 8000;

/**
 * The pass of imageProperties over width x height interleaved RGB, in WebAssembly (resize.c,
 * `pixel_statistics`): integer sums, exact, of the luma in thousandths (299 r + 587 g + 114 b); each
 * variance is n * sum of squares - sum^2 in BigInt, divided once. test/helpers/properties-reference.ts
 * computes the same from the definitions, in TypeScript.
 */
export function pixelStatistics(
  rgb: Uint8Array,
  width: number,
  height: number,
  bits: number,
): PixelStatistics {
  if (width > PIXEL_STATISTICS_MAX_WIDTH)
    throw new RangeError(`pixelStatistics: ${width} pixels wide, at most ${PIXEL_STATISTICS_MAX_WIDTH}`);
  const pixels = width * height;
  const bins = 1 << (3 * bits);
  const [input, count, sums, luma, out] = layout([3 * pixels, 4 * bins, 4 * 3 * bins, 4 * pixels, 8 * 4]) as [
    number,
    number,
    number,
    number,
    number,
  ];
  put(input, rgb.subarray(0, 3 * pixels));
  const binCount = new Uint32Array(wasm.memory.buffer, count, bins);
  const binSums = new Uint32Array(wasm.memory.buffer, sums, 3 * bins);
  binCount.fill(0);
  binSums.fill(0);
  wasm.pixel_statistics(input, width, height, bits, count, sums, luma, out);
  const [lumaSum, lumaSquares, laplacianSum, laplacianSquares] = new BigInt64Array(
    wasm.memory.buffer,
    out,
    4,
  ) as unknown as [bigint, bigint, bigint, bigint];
  const interior = width > 2 && height > 2 ? (width - 2) * (height - 2) : 0;
  return {
    binCount: binCount.slice(),
    binSums: binSums.slice(),
    lumaMean: Number(lumaSum) / pixels / 1000,
    lumaVariance: variance(lumaSum, lumaSquares, BigInt(pixels)),
    laplacianVariance: variance(laplacianSum, laplacianSquares, BigInt(interior)),
  };
}

/** The variance of n values in thousandths, from their exact sum and sum of squares, in units squared. */
export function variance(sum: bigint, squares: bigint, n: bigint): number {
  if (n === 0n) return 0;
  return Number(n * squares - sum * sum) / Number(n * n) / 1e6;
}

/**
 * A PNG's inflated image data (8-bit samples, `channels` of them a pixel, each row led by its filter
 * byte) as interleaved RGB, in WebAssembly (resize.c, `png_to_rgb`): the rows reconstructed, grey
 * repeated, alpha over white as libvips flattens it. Undefined for a filter byte that is not 0-4.
 */
export function pngToRgb(
  raw: Uint8Array,
  width: number,
  height: number,
  channels: number,
): Uint8Array | undefined {
  const stride = width * channels;
  const [src, zero, dst] = layout([height * (stride + 1), stride, width * height * 3]) as [
    number,
    number,
    number,
  ];
  put(src, raw.subarray(0, height * (stride + 1)));
  new Uint8Array(wasm.memory.buffer, zero, stride).fill(0);
  if (wasm.png_to_rgb(src, width, height, channels, zero, dst) !== 0) return undefined;
  return new Uint8Array(wasm.memory.buffer, dst, width * height * 3).slice();
}
