/**
 * Lambda entry point of the HTTP API (see src/http/api.ts). UPLOAD_BUCKET and INDEX_TABLE turn on
 * search, object status and uploads (src/http/images.ts); S3_ENDPOINT or AWS_ENDPOINT_URL_S3 point
 * the S3 client (and so the presigned URLs) at a local S3, AWS_ENDPOINT_URL_DYNAMODB the index at a
 * local DynamoDB.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { classifier } from '../classifier/instance.ts';
import { createApi } from '../http/api.ts';
import { imagesFromEnv } from '../http/images.ts';
import { dynamoLabelIndex } from '../index/dynamo-index.ts';
import { createPowertools, withPowertools } from './powertools.ts';

const powertools = createPowertools(classifier);
const endpoint = process.env.S3_ENDPOINT || process.env.AWS_ENDPOINT_URL_S3 || undefined;
const images = imagesFromEnv(process.env, {
  s3: new S3Client(endpoint ? { endpoint, forcePathStyle: true } : {}),
  index: (table) => dynamoLabelIndex(new DynamoDBClient({}), table),
});
const api = createApi({ classifier, telemetry: powertools, images });

export const handler = withPowertools(powertools, api);
