/**
 * Image properties from the pixels the classifier already decoded (the model's resized, centre-cropped
 * RGB input, e.g. 224x224; no second decode), as Rekognition's DetectLabels gives them:
 *
 * - dominant colours: up to MAX_COLOURS, each a simplified colour name from a fixed vocabulary of
 *   eleven (COLOURS: English and Chinese), the share of the pixels it names (percent), their mean
 *   colour (hex) and the nearest CSS named colour of that mean (`css`, a finer name).
 *   Colours are named by rules on their lightness, chroma and hue in OKLCh, a perceptually uniform
 *   space (colourOf); the pixels are first gathered in 4096 bins (RGB at 4 bits per channel) and
 *   each occupied bin is named by the mean of its pixels, so an image costs one pass over its
 *   pixels and a few hundred namings.
 * - quality, each 0-100: brightness (mean luma, BT.601), contrast (standard deviation of the luma,
 *   100 = half black, half white) and sharpness (variance of the luma's 4-neighbour Laplacian,
 *   mapped to 0-100 by SHARPNESS_HALF; measured at the model's input size, so it says how sharp the
 *   picture looks as a whole, not whether a 12 MP original is pixel-sharp).
 *
 * What it costs and how well the names hold (solid, two-colour and hue-shifted photos): docs/colours.md.
 */

import { pixelStatistics } from './resize.ts';

/** The simplified colour names, as Rekognition's SimplifiedColor (with its Chinese name). */
export const COLOURS = {
  red: '红色',
  orange: '橙色',
  yellow: '黄色',
  green: '绿色',
  blue: '蓝色',
  purple: '紫色',
  pink: '粉色',
  brown: '棕色',
  black: '黑色',
  white: '白色',
  grey: '灰色',
} as const;
export type ColourName = keyof typeof COLOURS;
export const COLOUR_NAMES = Object.keys(COLOURS) as ColourName[];

