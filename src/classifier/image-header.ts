/**
 * Size and EXIF orientation from the first bytes of a JPEG, PNG or WebP, read in JavaScript so the
 * common request needs one libvips call (the decode) instead of two (a header read, then the
 * decode). Answers only what it can read unambiguously; `undefined` sends the caller to libvips'
 * own header read (GIF, TIFF, AVIF, animated WebP, EXIF it does not parse, anything odd). It only
 * chooses the crop window and the exact/approximate path: libvips still checks the pixel limit from
 * its own header read, and preprocess() checks the decoded size against this one.
 */
import type { ImageFormat } from './image-formats.ts';

export interface ImageHeader {
  /** As stored, before EXIF orientation. */
  width: number;
  height: number;
  /** EXIF orientation 1-8 (1: as stored). */
  orientation: number;
}

const u16be = (b: Uint8Array, i: number) => ((b[i] ?? 0) << 8) | (b[i + 1] ?? 0);
export const u32be = (b: Uint8Array, i: number) => u16be(b, i) * 65536 + u16be(b, i + 2);
const u16le = (b: Uint8Array, i: number) => (b[i] ?? 0) | ((b[i + 1] ?? 0) << 8);
const u24le = (b: Uint8Array, i: number) => u16le(b, i) + (b[i + 2] ?? 0) * 65536;
/** The four bytes at i as text (a chunk or box type). */
export const tag = (b: Uint8Array, i: number) =>
  String.fromCharCode(b[i] ?? 0, b[i + 1] ?? 0, b[i + 2] ?? 0, b[i + 3] ?? 0);

export function readImageHeader(bytes: Uint8Array, format: ImageFormat): ImageHeader | undefined {
  const header =
    format === 'jpeg'
      ? jpegHeader(bytes)
      : format === 'png'
        ? pngHeader(bytes)
        : format === 'webp'
          ? webpHeader(bytes)
          : undefined;
  return header && header.width > 0 && header.height > 0 ? header : undefined;
}

/** The width and height after EXIF orientation (5-8 turn the image a quarter). */
export const orientedSize = ({ width, height, orientation }: ImageHeader) =>
  orientation >= 5 ? { width: height, height: width } : { width, height };

/**
 * JPEG markers up to the first scan: the frame header (SOFn) and at most one APP1 "Exif" segment,
 * whose IFD0 orientation is read. Anything unexpected (a second Exif segment or frame header, EXIF
 * without an orientation in IFD0 or with one outside 1-8, a segment running past the end) gives up.
 */
function jpegHeader(b: Uint8Array): ImageHeader | undefined {
  let frame: { width: number; height: number } | undefined;
  let orientation = 1;
  let exifSeen = false;
  let i = 2;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1] as number;
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    // libjpeg reads every marker up to the first scan (SOS), so an Exif segment may follow the frame header.
    if (marker === 0xda) return frame && { ...frame, orientation };
    if (marker === 0xd9 || marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01)
      return undefined;
    const length = u16be(b, i + 2);
    if (length < 2 || i + 2 + length > b.length) return undefined;
    const body = i + 4;
    if (marker === 0xe1 && tag(b, body) === 'Exif' && b[body + 4] === 0 && b[body + 5] === 0) {
      if (exifSeen) return undefined;
      exifSeen = true;
      const found = exifOrientation(b.subarray(body + 6, i + 2 + length));
      if (found === undefined) return undefined;
      orientation = found;
    }
    // SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC): precision, height, width. libjpeg refuses a second one.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (frame || length < 7) return undefined;
      frame = { width: u16be(b, body + 3), height: u16be(b, body + 1) };
    }
    i += 2 + length;
  }
  return undefined;
}

/** The orientation tag (0x0112) of IFD0 in a TIFF-structured EXIF block. */
function exifOrientation(t: Uint8Array): number | undefined {
  const little = tag(t, 0).startsWith('II');
  if (!little && !tag(t, 0).startsWith('MM')) return undefined;
  const u16 = (i: number) => (little ? u16le(t, i) : u16be(t, i));
  const u32 = (i: number) => (little ? u16le(t, i) + u16le(t, i + 2) * 65536 : u32be(t, i));
  if (u16(2) !== 42) return undefined;
  const ifd = u32(4);
  if (ifd + 2 > t.length) return undefined;
  const count = u16(ifd);
  if (ifd + 2 + count * 12 > t.length) return undefined;
  for (let e = 0; e < count; e++) {
    const entry = ifd + 2 + e * 12;
    if (u16(entry) !== 0x0112) continue;
    const value = u16(entry + 8);
    // SHORT, one value, 1-8: anything else is left to libvips.
    return u16(entry + 2) === 3 && u32(entry + 4) === 1 && value >= 1 && value <= 8 ? value : undefined;
  }
  return undefined; // no orientation in IFD0: libexif may take one from another IFD; leave it to libvips
}

/** PNG: IHDR's size; an eXIf chunk before the image data may orient it, so that case gives up. */
function pngHeader(b: Uint8Array): ImageHeader | undefined {
  if (tag(b, 12) !== 'IHDR') return undefined;
  const width = u32be(b, 16);
  const height = u32be(b, 20);
  for (let i = 8; i + 8 <= b.length; ) {
    const type = tag(b, i + 4);
    if (type === 'eXIf') return undefined;
    if (type === 'IDAT') return { width, height, orientation: 1 };
    i += 12 + u32be(b, i);
  }
  return undefined;
}

/** WebP: the simple lossy (VP8) and lossless (VP8L) forms, and VP8X without EXIF or animation. */
function webpHeader(b: Uint8Array): ImageHeader | undefined {
  const chunk = tag(b, 12);
  if (chunk === 'VP8 ' && b[23] === 0x9d && b[24] === 0x01 && b[25] === 0x2a)
    return { width: u16le(b, 26) & 0x3fff, height: u16le(b, 28) & 0x3fff, orientation: 1 };
  if (chunk === 'VP8L' && b[20] === 0x2f) {
    const bits = u16le(b, 21) + u16le(b, 23) * 65536;
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1, orientation: 1 };
  }
  if (chunk === 'VP8X') {
    const flags = b[20] ?? 0;
    if (flags & (0x08 | 0x02)) return undefined; // EXIF or animation
    return { width: u24le(b, 24) + 1, height: u24le(b, 27) + 1, orientation: 1 };
  }
  return undefined;
}
