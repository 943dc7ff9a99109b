/**
 * Lambda entry point of the HTTP API (see src/http/api.ts). UPLOAD_BUCKET and INDEX_TABLE turn on
 * search, object status and uploads (src/http/images.ts); their AWS clients load on first use, so
 * POST /classify and /health do not pay for them at cold start. S3_ENDPOINT or AWS_ENDPOINT_URL_S3
 * point the S3 client (and so the presigned URLs) at a local S3, AWS_ENDPOINT_URL_DYNAMODB the index
 * at a local DynamoDB. A direct invoke with {"benchmark": {...}} runs src/classifier/benchmark.ts.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createBenchmark, isBenchmarkEvent } from '../classifier/benchmark.ts';
import { classifier } from '../classifier/instance.ts';
import { createApi } from '../http/api.ts';
import { imageSettings, lazyImages } from '../http/images.ts';
import { createPowertools, withPowertools } from './powertools.ts';

const powertools = createPowertools(classifier);
const endpoint = process.env.S3_ENDPOINT || process.env.AWS_ENDPOINT_URL_S3 || undefined;
const settings = imageSettings(process.env);
const images =
  settings &&
  lazyImages(settings, async () =>
    (await import('./image-ports.ts')).awsImagePorts(
      settings,
      endpoint ? { endpoint, forcePathStyle: true } : {},
    ),
  );
const api = createApi({ classifier, telemetry: powertools, images });
const benchmark = createBenchmark({ serving: classifier });

export const handler = withPowertools(
  powertools,
  async (event: APIGatewayProxyEventV2 | { benchmark: unknown }, context) =>
    isBenchmarkEvent(event) ? benchmark(event, context) : api(event),
);
