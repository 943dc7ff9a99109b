/**
 * The upload signer's port: presigned requests that let a browser put one image straight into the
 * upload bucket and view one object, signed by the adapter (src/aws/upload-signer.ts on S3) without
 * a call to the store. Beside the other ports the image routes and the tagger use (object-store.ts,
 * label-index.ts); a fake signer: fakeSigner in test/unit/images-api.test.ts.
 */
import { IMAGE_FORMATS } from '../classifier/image-formats.ts';
import type { Tag } from './tags.ts';

export interface PresignedUpload {
  /** Where the form goes (the bucket's endpoint). */
  url: string;
  /** Form fields to send as they are, before the file (which must be the last field). */
  fields: Record<string, string>;
  /** When the policy expires. */
  expiresAt: Date;
}

export interface PostOptions {
  maxBytes: number;
  expiresSeconds: number;
  /** The Content-Type the form will carry (must start with image/); signed as an exact match. */
  contentType?: string;
  /** The user's own tags, stored with the object (the form's `tagging` field, signed as an exact match). */
  tagging?: readonly Tag[];
}

/**
 * The image types the tagger decodes (src/classifier/preprocess.ts, SUPPORTED_FORMATS): the only
 * ones an upload is granted for, and the only ones a presigned GET serves inline.
 */
export const RASTER_TYPES: ReadonlySet<string> = new Set(IMAGE_FORMATS.map((f) => f.contentType));

export interface UploadSigner {
  presignPost(key: string, options: PostOptions): Promise<PresignedUpload>;
  /**
   * A GET URL that serves the object as `type` inline when `type` is one of RASTER_TYPES, and as an
   * application/octet-stream attachment otherwise (viewResponse).
   */
  presignGet(key: string, expiresSeconds: number, type?: string): Promise<string>;
  /**
   * The origin (scheme, host, port) that presigned URLs point at: the page's CSP allows exactly this
   * one for thumbnails (img-src) and the upload (connect-src).
   */
  origin(): Promise<string>;
}
