/**
 * The object store the tagger needs (port; its S3 adapter is src/aws/s3-object-store.ts). The
 * tagger speaks only to this interface, so its rules are unit-tested against an in-memory store and
 * integration-tested against a real local S3 through the adapter.
 *
 * S3 requests per object: one GetObject (bounded by a Range, and telling the object's full size and
 * ETag in the same response), GetObjectTagging, and PutObjectTagging only when the tags change.
 * No HeadObject. A read for a given version (the ETag of the event) sends If-Match and also checks
 * the ETag of the response (a server that ignores If-Match, like s3rver, is caught too).
 */
import type { Tag } from './tags.ts';

/** The start of an object, and what the same response said about the whole of it. */
export interface ObjectRead {
  /** The first `min(size, maxBytes)` bytes. */
  bytes: Uint8Array;
  /** The full size of the object, in bytes (more than bytes.length when the read was cut). */
  size: number;
  etag?: string;
  /** When this version was written (S3's Last-Modified, to the second), when known. */
  lastModified?: Date;
}

export interface ObjectStore {
  /**
   * Reads at most `maxBytes` (>= 1) bytes from the start of the object, never more. `ranged: false`
   * asks without a Range header (still reading no more than maxBytes): for an object expected to be
   * empty, where a Range is not satisfiable (AWS S3 answers 416; s3rver a response that aborts).
   */
  get(
    bucket: string,
    key: string,
    options: {
      maxBytes: number;
      ranged?: boolean;
      /** Read only this version (ETag, quotes optional); another one throws ObjectChangedError. */
      ifMatch?: string;
    },
  ): Promise<ObjectRead>;
  getTags(bucket: string, key: string): Promise<Tag[]>;
  putTags(bucket: string, key: string, tags: Tag[]): Promise<void>;
}

/** The object is gone (deleted before the tagger got to it): nothing to tag, nothing to retry. */
export class ObjectMissingError extends Error {
  constructor(bucket: string, key: string) {
    super(`s3://${bucket}/${key} does not exist`);
    this.name = 'ObjectMissingError';
  }
}

/** The object is no longer the version asked for (S3 412): a newer one replaced it. */
export class ObjectChangedError extends Error {
  constructor(bucket: string, key: string, etag: string) {
    super(`s3://${bucket}/${key} is no longer version ${etag}`);
    this.name = 'ObjectChangedError';
  }
}
