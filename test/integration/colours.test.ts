/**
 * The colour test set (docs/colours.md), made here and never committed: solid and two-colour images
 * of known colours through the real decode (JPEG), and the shared photos recoloured by a known hue
 * shift (a rotation of the RGB channels: red becomes green, green blue, blue red; greys stay grey).
 */
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { IMAGENET_DEFAULTS } from '../../src/classifier/model-folder.ts';
import { preprocess } from '../../src/classifier/preprocess.ts';
import { type ColourName, colourOf, imageProperties } from '../../src/classifier/properties.ts';
import { sharedPhotos, skipUnlessShared } from '../helpers/shared.ts';

const spec = { ...IMAGENET_DEFAULTS, resizeShorter: 256, cropSize: 224 };
const SIDE = spec.cropSize;

/** Everyday colours everyone names alike (CSS names and common web colours). */
const KNOWN_COLOURS: Record<ColourName, string[]> = {
  red: ['ff0000', 'dc143c', 'b22222', '8b0000', 'c0392b', 'e74c3c', 'cd5c5c'],
  orange: ['ffa500', 'ff8c00', 'ff7f50', 'e67e22', 'f39c12'],
  yellow: ['ffff00', 'ffd700', 'f0e68c', 'f1c40f', 'fff44f'],
  green: ['008000', '00ff00', '228b22', '32cd32', '006400', '9acd32', '2ecc71', '808000', '556b2f'],
  blue: ['0000ff', '000080', '4169e1', '1e90ff', '87ceeb', '4682b4', '008080', '00ffff', '3498db', '191970'],
  purple: ['800080', '9400d3', '4b0082', 'ff00ff', 'ee82ee', '8e44ad', '663399', 'dda0dd'],
  pink: ['ffc0cb', 'ff69b4', 'ff1493', 'ffb6c1', 'db7093'],
  brown: ['8b4513', 'a0522d', 'd2691e', '654321', '5c4033', 'd2b48c', '6f4e37', '964b00', 'deb887'],
  black: ['000000', '1a1a1a', '202020', '101820', '2b2b2b'],
  white: ['ffffff', 'fafafa', 'fffff0', 'f5f5dc', 'f0f8ff', 'fffafa', 'e8e8e8'],
  grey: ['808080', 'a9a9a9', 'c0c0c0', '696969', '708090', '778899', '5a5a5a', 'd3d3d3'],
};
const rgbOf = (hex: string) =>
  [0, 2, 4].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
const known = Object.entries(KNOWN_COLOURS).flatMap(([name, hexes]) =>
  hexes.map((hex) => ({ name: name as ColourName, hex })),
);

