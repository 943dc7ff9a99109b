/**
 * npm run bench:vector-tagging [-- --rounds 3]
 *
 * What keeping the vector index costs the tagger per image: tagObject on the local parts (s3rver,
 * dynalite, the local S3 Vectors stand-in; the int8 MobileNetV2 of ../shared, 1 thread) for each of
 * ../shared's 50 photos, with the label index only, with the label index and the vector index (no
 * groups of copies), and with both and the groups of copies recorded at ingest (the tagger's step 7:
 * one more QueryVectors and its label-index reads), the three interleaved photo by photo (same
 * background load). Prints the medians and their ratios.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { selectModel } from '../models/select.ts';
import { SHARED_FILES } from '../paths.ts';
import { startLocalDynamo } from '../scripts/local/local-dynamo.ts';
import { startLocalS3 } from '../scripts/local/local-s3.ts';
import { startLocalS3Vectors } from '../scripts/local/local-s3-vectors.ts';
import { dynamoLabelIndex } from '../src/aws/dynamo-index.ts';
import { s3ObjectStore } from '../src/aws/s3-object-store.ts';
import { s3VectorIndex } from '../src/aws/s3-vector-index.ts';
import { createClassifier } from '../src/classifier/classifier.ts';
import { taggerSettings } from '../src/settings.ts';
import { tagObject } from '../src/tagging/tagger.ts';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { rounds: { type: 'string', default: '3' } } });
  const rounds = Number(values.rounds);
  const dir = await mkdtemp(join(tmpdir(), 'vector-tagging-'));
  const bucket = 'bench';
  const s3server = await startLocalS3({ directory: dir, buckets: [bucket] });
  const dynamo = await startLocalDynamo({ tables: ['labels-bench'] });
  const modelDir = process.env.MODEL_DIR ?? (await selectModel({ log: () => {} })).dir;
  const classifier = await createClassifier(modelDir, { threads: 1 });
  const dimension = classifier.folder.meta.embedding?.dimension;
  if (!dimension) throw new Error(`${modelDir} has no embedding`);
  const local = await startLocalS3Vectors({
    indexes: [{ bucket: 'bench-vectors', index: 'bench-1', dimension }],
  });
  const s3 = new S3Client({
    endpoint: s3server.endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  try {
    const files = (await readdir(SHARED_FILES.photos)).filter((f) => f.endsWith('.jpg')).sort();
    const keys: string[] = [];
    for (const f of files) {
      const key = `uploads/${f}`;
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: await readFile(join(SHARED_FILES.photos, f)),
        }),
      );
      keys.push(key);
    }
    const base = {
      store: s3ObjectStore(s3),
      classifier,
      index: dynamoLabelIndex(dynamo.client, 'labels-bench'),
      ...taggerSettings({}),
    };
    const vectors = s3VectorIndex(local.client, { bucket: 'bench-vectors', index: 'bench-1', dimension });
    const variants = {
      without: base,
      with: { ...base, vectors, copies: false },
      copies: { ...base, vectors },
    };
    for (const key of keys.slice(0, 5)) await tagObject(variants.copies, bucket, key); // warm-up
    const times = { without: [] as number[], with: [] as number[], copies: [] as number[] };
    const names = ['without', 'with', 'copies'] as const;
    for (let r = 0; r < rounds; r++)
      for (const [i, key] of keys.entries()) {
        // Each variant first, second and third in turn.
        const order = names.map((_, j) => names[(i + r + j) % names.length] as (typeof names)[number]);
        for (const which of order) {
          const t = performance.now();
          await tagObject(variants[which], bucket, key);
          times[which].push(performance.now() - t);
        }
      }
    const [a, b, c] = names.map((n) => median(times[n])) as [number, number, number];
    const more = (x: number, y: number) => `${((x / y - 1) * 100).toFixed(1)}% more`;
    console.log(
      `tagObject per image, median of ${times.with.length} (${files.length} photos x ${rounds}): label index only ${a.toFixed(1)} ms; with the vector index ${b.toFixed(1)} ms (${more(b, a)}); with the vector index and groups of copies ${c.toFixed(1)} ms (${more(c, b)} than without groups, ${more(c, a)} than the label index only)`,
    );
  } finally {
    s3.destroy();
    await classifier.release();
    await Promise.allSettled([s3server.close(), dynamo.close(), local.close()]);
    await rm(dir, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
