/**
 * npm run bench:vectors [-- --vectors 10000 --dimension 512 --queries 300 --top-k 51]
 *
 * QueryVectors latency against the local S3 Vectors stand-in (scripts/local/local-s3-vectors.ts)
 * through the SDK adapter (src/aws/s3-vector-index.ts), as GET /images/{key}/similar makes it: the
 * index is filled with `--vectors` random unit vectors (with metadata like the tagger's, paced under
 * S3 Vectors' write limits as the backfill is), then `--queries` queries of the vector of a stored key
 * (topK = the page's 50 + the key itself), unfiltered and with a label filter. Prints p50/p99/max
 * in ms and the load rate. The stand-in searches exactly (brute force over the index, one core): this
 * measures it, not S3 Vectors (AWS documents ~100 ms warm, under a second cold).
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { seededRandom } from '../models/resnet18.ts';
import { startLocalS3Vectors } from '../scripts/local/local-s3-vectors.ts';
import { s3VectorIndex } from '../src/aws/s3-vector-index.ts';
import { l2Normalize, type StoredVector, VECTOR_LIMITS } from '../src/tagging/vector-index.ts';
import { limitVectorWrites } from '../tools/backfill/vector-writes.ts';

const LABELS = ['golden retriever', 'tabby', 'sports car', 'daisy', 'pizza', 'laptop', 'red panda', 'castle'];

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      vectors: { type: 'string', default: '10000' },
      dimension: { type: 'string', default: '512' },
      queries: { type: 'string', default: '300' },
      'top-k': { type: 'string', default: '51' },
    },
  });
  const n = Number(values.vectors);
  const dimension = Number(values.dimension);
  const queries = Number(values.queries);
  const topK = Number(values['top-k']);
  const local = await startLocalS3Vectors({ indexes: [{ bucket: 'bench', index: 'model-1', dimension }] });
  try {
    const index = s3VectorIndex(local.client, { bucket: 'bench', index: 'model-1', dimension });
    const random = seededRandom(42);
    const vector = () => l2Normalize(Float32Array.from({ length: dimension }, () => random() * 2 - 1));
    const all: StoredVector[] = Array.from({ length: n }, (_, i) => {
      const label = LABELS[i % LABELS.length] as string;
      return {
        key: `uploads/bench/${String(i).padStart(6, '0')}.jpg`,
        vector: vector(),
        metadata: {
          etag: `${i.toString(16).padStart(32, '0')}`,
          model: 'resnet18@1',
          labels: [label, LABELS[(i + 3) % LABELS.length] as string],
          categories: ['animal'],
          sha256: i.toString(16).padStart(64, '0'),
          classes: [i % 1000, (i + 1) % 1000],
          scores: [0.8, 0.1],
        },
      };
    });
    const paced = limitVectorWrites(index);
    const load = performance.now();
    for (let i = 0; i < n; i += VECTOR_LIMITS.putBatch)
      await paced.put(all.slice(i, i + VECTOR_LIMITS.putBatch));
    const loadS = (performance.now() - load) / 1000;
    console.log(
      `loaded ${n} vectors of ${dimension} dimensions in ${loadS.toFixed(1)} s (${Math.round(n / loadS)}/s, paced under ${VECTOR_LIMITS.vectorWritesPerSecond / 2} vectors/s), ${paced.waitedMs} ms waited`,
    );
    const run = async (name: string, filter?: Record<string, unknown>) => {
      const times: number[] = [];
      for (let q = 0; q < queries; q++) {
        const probe = all[Math.floor(random() * n)] as StoredVector;
        const t = performance.now();
        const hits = await index.query(probe.vector, { topK, ...(filter ? { filter } : {}) });
        times.push(performance.now() - t);
        if (!filter && hits[0]?.key !== probe.key) throw new Error(`${probe.key} is not its own nearest`);
      }
      times.sort((a, b) => a - b);
      console.log(
        `${name.padEnd(34)} p50 ${percentile(times, 50).toFixed(1)} ms  p99 ${percentile(times, 99).toFixed(1)} ms  max ${(times.at(-1) ?? 0).toFixed(1)} ms  (${queries} queries, topK ${topK})`,
      );
    };
    await run('QueryVectors');
    await run('QueryVectors, labels = "tabby"', { labels: 'tabby' });
  } finally {
    await local.close();
  }
}

main(process.argv.slice(2)).catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
