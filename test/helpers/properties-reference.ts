/**
 * The pass of imageProperties over the pixels as TypeScript loops, as it ran before it moved into
 * WebAssembly (src/classifier/resize.c, `pixelStatistics` in resize.ts): the reference
 * test/unit/properties.test.ts compares the module with, number for number.
 */
import type { PixelStatistics } from '../../src/classifier/resize.ts';

export function pixelStatisticsReference(
  rgb: Uint8Array,
  width: number,
  height: number,
  bits: number,
): PixelStatistics {
  const pixels = width * height;
  const shift = 8 - bits;
  const bins = 1 << (3 * bits);
  const binCount = new Uint32Array(bins);
  const binSums = new Float64Array(3 * bins);
  const luma = new Float32Array(pixels);
  let lumaSum = 0;
  for (let i = 0, p = 0; i < pixels; i++, p += 3) {
    const r = rgb[p] as number;
    const g = rgb[p + 1] as number;
    const b = rgb[p + 2] as number;
    const bin = ((r >> shift) << (2 * bits)) | ((g >> shift) << bits) | (b >> shift);
    binCount[bin] = (binCount[bin] as number) + 1;
    binSums[3 * bin] = (binSums[3 * bin] as number) + r;
    binSums[3 * bin + 1] = (binSums[3 * bin + 1] as number) + g;
    binSums[3 * bin + 2] = (binSums[3 * bin + 2] as number) + b;
    const y = 0.299 * r + 0.587 * g + 0.114 * b;
    luma[i] = y;
    lumaSum += y;
  }
  const mean = lumaSum / pixels;
  let variance = 0;
  for (let i = 0; i < pixels; i++) {
    const d = (luma[i] as number) - mean;
    variance += d * d;
  }
  variance /= pixels;
  let lapSum = 0;
  let lapSq = 0;
  let lapN = 0;
  for (let y = 1; y < height - 1; y++)
    for (let x = 1, i = y * width + 1; x < width - 1; x++, i++) {
      const v =
        (luma[i - 1] as number) +
        (luma[i + 1] as number) +
        (luma[i - width] as number) +
        (luma[i + width] as number) -
        4 * (luma[i] as number);
      lapSum += v;
      lapSq += v * v;
      lapN++;
    }
  return {
    binCount,
    binSums,
    lumaSum,
    lumaVariance: variance,
    laplacianSum: lapSum,
    laplacianSquares: lapSq,
    laplacianCount: lapN,
  };
}
