/**
 * Lambda entry point of the S3 tagger (see src/tagging/tagger.ts): S3 notifications and EventBridge
 * S3 events (src/tagging/notifications.ts), and S3 Batch Operations invocations (src/tagging/batch.ts).
 * Settings: src/settings.ts, read once in ./init.ts (UPLOAD_PREFIX, IMAGE_SUFFIXES, INDEX_TABLE: unset, tags only; the S3
 * endpoint) and the classifier's (MODEL_DIR...); AWS_ENDPOINT_URL_DYNAMODB points the index at a local
 * DynamoDB (`npm start` sets them, and serverless-offline passes them through). A direct invoke with {"benchmark": {...}} runs
 * src/classifier/benchmark.ts.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { dynamoLabelIndex } from '../aws/dynamo-index.ts';
import { dynamoTaughtLabels } from '../aws/dynamo-taught-labels.ts';
import { s3ObjectStore } from '../aws/s3-object-store.ts';
import { servedVectorIndex } from '../aws/s3-vector-index.ts';
import {
  type BenchmarkFailure,
  type BenchmarkReport,
  createBenchmark,
  isBenchmarkEvent,
} from '../classifier/benchmark.ts';
import { ortDotProducts } from '../classifier/dot-products.ts';
import {
  type BatchOperationsEvent,
  type BatchResponse,
  createBatchTagger,
  isBatchOperationsEvent,
} from '../tagging/batch.ts';
import { createS3Tagger } from '../tagging/notifications.ts';
import type { TaggerEvent, TagOutcome } from '../tagging/tagger.ts';
import { cachedTaughtLabels } from '../tagging/taught-labels.ts';
import { classifier, settings } from './init.ts';
import { createPowertools, withPowertools } from './powertools.ts';

const powertools = createPowertools(classifier);
const store = s3ObjectStore(new S3Client(settings.s3));
const dynamo = new DynamoDBClient({});
const index = settings.table ? dynamoLabelIndex(dynamo, settings.table) : undefined;
// The taught names (in the index's table), read again after TAUGHT_LABELS_TTL_MS: each upload is scored against them.
const names = settings.table ? cachedTaughtLabels(dynamoTaughtLabels(dynamo, settings.table)) : undefined;
// A long list of names is scored in ONNX Runtime (its session made on first use).
const dotProducts = ortDotProducts();
// VECTOR_BUCKET/VECTOR_INDEX (with INDEX_TABLE): the embeddings too; AWS_ENDPOINT_URL_S3VECTORS locally.
const vectors = servedVectorIndex(settings.vectors, classifier.folder);
const { prefix, suffixes, minConfidence, categoryMinScore, language } = settings;
const options = {
  store,
  classifier,
  index,
  vectors,
  names,
  dotProducts,
  telemetry: powertools,
  prefix,
  suffixes,
  minConfidence,
  categoryMinScore,
  language,
};
const tagger = createS3Tagger(options);
const batch = createBatchTagger(options);
const benchmark = createBenchmark({ serving: classifier, memoryMb: settings.lambda.memoryMb });

export const handler = withPowertools(
  powertools,
  async (
    event: TaggerEvent | BatchOperationsEvent | { benchmark: unknown },
    context,
  ): Promise<TagOutcome[] | BatchResponse | BenchmarkReport | BenchmarkFailure> =>
    isBenchmarkEvent(event)
      ? benchmark(event, context)
      : isBatchOperationsEvent(event)
        ? batch(event)
        : tagger(event),
);
