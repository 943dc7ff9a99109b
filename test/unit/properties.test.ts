/** Colours and quality from RGB pixels (src/classifier/properties.ts); the colour names' test set is test/integration/colours.test.ts. */
import { describe, expect, it } from 'vitest';
import {
  COLOUR_NAMES,
  COLOURS,
  colourOf,
  imageProperties,
  MAX_COLOURS,
} from '../../src/classifier/properties.ts';
import { PIXEL_STATISTICS_MAX_WIDTH, pixelStatistics, variance } from '../../src/classifier/resize.ts';
import { pixelStatisticsReference } from '../helpers/properties-reference.ts';

const SIDE = 64;
/** SIDE x SIDE RGB, each pixel from f(x, y). */
function image(f: (x: number, y: number) => [number, number, number]): Uint8Array {
  const out = new Uint8Array(SIDE * SIDE * 3);
  for (let y = 0; y < SIDE; y++) for (let x = 0; x < SIDE; x++) out.set(f(x, y), (y * SIDE + x) * 3);
  return out;
}

describe('image properties', () => {
  it('a solid colour: one colour at 100%, its hex and names, no contrast, no sharpness', () => {
    const p = imageProperties(
      image(() => [220, 20, 60]),
      SIDE,
      SIDE,
    );
    expect(p.colours).toEqual([{ name: 'red', zh: '红色', percent: 100, hex: '#dc143c', css: 'crimson' }]);
    expect(p.quality.contrast).toBe(0);
    expect(p.quality.sharpness).toBe(0);
    expect(p.quality.brightness).toBeCloseTo((100 * (0.299 * 220 + 0.587 * 20 + 0.114 * 60)) / 255, 0);
  });

  it('shares of several colours, largest first, at most five, none under 1%', () => {
    // Seven bands of widths 20, 14, 10, 8, 6, 5 pixels, and one column (1.6%), then 0.
    const bands: [number, [number, number, number]][] = [
      [20, [0, 0, 255]],
      [14, [255, 255, 255]],
      [10, [0, 128, 0]],
      [8, [255, 165, 0]],
      [6, [0, 0, 0]],
      [5, [128, 128, 128]],
      [1, [255, 192, 203]],
    ];
    const edges: number[] = [];
    for (const [w] of bands) edges.push((edges.at(-1) ?? 0) + w);
    const p = imageProperties(
      image((x) => (bands[edges.findIndex((e) => x < e)]?.[1] ?? [0, 0, 255]) as [number, number, number]),
      SIDE,
      SIDE,
    );
    expect(p.colours.map((c) => c.name)).toEqual(['blue', 'white', 'green', 'orange', 'black']);
    expect(p.colours).toHaveLength(MAX_COLOURS);
    expect(p.colours[0]?.percent).toBe(Math.round((1000 * 20) / 64) / 10);
  });

  it('contrast 100 for half black, half white; a fine pattern is sharp, a smooth ramp is not', () => {
    expect(
      imageProperties(
        image((x) => (x < 32 ? [0, 0, 0] : [255, 255, 255])),
        SIDE,
        SIDE,
      ).quality.contrast,
    ).toBe(100);
    const checks = imageProperties(
      image((x, y) => ((x + y) % 2 ? [200, 200, 200] : [60, 60, 60])),
      SIDE,
      SIDE,
    );
    const ramp = imageProperties(
      image((x) => [x * 4, x * 4, x * 4]),
      SIDE,
      SIDE,
    );
    expect(checks.quality.sharpness).toBeGreaterThan(95);
    expect(ramp.quality.sharpness).toBeLessThan(1);
    expect(ramp.quality.brightness).toBeGreaterThan(45);
    expect(ramp.quality.brightness).toBeLessThan(55);
  });

  it('refuses pixels that do not fill the size', () => {
    expect(() => imageProperties(new Uint8Array(10), SIDE, SIDE)).toThrow(RangeError);
  });

  it('names every colour from the fixed vocabulary, with a Chinese name each', () => {
    expect(COLOUR_NAMES).toHaveLength(11);
    for (const name of COLOUR_NAMES) expect(COLOURS[name]).toMatch(/^\p{Script=Han}+色$/u);
    expect(colourOf(128, 128, 128)).toBe('grey');
    expect(colourOf(255, 165, 0)).toBe('orange');
  });
});

describe('the pass over the pixels in WebAssembly (pixelStatistics)', () => {
  it('gives the numbers of the TypeScript loops it replaced, on random and smooth images of many sizes', () => {
    let state = 0x9e3779b9;
    const next = () => {
      // xorshift32 from a fixed seed, so every run checks the same cases.
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) / 4294967296;
    };
    const sizes = [
      [1, 1],
      [2, 2],
      [3, 5],
      [17, 4],
      [64, 64],
      [224, 224],
      [300, 181],
    ] as const;
    for (const [width, height] of sizes)
      for (const kind of ['noise', 'smooth'] as const) {
        const rgb = new Uint8Array(width * height * 3);
        for (let i = 0; i < rgb.length; i++)
          rgb[i] =
            kind === 'noise' ? Math.floor(next() * 256) : (i * 7 + Math.floor(i / (3 * width)) * 3) % 256;
        for (const bits of [4, 3]) {
          const wasm = pixelStatistics(rgb, width, height, bits);
          const reference = pixelStatisticsReference(rgb, width, height, bits);
          expect(wasm, `${width}x${height} ${kind} ${bits} bits`).toEqual(reference);
        }
      }
  });

  it('sums exactly at the extremes: a black and white checkerboard as wide as it allows (the largest Laplacian)', () => {
    const width = PIXEL_STATISTICS_MAX_WIDTH;
    const height = 4;
    const rgb = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++)
      if (((i % width) + Math.floor(i / width)) % 2 === 0) rgb.fill(255, 3 * i, 3 * i + 3);
    const wasm = pixelStatistics(rgb, width, height, 4);
    expect(wasm).toEqual(pixelStatisticsReference(rgb, width, height, 4));
    // Every interior value is +-4 x 255 (in luma units): mean 0, variance 1,040,400.
    expect(wasm.laplacianVariance).toBeCloseTo(1_040_400, 6);
    expect(wasm.lumaMean).toBe(127.5);
    expect(() => pixelStatistics(new Uint8Array(3 * (width + 1)), width + 1, 1, 4)).toThrow(RangeError);
  });

  it('variance(): n x the sum of squares - the sum squared, over n^2, in units (from thousandths)', () => {
    const values = [0, 255_000, 127_500, 3, 99_999];
    const n = values.length;
    const mean = values.reduce((a, b) => a + b, 0) / n;
    const twoPass = values.reduce((a, v) => a + ((v - mean) / 1000) ** 2, 0) / n;
    const sum = values.reduce((a, v) => a + BigInt(v), 0n);
    const squares = values.reduce((a, v) => a + BigInt(v) * BigInt(v), 0n);
    expect(variance(sum, squares, BigInt(n))).toBeCloseTo(twoPass, 6);
    expect(variance(0n, 0n, 0n)).toBe(0);
  });
});
