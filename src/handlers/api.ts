/**
 * Lambda entry point of the HTTP API (see src/http/api.ts). UPLOAD_BUCKET and INDEX_TABLE turn on
 * search, object status and uploads (src/http/images.ts); their AWS clients load on first use, so
 * POST /classify and /health do not pay for them at cold start. Settings: src/settings.ts, read once
 * in ./init.ts (the S3 endpoint also points the presigned URLs at a local S3);
 * AWS_ENDPOINT_URL_DYNAMODB (read by the AWS SDK) points the index at a local DynamoDB.
 * AUTH_ISSUER and AUTH_CLIENT_ID (or AUTH_PUBLIC=true) say who may call the data routes
 * (src/http/access.ts); without them it does not start. A direct invoke with {"benchmark": {...}} runs src/classifier/benchmark.ts.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createBenchmark, isBenchmarkEvent } from '../classifier/benchmark.ts';
import { type Access, userPoolAccess } from '../http/access.ts';
import { createApi } from '../http/api.ts';
import { authSettings, corsOrigins, type ImageSettings, imageSettings } from '../settings.ts';
import { cachedTaughtLabels } from '../tagging/taught-labels.ts';
import { classifier, settings } from './init.ts';
import { lazyImages } from './lazy-ports.ts';
import { createPowertools, withPowertools } from './powertools.ts';

const auth = authSettings(process.env);
const access: Access = auth.mode === 'public' ? auth : userPoolAccess(auth);
const powertools = createPowertools(classifier);
const imageRoutes = imageSettings(settings);
let ports: ReturnType<typeof loadPorts> | undefined;
const loadPorts = async () =>
  (await import('./image-ports.ts')).awsImagePorts(
    imageRoutes as ImageSettings,
    settings.s3,
    classifier.folder,
  );
/** The image and label routes' ports, made on first use (a failed load is tried again). */
const portsOnce = () =>
  (ports ??= loadPorts().catch((err: unknown) => {
    ports = undefined;
    throw err;
  }));
// The taught names, read again after TAUGHT_LABELS_TTL_MS (or at once after this container changed one).
const taught = cachedTaughtLabels({ list: async (bucket) => (await portsOnce()).labels.list(bucket) });
const images = imageRoutes && {
  ...lazyImages(imageRoutes, portsOnce),
  names: {
    list: async () => (await taught(imageRoutes.bucket)).map((l) => l.name),
    has: async (name: string) =>
      (await (await portsOnce()).labels.get(imageRoutes.bucket, name)) !== undefined,
  },
};
const api = createApi({
  classifier,
  telemetry: powertools,
  images,
  ...(imageRoutes
    ? {
        labels: {
          bucket: imageRoutes.bucket,
          ports: portsOnce,
          language: settings.language,
          changed: (bucket: string) => taught.forget(bucket),
        },
      }
    : {}),
  initializationType: settings.lambda.initializationType,
  access,
  origins: corsOrigins(process.env),
});
const benchmark = createBenchmark({ serving: classifier, memoryMb: settings.lambda.memoryMb });

export const handler = withPowertools(
  powertools,
  async (event: APIGatewayProxyEventV2 | { benchmark: unknown }, context) =>
    isBenchmarkEvent(event) ? benchmark(event, context) : api(event),
);