/** The CSS named colours (CSS Color Module Level 4; the finer `css` name of a dominant colour). */
const CSS_COLOURS: Record<string, string> = {
  red: 'ff0000',
  darkred: '8b0000',
  maroon: '800000',
  firebrick: 'b22222',
  crimson: 'dc143c',
  indianred: 'cd5c5c',
  lightcoral: 'f08080',
  salmon: 'fa8072',
  darksalmon: 'e9967a',
  lightsalmon: 'ffa07a',
  orangered: 'ff4500',
  tomato: 'ff6347',
  coral: 'ff7f50',
  darkorange: 'ff8c00',
  orange: 'ffa500',
  yellow: 'ffff00',
  gold: 'ffd700',
  lightyellow: 'ffffe0',
  lemonchiffon: 'fffacd',
  lightgoldenrodyellow: 'fafad2',
  papayawhip: 'ffefd5',
  moccasin: 'ffe4b5',
  peachpuff: 'ffdab9',
  palegoldenrod: 'eee8aa',
  khaki: 'f0e68c',
  darkkhaki: 'bdb76b',
  greenyellow: 'adff2f',
  chartreuse: '7fff00',
  lawngreen: '7cfc00',
  lime: '00ff00',
  limegreen: '32cd32',
  palegreen: '98fb98',
  lightgreen: '90ee90',
  mediumspringgreen: '00fa9a',
  springgreen: '00ff7f',
  mediumseagreen: '3cb371',
  seagreen: '2e8b57',
  forestgreen: '228b22',
  green: '008000',
  darkgreen: '006400',
  yellowgreen: '9acd32',
  olivedrab: '6b8e23',
  olive: '808000',
  darkolivegreen: '556b2f',
  mediumaquamarine: '66cdaa',
  darkseagreen: '8fbc8f',
  aquamarine: '7fffd4',
  cyan: '00ffff',
  lightcyan: 'e0ffff',
  paleturquoise: 'afeeee',
  turquoise: '40e0d0',
  mediumturquoise: '48d1cc',
  darkturquoise: '00ced1',
  lightseagreen: '20b2aa',
  cadetblue: '5f9ea0',
  darkcyan: '008b8b',
  teal: '008080',
  lightsteelblue: 'b0c4de',
  powderblue: 'b0e0e6',
  lightblue: 'add8e6',
  skyblue: '87ceeb',
  lightskyblue: '87cefa',
  deepskyblue: '00bfff',
  dodgerblue: '1e90ff',
  cornflowerblue: '6495ed',
  steelblue: '4682b4',
  royalblue: '4169e1',
  blue: '0000ff',
  mediumblue: '0000cd',
  darkblue: '00008b',
  navy: '000080',
  midnightblue: '191970',
  lavender: 'e6e6fa',
  thistle: 'd8bfd8',
  plum: 'dda0dd',
  violet: 'ee82ee',
  orchid: 'da70d6',
  magenta: 'ff00ff',
  mediumorchid: 'ba55d3',
  mediumpurple: '9370db',
  rebeccapurple: '663399',
  blueviolet: '8a2be2',
  darkviolet: '9400d3',
  darkorchid: '9932cc',
  darkmagenta: '8b008b',
  purple: '800080',
  indigo: '4b0082',
  slateblue: '6a5acd',
  darkslateblue: '483d8b',
  mediumslateblue: '7b68ee',
  pink: 'ffc0cb',
  lightpink: 'ffb6c1',
  hotpink: 'ff69b4',
  deeppink: 'ff1493',
  palevioletred: 'db7093',
  mediumvioletred: 'c71585',
  cornsilk: 'fff8dc',
  blanchedalmond: 'ffebcd',
  bisque: 'ffe4c4',
  navajowhite: 'ffdead',
  wheat: 'f5deb3',
  burlywood: 'deb887',
  tan: 'd2b48c',
  rosybrown: 'bc8f8f',
  sandybrown: 'f4a460',
  goldenrod: 'daa520',
  darkgoldenrod: 'b8860b',
  peru: 'cd853f',
  chocolate: 'd2691e',
  saddlebrown: '8b4513',
  sienna: 'a0522d',
  brown: 'a52a2a',
  white: 'ffffff',
  snow: 'fffafa',
  honeydew: 'f0fff0',
  mintcream: 'f5fffa',
  azure: 'f0ffff',
  aliceblue: 'f0f8ff',
  ghostwhite: 'f8f8ff',
  whitesmoke: 'f5f5f5',
  seashell: 'fff5ee',
  beige: 'f5f5dc',
  oldlace: 'fdf5e6',
  floralwhite: 'fffaf0',
  ivory: 'fffff0',
  antiquewhite: 'faebd7',
  linen: 'faf0e6',
  lavenderblush: 'fff0f5',
  mistyrose: 'ffe4e1',
  gainsboro: 'dcdcdc',
  lightgrey: 'd3d3d3',
  silver: 'c0c0c0',
  darkgrey: 'a9a9a9',
  grey: '808080',
  dimgrey: '696969',
  lightslategrey: '778899',
  slategrey: '708090',
  darkslategrey: '2f4f4f',
  black: '000000',
};

export interface DominantColour {
  /** Simplified colour name (English). */
  name: ColourName;
  /** Its Chinese name. */
  zh: string;
  /** Share of the pixels named so, 0-100, one decimal. */
  percent: number;
  /** Mean colour of those pixels, "#rrggbb". */
  hex: string;
  /** The CSS named colour nearest to that mean. */
  css: string;
}

export interface ImageQuality {
  brightness: number;
  contrast: number;
  sharpness: number;
}

export interface ImageProperties {
  colours: DominantColour[];
  quality: ImageQuality;
}

export const MAX_COLOURS = 5;
/** A colour naming less than this share of the pixels (percent) is not reported. */
export const MIN_COLOUR_PERCENT = 1;
/**
 * The Laplacian variance that maps to sharpness 50 (sharpness = 100 v / (v + SHARPNESS_HALF)), chosen
 * on the shared photos at 224x224 (docs/colours.md): their median is about 60, a Gaussian blur of
 * sigma 2 brings them under 10.
 */
export const SHARPNESS_HALF = 400;

