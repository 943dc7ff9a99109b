/**
 * The WebAssembly resize and planes (src/classifier/resize.ts, resize.c) against the JavaScript
 * loops the service ran before (test/helpers/pil-resize-reference.ts): the same bytes and floats on
 * random images, sizes, crops and tap counts (fixed seeds). torchvision itself is compared in
 * test/lab/torchvision-parity.test.ts. Where clang is installed, the committed module is rebuilt
 * from resize.c and must be byte for byte the one in src/classifier/resize-wasm.ts.
 */

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { clangVersion, compileWasm, WASM_MODULE, wasmModuleText } from '../../scripts/build-wasm.ts';
import { IMAGENET_DEFAULTS } from '../../src/classifier/model-folder.ts';
import { resizedSize } from '../../src/classifier/preprocess.ts';
import { pilResize, pilResizePlan, toNormalisedPlanes } from '../../src/classifier/resize.ts';
import { RESIZE_WASM } from '../../src/classifier/resize-wasm.ts';
import { pilResizeReference, toNormalisedPlanesReference } from '../helpers/pil-resize-reference.ts';
import { skipUnless } from '../helpers/shared.ts';

/** Mulberry32: a small seeded generator, so every run checks the same cases. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random RGB bytes, mixed with smooth gradients and flat runs (0 and 255 included: the clipping). */
function image(next: () => number, width: number, height: number): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  const kind = Math.floor(next() * 3);
  for (let i = 0; i < rgb.length; i++) {
    const x = (i / 3) % width;
    rgb[i] = kind === 0 ? Math.floor(next() * 256) : kind === 1 ? (x * 7 + i) % 256 : next() < 0.5 ? 0 : 255;
  }
  return rgb;
}

describe('pilResize (WebAssembly) = the JavaScript resize it replaced', () => {
  const next = random(24);
  const cases = Array.from({ length: 60 }, (_, i) => {
    // Shrinks (1-12 taps), enlargements (2 taps), one side unchanged, tiny and photo-sized.
    const width = i < 4 ? ([1, 2, 3, 447][i] as number) : 1 + Math.floor(next() * (i % 5 === 0 ? 1400 : 300));
    const height =
      i < 4 ? ([1, 5, 2, 335][i] as number) : 1 + Math.floor(next() * (i % 7 === 0 ? 1000 : 300));
    const shorter = i % 3 === 0 ? Math.min(width, height) : 1 + Math.floor(next() * 260);
    const cropSize = Math.max(1, Math.min(shorter, Math.floor(shorter * (0.5 + next() / 2))));
    return { width, height, shorter, cropSize };
  });

  it.each(cases)(
    '$width x $height, shorter side $shorter, centre crop $cropSize',
    ({ width, height, shorter, cropSize }) => {
      const rgb = image(next, width, height);
      const resized = resizedSize(width, height, shorter);
      const crop = {
        left: Math.floor((resized.width - cropSize) / 2),
        top: Math.floor((resized.height - cropSize) / 2),
        width: cropSize,
        height: cropSize,
      };
      const plan = pilResizePlan(width, height, resized.width, resized.height, crop);
      const whole = { left: 0, top: 0, width };
      const expected = pilResizeReference(rgb, plan, whole);
      expect(Buffer.from(pilResize(rgb, plan, whole)).equals(Buffer.from(expected))).toBe(true);
      // As preprocess() calls it: only the window's pixels, as libvips extracts them.
      const { window } = plan;
      const windowRgb = new Uint8Array(window.width * window.height * 3);
      for (let y = 0; y < window.height; y++)
        windowRgb.set(
          rgb.subarray(
            ((window.top + y) * width + window.left) * 3,
            ((window.top + y) * width + window.left + window.width) * 3,
          ),
          y * window.width * 3,
        );
      expect(Buffer.from(pilResize(windowRgb, plan)).equals(Buffer.from(expected))).toBe(true);
    },
  );
});

describe('toNormalisedPlanes (WebAssembly) = the JavaScript planes it replaced', () => {
  const next = random(7);
  it.each([
    ['RGB', IMAGENET_DEFAULTS.mean, IMAGENET_DEFAULTS.std],
    ['BGR', IMAGENET_DEFAULTS.mean, IMAGENET_DEFAULTS.std],
    ['RGB', [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]],
    ['BGR', [0.1, 0.7, 0.33], [0.9, 0.05, 0.31]],
  ] as const)('%s, mean %j, std %j', (channelOrder, mean, std) => {
    const spec = { channelOrder, mean: [...mean], std: [...std] } as Parameters<typeof toNormalisedPlanes>[2];
    for (const pixels of [1, 7, 224 * 224]) {
      const rgb = image(next, pixels, 1);
      const got = toNormalisedPlanes(rgb, pixels, spec);
      const expected = toNormalisedPlanesReference(rgb, pixels, spec);
      expect(Buffer.from(got.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
    }
  });
});

describe('src/classifier/resize-wasm.ts is resize.c compiled', () => {
  const clang = clangVersion();
  const committed = readFileSync(WASM_MODULE, 'utf8');
  const builtWith = /from resize\.c with (.*):/.exec(committed)?.[1];
  const missing =
    clang === false
      ? 'clang is not installed (apt-get install clang lld)'
      : clang !== builtWith
        ? `${clang} is not the compiler that built the committed module (${builtWith})`
        : false;
  it.skipIf(skipUnless('rebuilding the WebAssembly resize', missing))(
    'npm run build:wasm gives the committed bytes',
    () => {
      const wasm = compileWasm();
      expect(Buffer.from(RESIZE_WASM).equals(wasm)).toBe(true);
      expect(committed).toBe(wasmModuleText(wasm, clang as string));
    },
  );
});
