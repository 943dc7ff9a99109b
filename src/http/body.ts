/**
 * Reads the image out of an HTTP API (payload v2) request body: raw bytes (any content type but
 * multipart and JSON), multipart/form-data with a file field `image`, or JSON {"image": "<base64>"}.
 */
import busboy from 'busboy';
import { ImageError, ImageTooLargeError, InvalidArgumentError } from '../classifier/errors.ts';

export interface ImageBody {
  bytes: Uint8Array;
  /** topK from a JSON body, if present. */
  topK?: unknown;
  form: 'raw' | 'multipart' | 'json';
}

export function bodyBytes(body: string | undefined, isBase64Encoded: boolean): Buffer {
  if (body === undefined || body === null) return Buffer.alloc(0);
  return isBase64Encoded ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8');
}

/**
 * The first file part named `image`, wherever it stands among the parts. Other file parts are drained
 * unread. A part cut off by the end of the body, or any other busboy error, is InvalidArgument: busboy
 * reports it on the part's stream, and an unhandled stream error would crash the process.
 */
function fromMultipart(contentType: string, body: Buffer, maxBytes: number): Promise<ImageBody> {
  return new Promise((resolve, reject) => {
    const malformed = (err: Error) =>
      reject(new InvalidArgumentError(`malformed multipart/form-data: ${err.message}`));
    let parser: busboy.Busboy;
    try {
      // One byte over the limit tells "exactly maxBytes" (accepted) from "more" (refused).
      parser = busboy({
        headers: { 'content-type': contentType },
        limits: { files: 20, parts: 100, fileSize: maxBytes + 1 },
      });
    } catch (err) {
      malformed(err as Error);
      return;
    }
    let image: Buffer | undefined;
    let tooLarge = false;
    parser.on('file', (name, stream) => {
      stream.on('error', malformed);
      if (name !== 'image' || image !== undefined || tooLarge) {
        stream.resume();
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('limit', () => {
        tooLarge = true;
      });
      stream.on('end', () => {
        const bytes = Buffer.concat(chunks);
        if (bytes.length > maxBytes) tooLarge = true;
        else if (!tooLarge) image = bytes;
      });
    });
    parser.on('error', malformed);
    parser.on('close', () => {
      if (tooLarge) reject(new ImageTooLargeError(`the image field exceeds ${maxBytes} bytes`));
      else if (!image) reject(new InvalidArgumentError('multipart/form-data body has no file field "image"'));
      else resolve({ bytes: image, form: 'multipart' });
    });
    parser.end(body);
  });
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

function fromJson(body: Buffer): ImageBody {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new InvalidArgumentError(`body is not valid JSON: ${(err as Error).message}`);
  }
  const image = (parsed as { image?: unknown } | null)?.image;
  if (typeof image !== 'string' || image.length === 0)
    throw new InvalidArgumentError('JSON body must be an object with "image": a base64 string');
  const data = image.replace(/^data:[^,]*;base64,/, '').replace(/\s+/g, '');
  if (!BASE64.test(data)) throw new InvalidArgumentError('"image" is not valid base64');
  return { bytes: Buffer.from(data, 'base64'), topK: (parsed as { topK?: unknown }).topK, form: 'json' };
}

/** Extracts the image; throws ImageError (InvalidArgument / ImageTooLarge) for bodies it cannot use. */
export async function readImageBody(
  contentType: string | undefined,
  body: Buffer,
  maxBytes: number,
): Promise<ImageBody> {
  const type = (contentType ?? '').toLowerCase();
  if (type.startsWith('multipart/form-data')) return fromMultipart(contentType ?? '', body, maxBytes);
  // base64 in JSON is 4/3 of the image, so the JSON limit is that much larger.
  if (type.startsWith('application/json')) {
    if (body.length > Math.ceil(maxBytes / 3) * 4 + 1024)
      throw new ImageTooLargeError(`JSON body is ${body.length} bytes; the image limit is ${maxBytes} bytes`);
    const parsed = fromJson(body);
    if (parsed.bytes.length > maxBytes)
      throw new ImageTooLargeError(`image is ${parsed.bytes.length} bytes; the limit is ${maxBytes} bytes`);
    return parsed;
  }
  if (body.length > maxBytes)
    throw new ImageTooLargeError(`body is ${body.length} bytes; the limit is ${maxBytes} bytes`);
  return { bytes: body, form: 'raw' };
}

export const isImageError = (err: unknown): err is ImageError => err instanceof ImageError;
