/**
 * The taught labels on DynamoDB (adapter of src/tagging/taught-labels.ts), in the label index's
 * table (src/aws/dynamo-index.ts): no table of its own to deploy, back up or grant.
 *
 * Item   pk "t#<bucket>"  sk "<name>" (normalised)
 *   name, model, group?, centroid (Binary: float32 little-endian), threshold, leaveOneOut [N],
 *   examples [S], not [S], createdBy, createdByEmail?, createdAt, labelled, complete, progress?
 * One partition per bucket: listing every label is one Query (paged by DynamoDB at 1 MB). An item
 * is about 5.3 KB with a 1280-dimensional centroid and 3 ordinary keys (6 WRU to write, 1.5 RRU to
 * read eventually consistent); 1,000 labels are about 5.3 MB, a list about 650 RRU.
 * The label index's items start with "o#" and "l#": the partitions never meet.
 * IAM: the api needs PutItem, GetItem, UpdateItem, DeleteItem, Query; the tagger Query.
 */
import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { TaughtLabel, TaughtLabelStore } from '../tagging/taught-labels.ts';
import { MAX_TAUGHT_LABELS, normalizeName } from '../tagging/taught-labels.ts';

export const taughtPk = (bucket: string) => `t#${bucket}`;

/** A stored label: the port's TaughtLabel with its centroid as little-endian float32 bytes. */
type Item = Omit<TaughtLabel, 'centroid'> & { pk: string; sk: string; centroid: Uint8Array };

const toBytes = (v: Float32Array) => {
  const out = new Uint8Array(v.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < v.length; i++) view.setFloat32(i * 4, v[i] as number, true);
  return out;
};
const toFloats = (b: Uint8Array) => {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out = new Float32Array(Math.floor(b.byteLength / 4));
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
};

function toLabel(item: Item): TaughtLabel {
  return {
    name: item.name,
    model: item.model,
    ...(item.group !== undefined ? { group: item.group } : {}),
    centroid: toFloats(item.centroid),
    threshold: item.threshold,
    leaveOneOut: [...(item.leaveOneOut ?? [])],
    examples: [...(item.examples ?? [])],
    not: [...(item.not ?? [])],
    createdBy: item.createdBy,
    ...(item.createdByEmail !== undefined ? { createdByEmail: item.createdByEmail } : {}),
    createdAt: item.createdAt,
    labelled: item.labelled ?? 0,
    complete: item.complete ?? true,
    ...(item.progress !== undefined ? { progress: item.progress } : {}),
  };
}

const isConditionFailure = (err: unknown) =>
  err instanceof ConditionalCheckFailedException ||
  (err as { name?: string })?.name === 'ConditionalCheckFailedException';

export function dynamoTaughtLabels(client: DynamoDBClient, table: string): TaughtLabelStore {
  const db = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  const TableName = table;
  const key = (bucket: string, name: string) => ({ pk: taughtPk(bucket), sk: normalizeName(name) });
  return {
    async put(bucket, label) {
      const name = normalizeName(label.name);
      const item: Item = {
        ...key(bucket, name),
        name,
        model: label.model,
        ...(label.group !== undefined ? { group: label.group } : {}),
        centroid: toBytes(label.centroid),
        threshold: label.threshold,
        leaveOneOut: [...label.leaveOneOut],
        examples: [...label.examples],
        not: [...label.not],
        createdBy: label.createdBy,
        ...(label.createdByEmail !== undefined ? { createdByEmail: label.createdByEmail } : {}),
        createdAt: label.createdAt,
        labelled: label.labelled,
        complete: label.complete,
        ...(label.progress !== undefined ? { progress: label.progress } : {}),
      };
      const out = await db.send(new PutCommand({ TableName, Item: item, ReturnValues: 'ALL_OLD' }));
      return out.Attributes ? 'replaced' : 'created';
    },
    async get(bucket, name) {
      // A name that normalises to nothing is no label (and no key DynamoDB takes).
      if (normalizeName(name) === '') return undefined;
      const out = await db.send(new GetCommand({ TableName, Key: key(bucket, name), ConsistentRead: true }));
      return out.Item ? toLabel(out.Item as Item) : undefined;
    },
    async list(bucket) {
      const labels: TaughtLabel[] = [];
      let start: Record<string, unknown> | undefined;
      // Bounded: MAX_TAUGHT_LABELS items of at most ~400 KB each never take more pages than this.
      for (let page = 0; page < MAX_TAUGHT_LABELS; page++) {
        const out = await db.send(
          new QueryCommand({
            TableName,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': taughtPk(bucket) },
            ExclusiveStartKey: start,
          }),
        );
        labels.push(...((out.Items ?? []) as Item[]).map(toLabel));
        start = out.LastEvaluatedKey;
        if (!start) return labels;
      }
      throw new Error(`taught labels of ${bucket}: the list did not end`);
    },
    async progress(bucket, name, createdAt, p) {
      try {
        await db.send(
          new UpdateCommand({
            TableName,
            Key: key(bucket, name),
            ConditionExpression: 'createdAt = :at',
            UpdateExpression: `SET labelled = :n, complete = :c${p.progress !== undefined ? ', progress = :p' : ' REMOVE progress'}`,
            ExpressionAttributeValues: {
              ':at': createdAt,
              ':n': p.labelled,
              ':c': p.complete,
              ...(p.progress !== undefined ? { ':p': p.progress } : {}),
            },
          }),
        );
        return true;
      } catch (err) {
        if (isConditionFailure(err)) return false;
        throw err;
      }
    },
    async delete(bucket, name) {
      if (normalizeName(name) === '') return undefined;
      const out = await db.send(
        new DeleteCommand({ TableName, Key: key(bucket, name), ReturnValues: 'ALL_OLD' }),
      );
      return out.Attributes ? toLabel(out.Attributes as Item) : undefined;
    },
  };
}
