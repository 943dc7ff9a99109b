/**
 * Child process of test/integration/local-s3-listing.test.ts: starts the local S3 in this process
 * (as `npm start` does), puts 3 objects, lists them 2 at a time, and prints what it got as JSON.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { listingTokensWork, localS3Client, startLocalS3 } from '../../scripts/local/local-s3.ts';

const dir = await mkdtemp(join(tmpdir(), 'local-s3-listing-'));
const server = await startLocalS3({ directory: dir, buckets: ['listing'] });
const s3 = localS3Client(server.endpoint);
const out: { tokensWork: boolean; keys: string[]; error?: string } = {
  tokensWork: listingTokensWork(),
  keys: [],
};
try {
  for (const key of ['uploads/a.jpg', 'uploads/b.jpg', 'uploads/c.jpg'])
    await s3.send(new PutObjectCommand({ Bucket: 'listing', Key: key, Body: 'x' }));
  let token: string | undefined;
  for (let page = 0; page < 5; page++) {
    const res = await s3.send(
      new ListObjectsV2Command({ Bucket: 'listing', MaxKeys: 2, ContinuationToken: token }),
    );
    out.keys.push(...(res.Contents ?? []).map((o) => o.Key ?? ''));
    token = res.NextContinuationToken;
    if (!token) break;
  }
} catch (err) {
  out.error = (err as Error).name;
} finally {
  s3.destroy();
  await server.close();
  await rm(dir, { recursive: true, force: true });
}
console.log(JSON.stringify(out));
