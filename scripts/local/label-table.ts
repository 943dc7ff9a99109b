/**
 * The label index table: one definition, used by the local stack (scripts/local/local-dynamo.ts)
 * and asserted equal to the stack's AWS::DynamoDB::Table by the packaging test.
 * Item layout: src/aws/dynamo-index.ts.
 */
export const LABEL_TABLE = {
  KeySchema: [
    { AttributeName: 'pk', KeyType: 'HASH' },
    { AttributeName: 'sk', KeyType: 'RANGE' },
  ],
  AttributeDefinitions: [
    { AttributeName: 'pk', AttributeType: 'S' },
    { AttributeName: 'sk', AttributeType: 'S' },
  ],
  BillingMode: 'PAY_PER_REQUEST',
  /** Tombstones of deleted objects expire (seconds since the epoch). */
  ttlAttribute: 'expiresAt',
} as const;
