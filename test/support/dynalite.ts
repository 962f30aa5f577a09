import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import type { AddressInfo } from 'node:net';
import { createDeliveriesTable, createTaskTable } from '../../local/provision.js';

export interface TestTable {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** The webhook delivery log, in the same emulator. */
  deliveriesTableName: string;
  close(): Promise<void>;
}

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

/** An in-memory DynamoDB (dynalite) with the task table and the delivery log, for tests that need real condition checks. */
export const startTestTable = async (): Promise<TestTable> => {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const raw = new DynamoDBClient({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials });
  const tableName = 'tasks';
  await createTaskTable(raw, tableName);
  const deliveriesTableName = 'deliveries';
  await createDeliveriesTable(raw, deliveriesTableName);
  return {
    client: DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } }),
    tableName,
    deliveriesTableName,
    close: () =>
      new Promise<void>((resolve) => {
        raw.destroy();
        server.close(() => resolve());
      }),
  };
};
