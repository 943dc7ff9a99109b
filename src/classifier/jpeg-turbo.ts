/**
 * JPEG decoding straight through libjpeg-turbo's TurboJPEG API, without libvips: for a 0.15-0.3 MP
 * photo it costs a third of sharp's decode, which is mostly libvips' and sharp's fixed cost per call
 * (docs/benchmarks.md, preprocessing). The values are the ones PIL and sharp give (all three run
 * libjpeg's accurate integer IDCT and fancy upsampling; tested byte for byte on the shared photos).
 *
 * The library is the libturbojpeg 3 that `@julusian/jpeg-turbo` ships for Linux (x64 and arm64),
 * called through koffi; that package's own binding cannot be used, as it asks for the fast, less
 * accurate IDCT. Where the library is not there (macOS, Windows) `turboJpeg` is null and
 * preprocessing decodes with sharp as before.
 *
 * The decode is synchronous: a few ms for the sizes it is used for (preprocess.ts: up to
 * EXACT_MAX_PIXELS), on a Lambda container that serves one request at a time.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { DecodedImage } from './image-formats.ts';
import { requireFinding } from './native.ts';

export interface TurboJpeg {
  /**
   * The pixels of an 8-bit YCbCr or greyscale JPEG as RGB, or undefined for anything libjpeg-turbo
   * reports, warnings included (a truncated file, CMYK, 12-bit, more than `maxPixels`, more than
   * SCAN_LIMIT progressive scans): those go to sharp, whose answer stays the service's.
   */
  decode(bytes: Uint8Array, maxPixels: number): DecodedImage | undefined;
  /** Where the library was loaded from. */
  path: string;
}

// turbojpeg.h of libjpeg-turbo 3.0 (3.0.1 has no TJPARAM_MAXPIXELS: the size is checked here, after the header)
const TJINIT_DECOMPRESS = 1;
const TJPARAM_STOPONWARNING = 0;
const TJPARAM_JPEGWIDTH = 5;
const TJPARAM_JPEGHEIGHT = 6;
const TJPARAM_PRECISION = 7;
const TJPARAM_COLORSPACE = 8;
const TJPARAM_SCANLIMIT = 13;
const TJCS_RGB = 0;
const TJCS_YCbCr = 1;
const TJCS_GRAY = 2;
const TJPF_RGB = 0;

/** More progressive scans than this is an attack on the decoder, not a photo (libjpeg-turbo's own advice). */
export const SCAN_LIMIT = 500;

function loadTurboJpeg(): TurboJpeg | null {
  let path: string;
  let lib: ReturnType<typeof import('koffi')['load']>;
  try {
    const require = requireFinding('@julusian/jpeg-turbo/package.json');
    const dir = join(
      dirname(require.resolve('@julusian/jpeg-turbo/package.json')),
      'prebuilds',
      `jpeg-turbo-${process.platform}-${process.arch}`,
    );
    const file = readdirSync(dir).find((name) => name.startsWith('libturbojpeg.so'));
    if (!file) return null;
    path = join(dir, file);
    lib = (requireFinding('koffi')('koffi') as typeof import('koffi')).load(path);
  } catch {
    return null; // not shipped for this platform, or not loadable here: libvips decodes
  }
  const init = lib.func('void *tj3Init(int initType)');
  const set = lib.func('int tj3Set(void *handle, int param, int value)');
  const get = lib.func('int tj3Get(void *handle, int param)');
  const readHeader = lib.func(
    'int tj3DecompressHeader(void *handle, const uint8_t *jpegBuf, size_t jpegSize)',
  );
  const decompress = lib.func(
    'int tj3Decompress8(void *handle, const uint8_t *jpegBuf, size_t jpegSize, uint8_t *dstBuf, int pitch, int pixelFormat)',
  );
  const destroy = lib.func('void tj3Destroy(void *handle)');
  /** A decompressor with this module's settings (null if the library refuses them). */
  const decompressor = () => {
    const handle = init(TJINIT_DECOMPRESS);
    if (
      handle &&
      set(handle, TJPARAM_STOPONWARNING, 1) === 0 &&
      set(handle, TJPARAM_SCANLIMIT, SCAN_LIMIT) === 0
    )
      return handle;
    if (handle) destroy(handle);
    return null;
  };
  let handle = decompressor();
  if (!handle) return null;
  const read = (bytes: Uint8Array, maxPixels: number): DecodedImage | undefined => {
    if (!handle || readHeader(handle, bytes, bytes.length) !== 0) return undefined;
    const colourspace = get(handle, TJPARAM_COLORSPACE);
    if (get(handle, TJPARAM_PRECISION) !== 8) return undefined;
    if (colourspace !== TJCS_YCbCr && colourspace !== TJCS_GRAY && colourspace !== TJCS_RGB) return undefined;
    const width = get(handle, TJPARAM_JPEGWIDTH);
    const height = get(handle, TJPARAM_JPEGHEIGHT);
    if (!(width > 0 && height > 0) || width * height > maxPixels) return undefined;
    const data = new Uint8Array(width * height * 3);
    if (decompress(handle, bytes, bytes.length, data, 0, TJPF_RGB) !== 0) return undefined;
    return { data, width, height };
  };
  return {
    path,
    decode(bytes, maxPixels) {
      const decoded = read(bytes, maxPixels);
      // After some errors (a bad header) libjpeg-turbo 3.0.1's decompressor fails every later call
      // too, so a refused image gets the next one a new decompressor (without one, libvips decodes).
      if (!decoded && handle) {
        destroy(handle);
        handle = decompressor();
      }
      return decoded;
    },
  };
}

export const turboJpeg: TurboJpeg | null = loadTurboJpeg();
