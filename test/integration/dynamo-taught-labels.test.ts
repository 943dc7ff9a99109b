/** The taught labels on DynamoDB (src/aws/dynamo-taught-labels.ts) on dynalite: the TaughtLabelStore contract. */
import { afterAll, beforeAll } from 'vitest';
import { type LocalDynamo, startLocalDynamo } from '../../scripts/local/local-dynamo.ts';
import { dynamoTaughtLabels } from '../../src/aws/dynamo-taught-labels.ts';
import { taughtLabelsContract } from '../helpers/taught-labels-contract.ts';

const TABLE = 'labels-taught-contract';
let dynamo: LocalDynamo;
beforeAll(async () => {
  dynamo = await startLocalDynamo({ tables: [TABLE] });
});
afterAll(async () => {
  await dynamo?.close();
});

taughtLabelsContract('DynamoDB adapter on dynalite (the label index table)', async () =>
  dynamoTaughtLabels(dynamo.client, TABLE),
);