const linear = (c: number) => {
  const v = c / 255;
  return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
};
/** linear() of each 8-bit value. */
const LINEAR = Float64Array.from({ length: 256 }, (_, c) => linear(c));
const lin = (c: number) => (Number.isInteger(c) && c >= 0 && c <= 255 ? (LINEAR[c] as number) : linear(c));

/** sRGB 0-255 -> OKLab (Björn Ottosson's matrices). */
function oklab(r: number, g: number, b: number): [number, number, number] {
  const lr = lin(r);
  const lg = lin(g);
  const lb = lin(b);
  const l = Math.cbrt(0.4122214708 * lr + 0.5363137205 * lg + 0.0514459929 * lb);
  const m = Math.cbrt(0.2119034982 * lr + 0.6806995451 * lg + 0.1073969566 * lb);
  const s = Math.cbrt(0.0883024619 * lr + 0.2817188376 * lg + 0.6299787996 * lb);
  return [
    0.2104542553 * l + 0.793617785 * m - 0.0040720468 * s,
    1.9779984951 * l - 2.428592205 * m + 0.4505937099 * s,
    0.0259040371 * l + 0.7827717662 * m - 0.808675766 * s,
  ];
}

/**
 * The simplified colour of an sRGB colour, by rules on its OKLCh lightness L (0-1), chroma C and hue
 * h (degrees; pure red is 29, yellow 110, green 142, cyan 195, blue 264, magenta 328):
 * - very dark (L < 0.22, or L < 0.3 with C < 0.08) is black;
 * - nearly neutral (C under 0.035 for warm hues, 0.05 for cool ones): white (L >= 0.9), black
 *   (L < 0.3) or grey; pale warm tints (L >= 0.88, C < 0.08) are white too;
 * - otherwise by hue: pink 345-360 (dark: red), red 0-38 (light: pink), orange 38-75, yellow 75-115,
 *   green 115-175, blue 175-290 (cyans count as blue), purple 290-345; a dark or muted red, orange
 *   or dark yellow is brown, a dark yellow-green is green (olive).
 */
export function colourOf(r: number, g: number, b: number): ColourName {
  return COLOUR_NAMES[colourIndex(r, g, b)] as ColourName;
}

const [BLACK, WHITE, GREY, RED, PINK, BROWN, ORANGE, YELLOW, GREEN, BLUE, PURPLE] = (
  ['black', 'white', 'grey', 'red', 'pink', 'brown', 'orange', 'yellow', 'green', 'blue', 'purple'] as const
).map((name) => COLOUR_NAMES.indexOf(name)) as number[] as [
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
];

/** colourOf, as an index into COLOUR_NAMES. */
function colourIndex(r: number, g: number, b: number): number {
  const [L, A, B] = oklab(r, g, b);
  const C = Math.hypot(A, B);
  const h = ((Math.atan2(B, A) * 180) / Math.PI + 360) % 360;
  if (L < 0.22 || (L < 0.3 && C < 0.08)) return BLACK;
  const warm = h < 115 || h >= 345;
  if (C < (warm ? 0.035 : 0.05) || (warm && L >= 0.88 && C < 0.08))
    return L >= 0.9 ? WHITE : L < 0.3 ? BLACK : GREY;
  const muted = C < 0.1 && L < 0.7;
  if (h >= 345) return L < 0.45 ? RED : muted ? BROWN : PINK;
  if (h < 15) return L > 0.6 ? PINK : muted ? BROWN : RED;
  if (h < 38) return L > 0.8 ? PINK : muted ? BROWN : RED;
  if (h < 75) return L >= 0.65 && C >= 0.13 ? ORANGE : BROWN;
  if (h < 115) return L >= 0.75 && C >= 0.09 ? YELLOW : h < 100 ? BROWN : GREEN;
  if (h < 175) return GREEN;
  if (h < 290) return BLUE;
  return PURPLE;
}

interface CssEntry {
  css: string;
  colour: ColourName;
  lab: [number, number, number];
}

