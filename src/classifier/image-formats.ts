/**
 * The image formats the service reads, one row each: the decoder's name (what preprocess.ts sniffs
 * from the magic bytes and sharp decodes), the key suffixes the tagger takes for it (IMAGE_SUFFIXES'
 * default) and the content type an upload of that suffix is signed with.
 */
export const IMAGE_FORMATS = [
  { format: 'jpeg', suffixes: ['.jpg', '.jpeg'], contentType: 'image/jpeg' },
  { format: 'png', suffixes: ['.png'], contentType: 'image/png' },
  { format: 'webp', suffixes: ['.webp'], contentType: 'image/webp' },
  { format: 'gif', suffixes: ['.gif'], contentType: 'image/gif' },
  { format: 'avif', suffixes: ['.avif'], contentType: 'image/avif' },
  { format: 'tiff', suffixes: ['.tif', '.tiff'], contentType: 'image/tiff' },
] as const;

export type ImageFormat = (typeof IMAGE_FORMATS)[number]['format'];

/** Every suffix of the table, lower case with the dot: the tagger's default IMAGE_SUFFIXES. */
export const IMAGE_SUFFIXES: readonly string[] = IMAGE_FORMATS.flatMap((f) => f.suffixes);

/** The content type of a suffix of the table ('.jpg' -> 'image/jpeg'), or undefined. */
export function contentTypeOf(suffix: string): string | undefined {
  return IMAGE_FORMATS.find((f) => (f.suffixes as readonly string[]).includes(suffix))?.contentType;
}

/** An image decoded outside libvips (jpeg-turbo.ts, png.ts): interleaved 8-bit RGB, as stored (before EXIF orientation). */
export interface DecodedImage {
  data: Uint8Array;
  width: number;
  height: number;
}
