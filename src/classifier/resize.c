/*
 * Pillow's bilinear (triangle filter, antialiased) resize of interleaved RGB, 8 bits a channel, and
 * the normalised planes, in WebAssembly SIMD (v128); the colour measures' pass over the pixels
 * (pixel_statistics) and the reconstruction of a PNG's rows (png_to_rgb), at the end.
 * `npm run build:wasm` compiles this file into src/classifier/resize-wasm.ts (clang --target=wasm32
 * -msimd128; see scripts/build-wasm.ts), which src/classifier/resize.ts loads. The coefficients come from TypeScript (pilResizePlan), so only
 * integer arithmetic happens here: Pillow's 22-bit fixed point, each pass rounded and clipped to
 * 8 bits, horizontal pass before vertical. Integer sums are exact in any order (every sum stays
 * below 2^31: weights are non-negative and add up to about 2^22; 255 x 2^22 + 2^21 < 2^31), so the
 * lanes can hold channels or columns and the bytes are Pillow's (Resample.c).
 *
 * No libc: the caller owns the memory (the module's exported `memory`, from `__heap_base` on) and
 * passes byte offsets. Buffers that are read 8 or 16 bytes at a time must have 16 bytes of slack
 * after their end; outputs are written up to 16 bytes beyond their end too.
 */
#include <stdint.h>
#include <wasm_simd128.h>

#define PRECISION_BITS 22
#define HALF (1 << (PRECISION_BITS - 1))

/* Four int32 sums -> their >> PRECISION_BITS clipped to 0..255 (Pillow's clip8), in bytes 0-3. */
static inline v128_t clip8(v128_t sum) {
  v128_t shifted = wasm_i32x4_shr(sum, PRECISION_BITS);
  v128_t words = wasm_i16x8_narrow_i32x4(shifted, shifted);
  return wasm_u8x16_narrow_i16x8(words, words);
}

/*
 * Horizontal pass: `rows` rows of `src` (`srcStride` bytes apart) to `rows` rows of `outWidth` RGB
 * pixels in `dst`. Output pixel o of a row reads taps[o] source pixels from byte start[o] of the
 * row, with weights[o * ksize + k]. One output pixel's three channels share a vector (lane 3 is
 * the next byte's junk, never stored).
 */
__attribute__((export_name("horizontal"))) void horizontal(const uint8_t *src, int32_t srcStride,
                                                           int32_t rows, uint8_t *dst, int32_t outWidth,
                                                           const int32_t *start, const int32_t *taps,
                                                           const int32_t *weights, int32_t ksize) {
  const v128_t half = wasm_i32x4_splat(HALF);
  for (int32_t y = 0; y < rows; y++) {
    const uint8_t *row = src + y * srcStride;
    uint8_t *out = dst + y * outWidth * 3;
    for (int32_t o = 0; o < outWidth; o++) {
      const uint8_t *p = row + start[o];
      const int32_t *w = weights + o * ksize;
      const int32_t n = taps[o];
      v128_t a = half;
      v128_t b = wasm_i32x4_splat(0);
      int32_t k = 0;
      for (; k + 1 < n; k += 2, p += 6) {
        /* Two taps from one 8-byte load: pixel k in u16 lanes 0-2, pixel k + 1 in lanes 3-5. */
        v128_t px = wasm_u16x8_load8x8(p);
        a = wasm_i32x4_add(a, wasm_i32x4_mul(wasm_u32x4_extend_low_u16x8(px), wasm_i32x4_splat(w[k])));
        v128_t next = wasm_i16x8_shuffle(px, px, 3, 4, 5, 6, 0, 0, 0, 0);
        b = wasm_i32x4_add(b, wasm_i32x4_mul(wasm_u32x4_extend_low_u16x8(next), wasm_i32x4_splat(w[k + 1])));
      }
      if (k < n) {
        v128_t px = wasm_u32x4_extend_low_u16x8(wasm_u16x8_load8x8(p));
        a = wasm_i32x4_add(a, wasm_i32x4_mul(px, wasm_i32x4_splat(w[k])));
      }
      wasm_v128_store32_lane(out + o * 3, clip8(wasm_i32x4_add(a, b)), 0);
    }
  }
}

/*
 * Vertical pass: output row o of `dst` (`stride` bytes) sums taps[o] rows of `src` from row
 * start[o], with weights[o * ksize + k]. Sixteen bytes (columns and channels alike) at a time.
 */
