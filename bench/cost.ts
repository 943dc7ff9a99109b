/**
 * npm run cost [-- --model <dir>] [--rounds N]   (without --model: the folder `npm start` serves)
 *
 * Dollars per million images tagged from S3, for x86_64 and arm64 at 1,769 MB (one vCPU: the
 * classifier runs 1 thread) and 3,538 MB (two vCPUs: 2 threads), from durations MEASURED here: the
 * real classifier (decode + inference, classify()) in process on ../shared's 50 photos, `rounds`
 * times each, at 1 and at 2 threads. The mean is what a bill sums, so the mean is priced.
 *
 * What is not measured: S3 round trips inside the invocation (not reproducible without AWS; the
 * table gives the price of each extra 10 ms), and arm64 (emulation is not speed): the arm64 rows
 * take the x86 duration, so they show the price difference only; arm64 costs no more than x86 as long
 * as it is at most 1.25x slower (the price ratio).
 */
import { existsSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { selectModel } from '../models/select.ts';
import { SHARED, SHARED_FILES } from '../paths.ts';
import { labelItemKeys } from '../src/aws/dynamo-index.ts';
import { type Classifier, createClassifier } from '../src/classifier/classifier.ts';
import { loadModelFolder } from '../src/classifier/model-folder.ts';
import { DEFAULT_MIN_CONFIDENCE } from '../src/classifier/postprocess.ts';
import { MB_PER_LAMBDA_VCPU } from '../src/settings.ts';
import { formatModelRef } from '../src/tagging/tags.ts';
import {
  type Arch,
  armBreakEvenSlowdown,
  costPerMillion,
  type DynamoUnits,
  PRICES,
  provisionedPerMonth,
  rekognitionPerMillion,
  type S3Requests,
  userPoolPerMonth,
  VECTOR_PRICES,
  type VectorStoreInput,
  vectorBytes,
  vectorStoreCost,
} from './cost-model.ts';

/** S3 requests per tagged image (see test/unit/tagger.test.ts), with or without user tags. */
const S3_AFTER: S3Requests = { get: 2, put: 1 }; // GetObject (ranged) + GetObjectTagging + PutObjectTagging
const S3_BEFORE: S3Requests = { get: 3, put: 1 }; // HeadObject + GetObject + GetObjectTagging + Put
/**
 * Label index request units per new image and per deleted one, as measured on dynalite with
 * ReturnConsumedCapacity (test/integration/dynamo-index.test.ts asserts them; src/aws/dynamo-index.ts
 * explains each write): claim + one write per label item + finish; the adapter's consistent read and
 * the tagger's check after its tag write = 2 RRU. A delete: tombstone, one delete per item, finish + 1 RRU.
 * Without a vocabulary and threshold that was 3 label items: 5 WRU. Now the items are the top-3 labels
 * and the vocabulary's categories scoring at least MIN_CONFIDENCE (labelItemKeys, one per name):
 * counted here on the photos, so the units are the measured mean.
 */
const indexUnits = (items: number, read: number): DynamoUnits => ({ write: 2 + items, read });

const { values } = parseArgs({
  options: { model: { type: 'string' }, rounds: { type: 'string', default: '5' } },
});
const rounds = Number(values.rounds);

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/**
 * classify() durations at 1 and 2 threads, interleaved photo by photo so that both see the same
 * background load (the machine is shared): same-run figures, comparable with each other.
 */
async function measure(modelDir: string, photos: Buffer[], items: number[]) {
  const byThreads = new Map<number, Classifier>();
  for (const threads of [1, 2]) byThreads.set(threads, await createClassifier(modelDir, { threads }));
  const times = new Map<number, number[]>([
    [1, []],
    [2, []],
  ]);
  const infer = new Map<number, number[]>([
    [1, []],
    [2, []],
  ]);
  for (const c of byThreads.values()) for (const p of photos.slice(0, 5)) await c.classify(p); // warm-up
  for (let r = 0; r < rounds; r++)
    for (const p of photos)
      for (const [threads, c] of byThreads) {
        const t = performance.now();
        const { timings, labels, categories } = await c.classify(p);
        times.get(threads)?.push(performance.now() - t);
        if (r === 0 && threads === 1) {
          const kept = labels.filter((l) => l.score >= DEFAULT_MIN_CONFIDENCE);
          items.push(labelItemKeys({ bucket: 'b', key: 'k', status: 'ok', labels: kept, categories }).length);
        }
        infer.get(threads)?.push(timings.inferMs);
      }
  for (const c of byThreads.values()) await c.release();
  return new Map(
    [...times].map(([threads, xs]) => [
      threads,
      { mean: mean(xs), median: median(xs), inferMean: mean(infer.get(threads) ?? []), n: xs.length },
    ]),
  );
}

const usd = (x: number) => (x >= 100 ? `$${x.toFixed(0)}` : `$${x.toFixed(2)}`);

async function main() {
  if (!existsSync(SHARED_FILES.photos)) throw new Error(`${SHARED}/photos is absent: nothing to measure`);
  // Without --model, the folder `npm start` would serve (built when missing, as npm start does).
  const modelDir = values.model
    ? resolve(values.model)
    : (await selectModel({ log: (line) => console.error(`[model] ${line}`) })).dir;
  const { meta } = await loadModelFolder(modelDir);
  const files = (await readdir(SHARED_FILES.photos)).filter((f) => f.endsWith('.jpg')).sort();
  const photos = await Promise.all(files.map((f) => readFile(join(SHARED_FILES.photos, f))));
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const flags = ['avx512_vnni', 'avx_vnni', 'avx2'].filter((f) => new RegExp(`\\b${f}\\b`).test(cpuinfo));

  const items: number[] = [];
  const measured = await measure(modelDir, photos, items);
  const INDEX_NEW = indexUnits(mean(items), 2);
  const INDEX_DELETE = indexUnits(mean(items), 1);
  const hasVocabulary = (await loadModelFolder(modelDir)).vocabulary !== undefined;

  const configs: { arch: Arch; memoryMb: number; threads: number }[] = [
    { arch: 'x86_64', memoryMb: MB_PER_LAMBDA_VCPU, threads: 1 },
    { arch: 'x86_64', memoryMb: 3538, threads: 2 },
    { arch: 'arm64', memoryMb: MB_PER_LAMBDA_VCPU, threads: 1 },
    { arch: 'arm64', memoryMb: 3538, threads: 2 },
  ];

  const out: string[] = [];
  out.push(
    `Model ${formatModelRef(meta)} (${modelDir}); ${photos.length} photos x ${rounds} rounds, 1 and 2 threads interleaved; ` +
      `CPU ${cpus()[0]?.model ?? '?'} (${flags.join(', ') || 'no avx2'}), ${cpus().length} cores, shared with other work: noisy.`,
  );
  out.push(`Prices: ${PRICES.source}.`);
  out.push('');
  out.push(
    '| arch | memory | threads | measured classify() ms, mean (median); of which inference | Lambda compute | Lambda requests | S3 requests | label index | **total per million images** | per +10 ms | without the index |',
  );
  out.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const c of configs) {
    const m = measured.get(c.threads);
    if (!m) continue;
    const input = { arch: c.arch, memoryMb: c.memoryMb, durationMs: m.mean };
    const after = costPerMillion({ ...input, s3: S3_AFTER, dynamo: INDEX_NEW });
    const tagsOnly = costPerMillion({ ...input, s3: S3_AFTER });
    const plus10 =
      costPerMillion({ ...input, durationMs: m.mean + 10, s3: S3_AFTER, dynamo: INDEX_NEW }).total -
      after.total;
    const ms = `${m.mean.toFixed(1)} (${m.median.toFixed(1)}); ${m.inferMean.toFixed(1)}${c.arch === 'arm64' ? ' (x86, not arm)' : ''}`;
    out.push(
      `| ${c.arch} | ${c.memoryMb} MB | ${c.threads} | ${ms} | ${usd(after.compute)} | ${usd(after.requests)} | ${usd(after.s3)} | ${usd(after.index)} | **${usd(after.total)}** | +${usd(plus10)} | ${usd(tagsOnly.total)} |`,
    );
  }
  out.push(`| Amazon Rekognition DetectLabels | | | | | | | | **${usd(rekognitionPerMillion())}** | | |`);
  out.push('');
  out.push(
    '| provisioned concurrency (1 instance, always on, a 730-hour month) | x86_64 | arm64 |',
    '| --- | ---: | ---: |',
  );
  for (const mb of [MB_PER_LAMBDA_VCPU, 2 * MB_PER_LAMBDA_VCPU])
    out.push(
      `| ${mb} MB | ${usd(provisionedPerMonth('x86_64', mb, 1))} | ${usd(provisionedPerMonth('arm64', mb, 1))} |`,
    );
  out.push(
    `| stage prod: 1 per function, api + tagger, ${MB_PER_LAMBDA_VCPU} MB | ${usd(provisionedPerMonth('x86_64', MB_PER_LAMBDA_VCPU, 2))} | ${usd(provisionedPerMonth('arm64', MB_PER_LAMBDA_VCPU, 2))} |`,
  );
  out.push('');
  const { freeMau, bands } = PRICES.cognitoLite;
  out.push(
    `| sign-in: the Cognito user pool (Lite), per month | ${[10, 1000, 10_000, 50_000, 200_000].map((n) => `${n.toLocaleString('en-US')} MAU`).join(' | ')} |`,
    `| --- | ${[1, 2, 3, 4, 5].map(() => '---:').join(' | ')} |`,
    `| free up to ${freeMau.toLocaleString('en-US')} monthly active users, then $${bands[0]?.perMau} each | ${[10, 1000, 10_000, 50_000, 200_000].map((n) => usd(userPoolPerMonth(n))).join(' | ')} |`,
  );
  out.push('');
  out.push(
    `S3 requests per image: ${S3_AFTER.get} GET-class + ${S3_AFTER.put} PUT (before: ${S3_BEFORE.get} + ${S3_BEFORE.put}). ` +
      `Label index (DynamoDB on demand): ${INDEX_NEW.write.toFixed(2)} WRU + ${INDEX_NEW.read} RRU per new image, measured: ` +
      `claim + finish + ${mean(items).toFixed(2)} label items (labels${hasVocabulary ? ' and categories' : ''} scoring at least ` +
      `${DEFAULT_MIN_CONFIDENCE}, one item per name; before the vocabulary and the threshold: the top-3 labels, 5 WRU); a deleted image costs ` +
      `${usd(costPerMillion({ arch: 'x86_64', memoryMb: MB_PER_LAMBDA_VCPU, durationMs: 20, s3: { get: 0, put: 0 }, dynamo: INDEX_DELETE }).total)} per million ` +
      `(${INDEX_DELETE.write.toFixed(2)} WRU + ${INDEX_DELETE.read} RRU and one short invocation, priced at 20 ms). ` +
      `arm64 rows use the x86 duration (price difference only); arm64 is no dearer while its duration is at most ` +
      `${armBreakEvenSlowdown().toFixed(2)}x x86's. Durations exclude the S3 round trips inside the invocation ` +
      '(priced by the "per +10 ms" column) and cold starts; no free tier. ' +
      `Routing the bucket through EventBridge instead of the S3 notification would add ${usd(
        costPerMillion({
          arch: 'x86_64',
          memoryMb: MB_PER_LAMBDA_VCPU,
          durationMs: 0,
          s3: S3_AFTER,
          eventsPerImage: 2,
        }).events,
      )} per million images (2 events per image).`,
  );
  out.push('');
  out.push(...vectorStoreSection(meta.embedding?.dimension));
  console.log(out.join('\n'));
}