const rgbOf = (hex: string): [number, number, number] => [
  Number.parseInt(hex.slice(0, 2), 16),
  Number.parseInt(hex.slice(2, 4), 16),
  Number.parseInt(hex.slice(4, 6), 16),
];

let cssEntries: CssEntry[] | undefined;
/** The CSS named colour nearest (in OKLab) to an sRGB colour, among those of the same simplified colour. */
function nearestCss(r: number, g: number, b: number, colour: ColourName): string {
  cssEntries ??= Object.entries(CSS_COLOURS).map(([css, hex]) => {
    const rgb = rgbOf(hex);
    return { css, colour: colourOf(...rgb), lab: oklab(...rgb) };
  });
  const [L, A, B] = oklab(r, g, b);
  let best = '';
  let bestD = Number.POSITIVE_INFINITY;
  for (const pass of [true, false]) {
    for (const e of cssEntries) {
      if (pass && e.colour !== colour) continue;
      const d = (L - e.lab[0]) ** 2 + (A - e.lab[1]) ** 2 + (B - e.lab[2]) ** 2;
      if (d < bestD) {
        bestD = d;
        best = e.css;
      }
    }
    if (best) break;
  }
  return best;
}

/** Pixels are gathered in bins of RGB quantised to BITS per channel; each bin is named by its mean. */
const BITS = 4;

const hex2 = (v: number) => Math.round(v).toString(16).padStart(2, '0');
const round1 = (v: number) => Math.round(v * 10) / 10;
const clamp100 = (v: number) => Math.min(100, Math.max(0, v));

/**
 * Colours and quality of interleaved RGB pixels (`width` x `height`, 3 bytes per pixel).
 */
export function imageProperties(rgb: Uint8Array, width: number, height: number): ImageProperties {
  const pixels = width * height;
  if (pixels <= 0 || rgb.length < pixels * 3)
    throw new RangeError(`expected ${width}x${height} RGB pixels, got ${rgb.length} bytes`);
  const bins = 1 << (3 * BITS);
  const { binCount, binSums, lumaMean, lumaVariance, laplacianVariance } = pixelStatistics(
    rgb,
    width,
    height,
    BITS,
  );
  // Name each occupied bin by its mean colour, and add it to that name.
  const n = COLOUR_NAMES.length;
  const count = new Uint32Array(n);
  const sums = new Float64Array(3 * n);
  for (let bin = 0; bin < bins; bin++) {
    const k = binCount[bin] as number;
    if (k === 0) continue;
    const r = binSums[3 * bin] as number;
    const g = binSums[3 * bin + 1] as number;
    const b = binSums[3 * bin + 2] as number;
    const c = colourIndex(r / k, g / k, b / k);
    count[c] = (count[c] as number) + k;
    sums[3 * c] = (sums[3 * c] as number) + r;
    sums[3 * c + 1] = (sums[3 * c + 1] as number) + g;
    sums[3 * c + 2] = (sums[3 * c + 2] as number) + b;
  }

  const colours: DominantColour[] = [];
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (a, b) => (count[b] as number) - (count[a] as number) || a - b,
  );
  for (const c of order.slice(0, MAX_COLOURS)) {
    const k = count[c] as number;
    const percent = (100 * k) / pixels;
    if (k === 0 || percent < MIN_COLOUR_PERCENT) break;
    const r = (sums[3 * c] as number) / k;
    const g = (sums[3 * c + 1] as number) / k;
    const b = (sums[3 * c + 2] as number) / k;
    const name = COLOUR_NAMES[c] as ColourName;
    colours.push({
      name,
      zh: COLOURS[name],
      percent: round1(percent),
      hex: `#${hex2(r)}${hex2(g)}${hex2(b)}`,
      css: nearestCss(r, g, b, name),
    });
  }
  return {
    colours,
    quality: {
      brightness: round1(clamp100((100 * lumaMean) / 255)),
      contrast: round1(clamp100((100 * Math.sqrt(lumaVariance)) / 127.5)),
      sharpness: round1(clamp100((100 * laplacianVariance) / (laplacianVariance + SHARPNESS_HALF))),
    },
  };
}