__attribute__((export_name("vertical"))) void vertical(const uint8_t *src, int32_t stride, uint8_t *dst,
                                                       int32_t outRows, const int32_t *start,
                                                       const int32_t *taps, const int32_t *weights,
                                                       int32_t ksize) {
  const v128_t half = wasm_i32x4_splat(HALF);
  for (int32_t o = 0; o < outRows; o++) {
    const uint8_t *first = src + start[o] * stride;
    const int32_t *w = weights + o * ksize;
    const int32_t n = taps[o];
    uint8_t *out = dst + o * stride;
    for (int32_t i = 0; i < stride; i += 16) {
      v128_t s0 = half, s1 = half, s2 = half, s3 = half;
      const uint8_t *p = first + i;
      for (int32_t k = 0; k < n; k++, p += stride) {
        v128_t bytes = wasm_v128_load(p);
        v128_t lo = wasm_u16x8_extend_low_u8x16(bytes);
        v128_t hi = wasm_u16x8_extend_high_u8x16(bytes);
        v128_t wk = wasm_i32x4_splat(w[k]);
        s0 = wasm_i32x4_add(s0, wasm_i32x4_mul(wasm_u32x4_extend_low_u16x8(lo), wk));
        s1 = wasm_i32x4_add(s1, wasm_i32x4_mul(wasm_u32x4_extend_high_u16x8(lo), wk));
        s2 = wasm_i32x4_add(s2, wasm_i32x4_mul(wasm_u32x4_extend_low_u16x8(hi), wk));
        s3 = wasm_i32x4_add(s3, wasm_i32x4_mul(wasm_u32x4_extend_high_u16x8(hi), wk));
      }
      v128_t words01 = wasm_i16x8_narrow_i32x4(wasm_i32x4_shr(s0, PRECISION_BITS), wasm_i32x4_shr(s1, PRECISION_BITS));
      v128_t words23 = wasm_i16x8_narrow_i32x4(wasm_i32x4_shr(s2, PRECISION_BITS), wasm_i32x4_shr(s3, PRECISION_BITS));
      wasm_v128_store(out + i, wasm_u8x16_narrow_i16x8(words01, words23));
    }
  }
}

/*
 * Interleaved RGB -> three planes of float32 through a table: plane c of pixel i is
 * table[c * 256 + rgb[3 * i + channel[c]]] (the table holds the normalised value of each byte,
 * computed by the caller, so the floats are the caller's own).
 */
__attribute__((export_name("planes"))) void planes(const uint8_t *rgb, int32_t pixels, const float *table,
                                                   int32_t c0, int32_t c1, int32_t c2, float *out) {
  float *p0 = out;
  float *p1 = out + pixels;
  float *p2 = out + 2 * pixels;
  const float *t1 = table + 256;
  const float *t2 = table + 512;
  for (int32_t i = 0; i < pixels; i++, rgb += 3) {
    p0[i] = table[rgb[c0]];
    p1[i] = t1[rgb[c1]];
    p2[i] = t2[rgb[c2]];
  }
}

/*
 * The pass of imageProperties (properties.ts) over the model's input pixels, in integers, so every
 * sum is exact: per bin of RGB at `bits` per channel the pixel count and channel sums (`count` and
 * `sums`, zeroed by the caller); each pixel's BT.601 luma in thousandths, y = 299 r + 587 g + 114 b
 * (`luma`, int32); then out[0..3] = the sum of y and of y^2, and the sum and sum of squares of its
 * 4-neighbour Laplacian (y left + right + above + below - 4 y) over the interior.
 * The Laplacian runs four pixels a vector; its squares are summed in float64 lanes one row at a
 * time (a row's sum stays below 2^53, so exact) and the rows in int64.
 */