/** A 320x240 JPEG: one colour, or `left` on the left half and `right` on the right. */
function jpeg(left: string, right = left): Promise<Buffer> {
  const [w, h] = [320, 240];
  const a = rgbOf(left);
  const b = rgbOf(right);
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw.set(x < w / 2 ? a : b, (y * w + x) * 3);
  return sharp(raw, { raw: { width: w, height: h, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

const propertiesOf = async (bytes: Buffer) => {
  const { rgb } = await preprocess(bytes, spec);
  return { rgb, ...imageProperties(rgb, SIDE, SIDE) };
};

describe('colour names of known colours, through a JPEG decode', () => {
  it('names each solid colour (61 colours, 11 names)', async () => {
    const wrong: string[] = [];
    for (const { name, hex } of known) {
      const { colours } = await propertiesOf(await jpeg(hex));
      const top = colours[0];
      if (top?.name !== name || top.percent < 95)
        wrong.push(`#${hex}: ${name}, got ${JSON.stringify(colours)}`);
    }
    expect(wrong).toEqual([]);
  });

  it('names both halves of two-colour images, about 50% each', async () => {
    const wrong: string[] = [];
    // Each colour next to one of another name (the next name's first colour, the one after's last).
    const names = Object.keys(KNOWN_COLOURS) as ColourName[];
    for (const [i, name] of names.entries()) {
      for (const other of [names[(i + 1) % names.length], names[(i + 3) % names.length]] as ColourName[]) {
        const a = (KNOWN_COLOURS[name] as string[])[0] as string;
        const b = (KNOWN_COLOURS[other] as string[]).at(-1) as string;
        const { colours } = await propertiesOf(await jpeg(a, b));
        const share = (n: ColourName) => colours.find((c) => c.name === n)?.percent ?? 0;
        if (Math.abs(share(name) - 50) > 3 || Math.abs(share(other) - 50) > 3)
          wrong.push(`#${a} | #${b}: ${name} + ${other}, got ${JSON.stringify(colours)}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});

describe.skipIf(skipUnlessShared('the recoloured shared photos'))('the shared photos, recoloured', () => {
  /**
   * Channel rotation (R,G,B) -> (B,R,G) is a hue shift of exactly 120 degrees in HSV. Judged on the
   * pixels whose name it must change and how: saturated ones (HSV S and V >= 0.6) within 12 degrees
   * of pure red, green or blue (their shift lands within 12 degrees of the next one: red -> green ->
   * blue -> red), and neutral ones (S < 0.04, which the rotation leaves neutral) keep theirs. (A
   * sky blue, 210 degrees, becomes a pink, 330: other hues move to other names, not checked here.)
   */
  const EXPECTED: Record<string, ColourName | 'same'> = {
    red: 'green',
    green: 'blue',
    blue: 'red',
    neutral: 'same',
  };
  const tally = new Map<string, { hit: number; total: number }>();
  beforeAll(async () => {
    const cache = new Map<number, ColourName>();
    const nameOf = (r: number, g: number, b: number) => {
      const packed = (r << 16) | (g << 8) | b;
      const cached = cache.get(packed);
      if (cached) return cached;
      const name = colourOf(r, g, b);
      cache.set(packed, name);
      return name;
    };
    for (const photo of sharedPhotos()) {
      // The photo and its two rotations; each is judged against the next (the third against the
      // photo), so the photos' many saturated reds, once shifted, test green -> blue and blue -> red.
      const rotate = (times: number) => {
        const m =
          times === 1
            ? [
                [0, 0, 1],
                [1, 0, 0],
                [0, 1, 0],
              ]
            : [
                [0, 1, 0],
                [0, 0, 1],
                [1, 0, 0],
              ];
        return sharp(photo.path)
          .recomb(m as [[number, number, number], [number, number, number], [number, number, number]])
          .png()
          .toBuffer();
      };
      const images = [await sharp(photo.path).toBuffer(), await rotate(1), await rotate(2)];
      const pixels = await Promise.all(images.map(async (bytes) => (await preprocess(bytes, spec)).rgb));
      for (let i = 0; i < 3; i++) tallyPair(pixels[i] as Uint8Array, pixels[(i + 1) % 3] as Uint8Array);
    }
    function tallyPair(before: Uint8Array, after: Uint8Array) {
      for (let p = 0; p < before.length; p += 3) {
        const [r, g, b] = [before[p] as number, before[p + 1] as number, before[p + 2] as number];
        const max = Math.max(r, g, b);
        const min = Math.min(r, g, b);
        const sat = max === 0 ? 0 : (max - min) / max;
        let group: string | undefined;
        if (sat < 0.04) group = 'neutral';
        else if (sat >= 0.6 && max >= 153) {
          const d = max - min;
          const hue =
            max === r
              ? (60 * ((g - b) / d) + 360) % 360
              : max === g
                ? 60 * ((b - r) / d) + 120
                : 60 * ((r - g) / d) + 240;
          const near = (c: number) => Math.min(Math.abs(hue - c), 360 - Math.abs(hue - c)) <= 12;
          group = near(0) ? 'red' : near(120) ? 'green' : near(240) ? 'blue' : undefined;
        }
        if (!group) continue;
        const want = EXPECTED[group] === 'same' ? nameOf(r, g, b) : EXPECTED[group];
        const got = nameOf(after[p] as number, after[p + 1] as number, after[p + 2] as number);
        const t = tally.get(group) ?? { hit: 0, total: 0 };
        t.total++;
        if (got === want) t.hit++;
        tally.set(group, t);
      }
    }
  }, 180_000);

  it("moves red to green, green to blue, blue to red, and keeps neutral pixels' names", () => {
    const report = [...tally].map(
      ([group, t]) => `${group}: ${t.hit}/${t.total} (${((100 * t.hit) / t.total).toFixed(1)}%)`,
    );
    console.log(`recoloured photos, pixels named as expected: ${report.join(', ')}`);
    for (const [group, t] of tally) expect(t.hit / t.total, group).toBeGreaterThanOrEqual(0.95);
    expect([...tally.keys()].sort()).toEqual(['blue', 'green', 'neutral', 'red']);
  });
});
