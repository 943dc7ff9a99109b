/** The local DynamoDB-compatible server (dynalite) with the label table: create, write with a condition, query. */
import { ConditionalCheckFailedException, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalDynamo, startLocalDynamo } from '../../scripts/local/local-dynamo.ts';

describe('local DynamoDB (dynalite)', () => {
  let dynamo: LocalDynamo;
  beforeAll(async () => {
    dynamo = await startLocalDynamo({ tables: ['labels-test'] });
  });
  afterAll(async () => dynamo?.close());

  it('creates the label table, honours conditions and queries a partition in sort order', async () => {
    const TableName = 'labels-test';
    const put = (sk: string) =>
      dynamo.client.send(
        new PutItemCommand({
          TableName,
          Item: { pk: { S: 'l#dog' }, sk: { S: sk } },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    await put('b');
    await put('a');
    await expect(put('a')).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    const out = await dynamo.client.send(
      new QueryCommand({
        TableName,
        KeyConditionExpression: 'pk = :p',
        ExpressionAttributeValues: { ':p': { S: 'l#dog' } },
      }),
    );
    expect(out.Items?.map((i) => i.sk?.S)).toEqual(['a', 'b']);
  });
});
