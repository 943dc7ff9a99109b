/**
 * Lambda entry point of the HTTP API (see src/http/api.ts). UPLOAD_BUCKET and INDEX_TABLE turn on
 * search, object status and uploads (src/http/images.ts); their AWS clients load on first use, so
 * POST /classify and /health do not pay for them at cold start. Env: src/settings.ts (the S3 endpoint
 * also points the presigned URLs at a local S3); AWS_ENDPOINT_URL_DYNAMODB the index at a local
 * DynamoDB. A direct invoke with {"benchmark": {...}} runs src/classifier/benchmark.ts.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createBenchmark, isBenchmarkEvent } from '../classifier/benchmark.ts';
import { classifier } from '../classifier/instance.ts';
import { createApi } from '../http/api.ts';
import { imageSettings, lazyImages } from '../http/images.ts';
import { readSettings } from '../settings.ts';
import { createPowertools, withPowertools } from './powertools.ts';

const powertools = createPowertools(classifier);
const settings = readSettings(process.env);
const imageRoutes = imageSettings(settings);
const images =
  imageRoutes &&
  lazyImages(imageRoutes, async () =>
    (await import('./image-ports.ts')).awsImagePorts(imageRoutes, settings.s3),
  );
const api = createApi({ classifier, telemetry: powertools, images });
const benchmark = createBenchmark({ serving: classifier });

export const handler = withPowertools(
  powertools,
  async (event: APIGatewayProxyEventV2 | { benchmark: unknown }, context) =>
    isBenchmarkEvent(event) ? benchmark(event, context) : api(event),
);
