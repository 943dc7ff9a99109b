/**
 * The JavaScript resize and planes the service ran before they moved to WebAssembly
 * (src/classifier/resize.c): the reference that test/unit/resize.test.ts compares the WebAssembly
 * path with, byte for byte and float for float, on random images and sizes. Kept as it shipped
 * (the torchvision parity test passed with it); nothing in src/ uses it.
 */
import type { PreprocessSpec } from '../../src/classifier/preprocess.ts';
import type { PilResizePlan } from '../../src/classifier/resize.ts';

/** Pillow's fixed-point precision for 8-bit resampling (Resample.c: 32 - 8 - 2). */
const PRECISION_BITS = 22;
/** Rounding half of the last bit, added to every sum. */
const HALF = 1 << (PRECISION_BITS - 1);

/**
 * The plan's resize of interleaved RGB `rgb`, which holds the plan's window (or, with `source`, the
 * rows from source.top of a source.width-wide image whose columns start at source.left).
 * Every sum stays below 2^31 (weights are non-negative and add up to 2^22; 255 x 2^22 + 2^21 <
 * 2^31), so int32 arithmetic is exact, as Pillow's; Math.imul keeps the products int32 (the
 * resize of a 0.3 MP photo's crop took 0.93x the CPU time of float multiplies, same output).
 */
export function pilResizeReference(
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
export function toNormalisedPlanesReference(
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
