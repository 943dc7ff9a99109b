/**
 * npm run backfill -- --bucket <b> [--prefix uploads/] [--concurrency N]
 *   [--retag-older-than <model@version>] [--dry-run] [--endpoint URL] [--table T]
 *   [--checkpoint-dir DIR] [--json] [--vector-bucket B] [--vector-index I] [--vector-writes-per-second N]
 *
 * Tags the objects already in a bucket through the tagger's own path (tools/backfill/backfill.ts says
 * which objects and how stop/resume works). The model is MODEL_DIR, else the folder `npm start`
 * serves (models/select.ts). UPLOAD_PREFIX and IMAGE_SUFFIXES are read as the tagger reads them.
 * --table (or INDEX_TABLE) also writes the label index (DynamoDB; AWS_ENDPOINT_URL_DYNAMODB for a
 * local one). --endpoint (or S3_ENDPOINT, AWS_ENDPOINT_URL_S3) points at a local S3.
 * --vector-bucket (or VECTOR_BUCKET; with the label index) also fills the vector index: the model's
 * own (--vector-index or VECTOR_INDEX, default vectorIndexName of the model), whose missing vectors
 * are embedded, paced at --vector-writes-per-second (default 1,250 vectors and 500 requests a second,
 * half of S3 Vectors' per-index limits); AWS_ENDPOINT_URL_S3VECTORS for a local S3 Vectors.
 *
 * Shows a progress bar with rate and ETA on a terminal, a line every 10 s otherwise; prints a
 * summary and the S3 requests made. Ctrl-C stops after the objects in flight and keeps the
 * checkpoint (in .cache/backfill/); the same command resumes. Exit code 0, 2 when any object
 * failed, 130 when stopped, 1 on a fatal error.
 */
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { S3VectorsClient } from '@aws-sdk/client-s3vectors';
import cliProgress from 'cli-progress';
import { labelsMeaningful, selectModel } from '../../models/select.ts';
import { cacheDir } from '../../paths.ts';
import { dynamoLabelIndex } from '../../src/aws/dynamo-index.ts';
import { dynamoTaughtLabels } from '../../src/aws/dynamo-taught-labels.ts';
import { s3ObjectStore } from '../../src/aws/s3-object-store.ts';
import { s3VectorIndex } from '../../src/aws/s3-vector-index.ts';
import { createClassifier } from '../../src/classifier/classifier.ts';
import { ortDotProducts } from '../../src/classifier/dot-products.ts';
import {
  classifierSettings,
  indexTable,
  s3Endpoint,
  taggerSettings,
  vectorSettings,
} from '../../src/settings.ts';
import type { LabelIndex } from '../../src/tagging/label-index.ts';
import { formatModelRef } from '../../src/tagging/tags.ts';
import { cachedTaughtLabels } from '../../src/tagging/taught-labels.ts';
import { groupSizeOf, relearnNames } from '../../src/tagging/teaching.ts';
import { VECTOR_LIMITS, type VectorIndex, vectorIndexName } from '../../src/tagging/vector-index.ts';
import {
  type BackfillProgress,
  type BackfillSummary,
  backfill,
  checkpointPath,
  failedCount,
  fileCheckpoint,
  parseModelRef,
} from './backfill.ts';
import { s3BucketListing } from './bucket-listing.ts';
import { DEFAULT_BACKFILL_WRITE_RATE, type WriteRate } from './vector-writes.ts';

const usage = `usage: npm run backfill -- --bucket <b> [--prefix uploads/] [--concurrency N]
  [--retag-older-than <model@version>] [--dry-run] [--endpoint URL] [--table T]
  [--checkpoint-dir DIR] [--json] [--vector-bucket B] [--vector-index I] [--vector-writes-per-second N]`;

const PLAIN_PROGRESS_MS = 10_000;

function positiveUpTo(name: string, raw: string, max: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new Error(`--${name} must be an integer from 1 to ${max}`);
  return n;
}

function positive(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new Error(`--${name} must be an integer from 1 to 256`);
  return n;
}

const formatSeconds = (s: number) =>
  !Number.isFinite(s)
    ? '?'
    : s < 90
      ? `${Math.round(s)}s`
      : s < 5400
        ? `${Math.round(s / 60)}m`
        : `${(s / 3600).toFixed(1)}h`;

