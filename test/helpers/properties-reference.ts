/**
 * The pass of imageProperties over the pixels written from its definitions, as plain TypeScript
 * loops with BigInt sums: the reference test/unit/properties.test.ts compares the WebAssembly pass
 * (src/classifier/resize.c, `pixelStatistics` in resize.ts) with, number for number.
 */
import { type PixelStatistics, variance } from '../../src/classifier/resize.ts';

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
  const binSums = new Uint32Array(3 * bins);
  // BT.601 luma in thousandths: an integer, so every sum below is exact.
  const luma = new Array<number>(pixels);
  let lumaSum = 0n;
  let lumaSquares = 0n;
  for (let i = 0, p = 0; i < pixels; i++, p += 3) {
    const r = rgb[p] as number;
    const g = rgb[p + 1] as number;
    const b = rgb[p + 2] as number;
    const bin = ((r >> shift) << (2 * bits)) | ((g >> shift) << bits) | (b >> shift);
    binCount[bin] = (binCount[bin] as number) + 1;
    binSums[3 * bin] = (binSums[3 * bin] as number) + r;
    binSums[3 * bin + 1] = (binSums[3 * bin + 1] as number) + g;
    binSums[3 * bin + 2] = (binSums[3 * bin + 2] as number) + b;
    const y = 299 * r + 587 * g + 114 * b;
    luma[i] = y;
    lumaSum += BigInt(y);
    lumaSquares += BigInt(y) * BigInt(y);
  }
  let lapSum = 0n;
  let lapSquares = 0n;
  let lapCount = 0n;
  for (let y = 1; y < height - 1; y++)
    for (let x = 1, i = y * width + 1; x < width - 1; x++, i++) {
      const v = BigInt(
        (luma[i - 1] as number) +
          (luma[i + 1] as number) +
          (luma[i - width] as number) +
          (luma[i + width] as number) -
          4 * (luma[i] as number),
      );
      lapSum += v;
      lapSquares += v * v;
      lapCount++;
    }
  return {
    binCount,
    binSums,
    lumaMean: Number(lumaSum) / pixels / 1000,
    lumaVariance: variance(lumaSum, lumaSquares, BigInt(pixels)),
    laplacianVariance: variance(lapSum, lapSquares, lapCount),
  };
}