/**
 * The vector store (S3 Vectors) per million images and at 10 million, for this model's embedding and
 * the ResNet-18 default. Metadata sizes: what the tagger writes (src/tagging/tagger.ts vectorOf),
 * measured on the local stack for a photo: key ~60 bytes, filterable (etag, model, labels,
 * categories, sha256) ~300 bytes, non-filterable (classes, scores, vocabulary) ~130 bytes.
 */
function vectorStoreSection(dimension: number | undefined): string[] {
  const out: string[] = [];
  const dims = [...new Set([dimension, 512].filter((d): d is number => d !== undefined))];
  const base = { keyBytes: 60, filterableBytes: 300, nonFilterableBytes: 130 };
  out.push(
    '| vector store (S3 Vectors) | dimension | bytes stored per vector | storage per month | writes (tagger: 1 per PUT) | writes (backfill: 500 per PUT) | near-duplicate query at ingest | a similar query per view, per million views |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const images of [1e6, 1e7])
    for (const dimension of dims) {
      const one: VectorStoreInput = { dimension, ...base, vectorsPerPut: 1 };
      const c = vectorStoreCost(one, images);
      const batched = vectorStoreCost({ ...one, vectorsPerPut: 500 }, images);
      out.push(
        `| ${images / 1e6} million images | ${dimension} | ${vectorBytes(one).stored} | ${usd(c.storagePerMonth)} | ${usd(c.writes)} | ${usd(batched.writes)} | ${usd(c.ingestQueries)} | ${usd(c.perMillionViews)} |`,
      );
    }
  const ten = vectorStoreCost({ dimension: 512, ...base, vectorsPerPut: 1 }, 1e7);
  out.push('');
  out.push(
    `10 million images (ResNet-18, 512 dimensions) cost ${usd(ten.storagePerMonth)} a month to keep in S3 Vectors, plus ${usd(ten.perMillionViews)} per million "similar" views; ` +
      `tagging them once wrote ${usd(ten.writes)} of PUTs (each single-vector PutVectors is billed at least ${VECTOR_PRICES.putMinimumBytes / 1024} KB: ` +
      `the backfill's 500-vector PUTs cost ${usd(vectorStoreCost({ dimension: 512, ...base, vectorsPerPut: 500 }, 1e7).writes)}) and ${usd(ten.ingestQueries)} of near-duplicate queries. ` +
      "Prices: bench/cost-model.ts VECTOR_PRICES (the data-processed rate is AWS's launch price: re-check).",
  );
  return out;
}

try {
  await main();
} catch (err) {
  console.error(`cost: ${(err as Error)?.message ?? String(err)}`);
  process.exitCode = 1;
}