/** A bar with rate and ETA on a terminal, a plain line every 10 s elsewhere (CI, pipes). */
function progressReporter(tty: boolean) {
  const started = Date.now();
  const rate = (p: BackfillProgress) => p.done / Math.max(0.001, (Date.now() - started) / 1000);
  // While the listing runs, the keys listed so far give a lower bound.
  const eta = (p: BackfillProgress) => {
    const r = rate(p);
    const left = r > 0 && p.done > 0 ? formatSeconds((p.listed - p.done) / r) : '?';
    return p.listingComplete ? left : `>= ${left} (listing)`;
  };
  if (tty) {
    const bar = new cliProgress.SingleBar(
      {
        format:
          'backfill |{bar}| {value}/{total}{more} | {rate}/s | ETA {etaText} | tagged {tagged}, failed {failed}',
        hideCursor: true,
        stream: process.stderr,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(p: BackfillProgress) {
        const payload = {
          more: p.listingComplete ? '' : '+',
          rate: rate(p).toFixed(1),
          etaText: eta(p),
          tagged: p.summary.tagged,
          failed: failedCount(p.summary),
        };
        if (!started) {
          bar.start(Math.max(1, p.listed), p.done, payload);
          started = true;
        }
        bar.setTotal(Math.max(1, p.listed));
        bar.update(p.done, payload);
      },
      stop: () => started && bar.stop(),
    };
  }
  let last = 0;
  return {
    update(p: BackfillProgress) {
      if (Date.now() - last < PLAIN_PROGRESS_MS) return;
      last = Date.now();
      console.error(
        `backfill: ${p.done}/${p.listed}${p.listingComplete ? '' : '+'} done, ${rate(p).toFixed(1)}/s, ETA ${eta(p)}, tagged ${p.summary.tagged}, failed ${failedCount(p.summary)}`,
      );
    },
    stop() {},
  };
}

function printSummary(s: BackfillSummary, requests: Record<string, number>, dryRun: boolean): void {
  const k = s.skipped;
  console.log(`listed     ${s.listed}`);
  if (dryRun) console.log(`would tag  ${s.wouldTag}`);
  else {
    console.log(`tagged     ${s.tagged}`);
    console.log(`unchanged  ${s.unchanged}`);
    console.log(`indexed    ${s.indexed} (tags were current; the label index lacked them)`);
    console.log(`embedded   ${s.embedded ?? 0} (tags were current; the vector index lacked this version)`);
  }
  console.log(
    `skipped    ${k.notTaggable + k.current + k.otherModel + k.missing + k.newer}: ${k.current} already current, ${k.notTaggable} not taggable, ${k.otherModel} other model, ${k.missing} deleted since listed, ${k.newer} changed since listed`,
  );
  console.log(`failed     ${failedCount(s)}`);
  for (const [reason, n] of Object.entries(s.failed))
    console.log(
      `  ${n} ${reason}: ${(s.failedKeys[reason] ?? []).join(', ')}${n > (s.failedKeys[reason]?.length ?? 0) ? ', ...' : ''}`,
    );
  console.log(
    `S3 requests (this run): ${
      Object.entries(requests)
        .map(([name, n]) => `${name.replace(/Command$/, '')} ${n}`)
        .join(', ') || 'none'
    }`,
  );
}

/**
 * The label index table, read once before anything else is done with it, so a table that does not
 * exist (or cannot be read) stops the run before the model loads or any object is touched, with an
 * error naming where the name came from. AWS_ENDPOINT_URL_DYNAMODB, read by the SDK, points at a
 * local DynamoDB.
 */
async function labelIndex(table: string, source: string, bucket: string): Promise<LabelIndex> {
  const client = new DynamoDBClient({});
  const index = dynamoLabelIndex(client, table);
  try {
    await index.get(bucket, '');
  } catch (err) {
    const where = process.env.AWS_ENDPOINT_URL_DYNAMODB
      ? `at AWS_ENDPOINT_URL_DYNAMODB=${process.env.AWS_ENDPOINT_URL_DYNAMODB}`
      : `in ${await client.config.region().catch(() => 'the default region')}`;
    const { name, message } = err as Error;
    throw new Error(
      name === 'ResourceNotFoundException'
        ? `${source} ${table}: no such DynamoDB table ${where}`
        : `${source} ${table}: cannot read the table ${where}: ${message}`,
    );
  }
  return index;
}

/**
 * The vector index, read once first (like the label table), so an index that does not exist stops
 * the run with its name before anything is touched.
 */
async function vectorIndex(
  bucket: string,
  index: string,
  dimension: number | undefined,
): Promise<VectorIndex> {
  if (!dimension)
    throw new Error(`--vector-bucket ${bucket}: the model folder has no embedding (model.json "embedding")`);
  const where = process.env.AWS_ENDPOINT_URL_S3VECTORS
    ? `at AWS_ENDPOINT_URL_S3VECTORS=${process.env.AWS_ENDPOINT_URL_S3VECTORS}`
    : 'on S3 Vectors';
  const vectors = s3VectorIndex(new S3VectorsClient({}), { bucket, index, dimension });
  try {
    await vectors.get(['backfill-probe']);
  } catch (err) {
    const { name, message } = err as Error;
    throw new Error(
      name === 'NotFoundException'
        ? `vector index ${index} of vector bucket ${bucket}: not found ${where}`
        : `vector index ${index} of vector bucket ${bucket}: cannot read it ${where}: ${message}`,
    );
  }
  return vectors;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      bucket: { type: 'string' },
      prefix: { type: 'string' },
      concurrency: { type: 'string', default: '4' },
      'retag-older-than': { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      endpoint: { type: 'string' },
      table: { type: 'string' },
      'checkpoint-dir': { type: 'string' },
      json: { type: 'boolean', default: false },
      'vector-bucket': { type: 'string' },
      'vector-index': { type: 'string' },
      'vector-writes-per-second': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  if (!values.bucket) throw new Error(`--bucket is required\n${usage}`);
  const bucket = values.bucket;
  const concurrency = positive('concurrency', values.concurrency);
  const retagOlderThan = values['retag-older-than'] ? parseModelRef(values['retag-older-than']) : undefined;
  const dryRun = values['dry-run'];
  const {
    prefix: taggerPrefix,
    suffixes,
    minConfidence,
    categoryMinScore,
    language,
  } = taggerSettings(process.env);
  const prefix = values.prefix ?? taggerPrefix;
  if (!prefix.startsWith(taggerPrefix) && !taggerPrefix.startsWith(prefix))
    console.error(
      `note: --prefix ${prefix} is outside the tagger's prefix ${taggerPrefix} (UPLOAD_PREFIX): its keys are not taggable`,
    );

  const s3Options = s3Endpoint(process.env, values.endpoint, '--endpoint');
  const { endpoint } = s3Options;
  const table = values.table || indexTable(process.env);
  const index =
    table && !dryRun ? await labelIndex(table, values.table ? '--table' : 'INDEX_TABLE', bucket) : undefined;
  const s3 = new S3Client({
    ...s3Options,
    ...(endpoint && !process.env.AWS_REGION && !process.env.AWS_DEFAULT_REGION
      ? { region: 'us-east-1' }
      : {}),
  });
  const requests: Record<string, number> = {};
  s3.middlewareStack.add(
    (next, context) => (args) => {
      const name = context.commandName ?? '?';
      requests[name] = (requests[name] ?? 0) + 1;
      return next(args);
    },
    { step: 'initialize', name: 'countRequests' },
  );

  const modelDir = process.env.MODEL_DIR
    ? resolve(process.env.MODEL_DIR)
    : (await selectModel({ log: (line) => console.error(`[model] ${line}`) })).dir;
  const config = classifierSettings({ ...process.env, MODEL_DIR: modelDir });
  const classifier = await createClassifier(config.modelDir, config);
  const model = formatModelRef(classifier.folder.meta);
  if (!labelsMeaningful(modelDir))
    console.error(`WARNING: ${model} has random weights: its labels mean nothing`);
  // The vector index: flags over VECTOR_BUCKET/VECTOR_INDEX; the index defaults to the model's own.
  const fromEnv = vectorSettings(process.env);
  const vectorBucket = values['vector-bucket'] ?? fromEnv?.bucket;
  const vectorName = values['vector-index'] ?? fromEnv?.index ?? vectorIndexName(model);
  if (vectorBucket && !table)
    throw new Error(
      '--vector-bucket needs the label index (--table or INDEX_TABLE): it orders the vector writes',
    );
  const vectors = vectorBucket
    ? await vectorIndex(vectorBucket, vectorName, classifier.folder.meta.embedding?.dimension)
    : undefined;
  const perSecond = values['vector-writes-per-second'];
  const vectorsPerSecond = perSecond
    ? positiveUpTo('vector-writes-per-second', perSecond, VECTOR_LIMITS.vectorWritesPerSecond)
    : undefined;
  const vectorWriteRate: WriteRate = vectorsPerSecond
    ? {
        vectorsPerSecond,
        requestsPerSecond: Math.min(vectorsPerSecond, VECTOR_LIMITS.writeRequestsPerSecond),
      }
    : DEFAULT_BACKFILL_WRITE_RATE;

  const file = checkpointPath(
    values['checkpoint-dir'] ? resolve(values['checkpoint-dir']) : cacheDir('backfill'),
    {
      endpoint: endpoint ?? 'aws',
      bucket,
      prefix,
      taggerPrefix,
      suffixes,
      retagOlderThan: retagOlderThan ? formatModelRef(retagOlderThan) : null,
    },
  );
  console.error(
    `backfill s3://${bucket}/${prefix} with ${model} (${basename(modelDir)}), concurrency ${concurrency}${retagOlderThan ? `, re-tagging models older than ${formatModelRef(retagOlderThan)}` : ''}${dryRun ? ', DRY RUN: nothing is written' : ''}${index ? `, index table ${table}` : ''}${vectors ? `, vector index ${vectorName} of ${vectorBucket} (at most ${vectorWriteRate.vectorsPerSecond} vector writes/s)` : ''}`,
  );

  const controller = new AbortController();
  let stops = 0;
  const onSigint = () => {
    stops++;
    if (stops > 1) process.exit(130);
    console.error(
      '\nstopping: finishing the objects in flight and saving the checkpoint (Ctrl-C again to quit now)',
    );
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);

  const bar = progressReporter(process.stderr.isTTY === true && !values.json);
  const store = s3ObjectStore(s3);
  // Taught names (in the index table): each object tagged is scored against its model's names.
  const taught = table && index ? dynamoTaughtLabels(new DynamoDBClient({}), table) : undefined;
  let result: Awaited<ReturnType<typeof backfill>>;
  try {
    result = await backfill({
      tagger: {
        store,
        classifier,
        prefix: taggerPrefix,
        suffixes,
        minConfidence,
        categoryMinScore,
        language,
        ...(index ? { index } : {}),
        ...(vectors ? { vectors } : {}),
        ...(taught ? { names: cachedTaughtLabels(taught), dotProducts: ortDotProducts() } : {}),
      },
      vectorWriteRate,
      listing: s3BucketListing(s3),
      bucket,
      prefix,
      concurrency,
      ...(retagOlderThan ? { retagOlderThan } : {}),
      dryRun,
      checkpoint: fileCheckpoint(file),
      signal: controller.signal,
      onProgress: (p) => bar.update(p),
      onSelected: (key, why) => console.log(`would tag ${key} (${why})`),
    });
  } finally {
    bar.stop();
    await classifier.release();
  }
  const { summary, interrupted, resumedAfter } = result;
  if (resumedAfter !== undefined)
    console.error(`resumed after ${resumedAfter} (counts include the earlier runs)`);
  if (values.json)
    console.log(JSON.stringify({ ...summary, interrupted, requests, model, checkpoint: file }));
  else printSummary(summary, requests, dryRun);
  if (interrupted) {
    console.error(`stopped; run the same command to resume (checkpoint ${file})`);
    return 130;
  }
  // A model change: names taught for another model are learnt again from their examples (now
  // tagged and embedded by this one), and the stored images labelled again (docs/taught-names.md).
  if (taught && index && vectors) {
    const relearned = await relearnNames({
      bucket,
      model,
      index,
      vectors,
      labels: taught,
      tagging: { store, classifier, language },
      groupSize: groupSizeOf(classifier.folder.vocabulary),
      isVocabularyWord: () => false,
    });
    for (const r of relearned.filter((r) => r.result !== 'current'))
      console.error(
        `name "${r.name}": ${r.result === 'failed' ? `not re-learnt: ${r.detail}` : `${r.result === 'relearned' ? `re-learnt for ${model}` : 'labelling finished'}, ${r.labelled} images labelled`}`,
      );
    if (values.json) console.log(JSON.stringify({ names: relearned }));
  }
  return failedCount(summary) > 0 ? 2 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`backfill: ${err.message}`);
    process.exit(1);
  },
);
