/** A local S3 (s3rver, as `npm start` runs it: scripts/local/local-s3.ts) for the tests of one file. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';
import { afterAll, beforeAll } from 'vitest';
import { type LocalS3, localS3Client, startLocalS3 } from '../../scripts/local/local-s3.ts';

/**
 * Starts a local S3 with `buckets` in a temporary folder before the file's tests and closes it (and
 * removes the folder) after them; `s3` and `server` are there from the first test on. `onEvent`
 * receives its bucket notifications.
 */
export function useLocalS3(
  buckets: string[],
  options: { onEvent?: (event: S3Event) => void } = {},
): { readonly s3: S3Client; readonly server: LocalS3 } {
  let dir: string | undefined;
  let server: LocalS3 | undefined;
  let s3: S3Client | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'local-s3-'));
    server = await startLocalS3({ directory: dir, buckets, ...options });
    s3 = localS3Client(server.endpoint);
  });
  afterAll(async () => {
    s3?.destroy();
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the local S3 starts in beforeAll: use it inside a test');
    return value;
  };
  return {
    get s3() {
      return started(s3);
    },
    get server() {
      return started(server);
    },
  };
}
