/**
 * Listing a bucket (port), and its S3 adapter: ListObjectsV2, 1,000 keys a page, in S3's order
 * (UTF-8 binary order of the keys). `startAfter` resumes a listing after a key, so an interrupted
 * backfill picks up where it stopped without listing the finished part again.
 */
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';

export interface ListedObject {
  key: string;
  /** Bytes, as the listing reports them. */
  size?: number;
  /** The version's ETag, as the listing reports it (quoted). */
  etag?: string;
}

export interface BucketListing {
  /** The objects under `prefix` (keys after `startAfter` only), one page at a time, in listing order. */
  pages(bucket: string, prefix: string, startAfter?: string): AsyncIterable<ListedObject[]>;
}

export function s3BucketListing(s3: S3Client, pageSize = 1000): BucketListing {
  return {
    async *pages(Bucket, Prefix, StartAfter) {
      let ContinuationToken: string | undefined;
      // Bounded: S3 ends every listing with IsTruncated false; a token that repeats stops it too.
      const seen = new Set<string>();
      do {
        const page = await s3.send(
          new ListObjectsV2Command({
            Bucket,
            Prefix: Prefix || undefined,
            MaxKeys: pageSize,
            ...(ContinuationToken ? { ContinuationToken } : { StartAfter: StartAfter || undefined }),
          }),
        );
        yield (page.Contents ?? [])
          .filter((o) => o.Key !== undefined)
          .map((o) => ({
            key: o.Key as string,
            ...(o.Size !== undefined ? { size: o.Size } : {}),
            ...(o.ETag !== undefined ? { etag: o.ETag } : {}),
          }));
        ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
        if (ContinuationToken && seen.has(ContinuationToken))
          throw new Error(`ListObjectsV2 s3://${Bucket}/${Prefix}: continuation token repeated`);
        if (ContinuationToken) seen.add(ContinuationToken);
      } while (ContinuationToken);
    },
  };
}
