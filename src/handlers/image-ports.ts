/**
 * The AWS ports of the image and label routes: the label index and the taught labels on DynamoDB, the object store and the upload
 * signer on S3 (one client, so the presigned URLs and the tag reads go to the same endpoint), the
 * served model's vector index on S3 Vectors when VECTOR_BUCKET and VECTOR_INDEX are set.
 * src/handlers/api.ts imports this module only when a request needs it (lazyImages in lazy-ports.ts).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { dynamoLabelIndex } from '../aws/dynamo-index.ts';
import { dynamoTaughtLabels } from '../aws/dynamo-taught-labels.ts';
import { s3ObjectStore } from '../aws/s3-object-store.ts';
import { servedVectorIndex } from '../aws/s3-vector-index.ts';
import { s3UploadSigner } from '../aws/upload-signer.ts';
import type { ModelFolder } from '../classifier/model-folder.ts';
import type { ImagePorts } from '../http/images.ts';
import type { LabelPorts } from '../http/labels.ts';
import type { ImageSettings } from '../settings.ts';

export function awsImagePorts(
  settings: ImageSettings,
  s3Config: S3ClientConfig,
  folder: Pick<ModelFolder, 'dir' | 'meta'>,
): ImagePorts & LabelPorts {
  const s3 = new S3Client(s3Config);
  const dynamo = new DynamoDBClient({});
  const vectors = servedVectorIndex(settings.vectors, folder);
  return {
    index: dynamoLabelIndex(dynamo, settings.table),
    labels: dynamoTaughtLabels(dynamo, settings.table),
    store: s3ObjectStore(s3),
    signer: s3UploadSigner(s3, settings.bucket),
    ...(vectors ? { vectors } : {}),
  };
}
