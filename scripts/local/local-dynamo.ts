/**
 * A real DynamoDB-compatible server on loopback (dynalite 4, in memory unless `directory` is set)
 * with the label index table created from scripts/local/label-table.ts. Used by `npm start` and the tests.
 *
 * dynalite implements GetItem, PutItem, UpdateItem, DeleteItem, BatchGetItem, BatchWriteItem, Query
 * and Scan with conditions, but not TransactWriteItems or TransactGetItems.
 */
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { LABEL_TABLE } from './label-table.ts';

export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export interface LocalDynamo {
  endpoint: string;
  client: DynamoDBClient;
  close(): Promise<void>;
}

export async function startLocalDynamo(options: {
  tables: string[];
  port?: number;
  address?: string;
  directory?: string;
}): Promise<LocalDynamo> {
  const address = options.address ?? '127.0.0.1';
  const server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(options.directory ? { path: options.directory } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, address, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://${address}:${port}`;
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
  for (const TableName of options.tables) {
    try {
      await client.send(
        new CreateTableCommand({
          TableName,
          KeySchema: [...LABEL_TABLE.KeySchema],
          AttributeDefinitions: [...LABEL_TABLE.AttributeDefinitions],
          BillingMode: LABEL_TABLE.BillingMode,
        }),
      );
    } catch (err) {
      if ((err as Error).name !== 'ResourceInUseException') throw err;
    }
  }
  return {
    endpoint,
    client,
    close: async () => {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