__attribute__((export_name("pixel_statistics"))) void pixel_statistics(const uint8_t *rgb, int32_t width,
                                                                       int32_t height, int32_t bits,
                                                                       uint32_t *count, uint32_t *sums,
                                                                       int32_t *luma, int64_t *out) {
  const int32_t pixels = width * height;
  const int32_t shift = 8 - bits;
  int64_t luma_sum = 0, luma_sq = 0;
  for (int32_t i = 0; i < pixels; i++, rgb += 3) {
    const int32_t r = rgb[0], g = rgb[1], b = rgb[2];
    const int32_t bin = ((r >> shift) << (2 * bits)) | ((g >> shift) << bits) | (b >> shift);
    count[bin]++;
    sums[3 * bin] += r;
    sums[3 * bin + 1] += g;
    sums[3 * bin + 2] += b;
    const int32_t y = 299 * r + 587 * g + 114 * b;
    luma[i] = y;
    luma_sum += y;
    luma_sq += (int64_t)y * y;
  }
  int64_t lap_sum = 0, lap_sq = 0;
  for (int32_t y = 1; y < height - 1; y++) {
    const int32_t *row = luma + y * width;
    v128_t sum = wasm_i32x4_splat(0); /* at most 1.02e6 a value, 2^31 / 1.02e6 values a lane */
    v128_t sq = wasm_f64x2_splat(0);
    int32_t x = 1;
    for (; x + 4 <= width - 1; x += 4) {
      const int32_t *c = row + x;
      v128_t v = wasm_i32x4_sub(
          wasm_i32x4_add(wasm_i32x4_add(wasm_v128_load(c - 1), wasm_v128_load(c + 1)),
                         wasm_i32x4_add(wasm_v128_load(c - width), wasm_v128_load(c + width))),
          wasm_i32x4_shl(wasm_v128_load(c), 2));
      sum = wasm_i32x4_add(sum, v);
      v128_t lo = wasm_f64x2_convert_low_i32x4(v);
      v128_t hi = wasm_f64x2_convert_low_i32x4(wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
      sq = wasm_f64x2_add(sq, wasm_f64x2_add(wasm_f64x2_mul(lo, lo), wasm_f64x2_mul(hi, hi)));
    }
    lap_sum += (int64_t)wasm_i32x4_extract_lane(sum, 0) + wasm_i32x4_extract_lane(sum, 1) +
               wasm_i32x4_extract_lane(sum, 2) + wasm_i32x4_extract_lane(sum, 3);
    lap_sq += (int64_t)wasm_f64x2_extract_lane(sq, 0) + (int64_t)wasm_f64x2_extract_lane(sq, 1);
    for (; x < width - 1; x++) {
      const int32_t *c = row + x;
      const int64_t v = (int64_t)c[-1] + c[1] + c[-width] + c[width] - 4 * (int64_t)c[0];
      lap_sum += v;
      lap_sq += v * v;
    }
  }
  out[0] = luma_sum;
  out[1] = luma_sq;
  out[2] = lap_sum;
  out[3] = lap_sq;
}

static inline int32_t paeth(int32_t a, int32_t b, int32_t c) {
  const int32_t p = a + b - c;
  const int32_t pa = p > a ? p - a : a - p;
  const int32_t pb = p > b ? p - b : b - p;
  const int32_t pc = p > c ? p - c : c - p;
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/*
 * A PNG's pixels as RGB (png.ts): the PNG specification's reconstruction of `rows` rows of inflated
 * 8-bit image data in place (each row a filter byte 0-4, then width * channels bytes; `zero` is a
 * row of zeros, the row above the first), then grey repeated to RGB, and alpha over white as
 * libvips' flatten computes it, (value * alpha + 255 * (255 - alpha)) / 255 rounded down. Returns
 * 0, or 1 for a filter byte that is not 0-4.
 */
__attribute__((export_name("png_to_rgb"))) int32_t png_to_rgb(uint8_t *raw, int32_t width, int32_t rows,
                                                               int32_t channels, const uint8_t *zero,
                                                               uint8_t *dst) {
  const int32_t stride = width * channels;
  const uint8_t *prior = zero;
  for (int32_t y = 0; y < rows; y++) {
    uint8_t *row = raw + y * (stride + 1);
    const int32_t filter = row[0];
    uint8_t *x = row + 1;
    switch (filter) {
    case 0:
      break;
    case 1:
      for (int32_t i = channels; i < stride; i++) x[i] += x[i - channels];
      break;
    case 2:
      for (int32_t i = 0; i < stride; i++) x[i] += prior[i];
      break;
    case 3:
      for (int32_t i = 0; i < channels; i++) x[i] += prior[i] >> 1;
      for (int32_t i = channels; i < stride; i++) x[i] += (x[i - channels] + prior[i]) >> 1;
      break;
    case 4:
      for (int32_t i = 0; i < channels; i++) x[i] += prior[i];
      for (int32_t i = channels; i < stride; i++)
        x[i] += paeth(x[i - channels], prior[i], prior[i - channels]);
      break;
    default:
      return 1;
    }
    uint8_t *out = dst + y * width * 3;
    for (int32_t p = 0; p < width; p++, x += channels, out += 3) {
      if (channels >= 3) {
        out[0] = x[0], out[1] = x[1], out[2] = x[2];
      } else {
        out[0] = out[1] = out[2] = x[0];
      }
      if (channels == 2 || channels == 4) {
        const int32_t alpha = x[channels - 1], white = 255 * (255 - alpha);
        for (int32_t c = 0; c < 3; c++) out[c] = (uint8_t)((out[c] * alpha + white) / 255);
      }
    }
    prior = row + 1;
  }
  return 0;
}
