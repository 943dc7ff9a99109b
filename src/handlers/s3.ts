/**
 * Lambda entry point of the S3 tagger (see src/tagging/tagger.ts). Env: UPLOAD_PREFIX (default
 * uploads/), IMAGE_SUFFIXES (comma-separated; default DEFAULT_IMAGE_SUFFIXES of src/tagging/tags.ts),
 * and the classifier's (MODEL_DIR...). S3_ENDPOINT or AWS_ENDPOINT_URL_S3 point the client at a local S3
 * (path-style; `npm start` sets AWS_ENDPOINT_URL_S3, which serverless-offline passes through).
 */
import { S3Client } from '@aws-sdk/client-s3';
import { classifier } from '../classifier/instance.ts';
import { s3ObjectStore } from '../tagging/object-store.ts';
import { createS3Tagger } from '../tagging/s3-tagger.ts';
import { createPowertools, withPowertools } from './powertools.ts';

const powertools = createPowertools(classifier);
const endpoint = process.env.S3_ENDPOINT || process.env.AWS_ENDPOINT_URL_S3 || undefined;
const store = s3ObjectStore(new S3Client(endpoint ? { endpoint, forcePathStyle: true } : {}));
const tagger = createS3Tagger({ store, classifier, telemetry: powertools, env: process.env });

export const handler = withPowertools(powertools, tagger);
