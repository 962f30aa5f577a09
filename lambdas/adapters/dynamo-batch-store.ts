import {
  BatchGetCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { TABLE } from '../../shared/definitions.js';
import {
  isCountedStatus,
  pageShards,
  shardsUpTo,
  zeroCounts,
  type Batch,
  type BatchIngestion,
  type BatchCounts,
  type BatchRequest,
  type BatchTally,
  type CountedStatus,
} from '../core/batch.js';
import type { BatchStore, IdempotencyRecord, ListingStep } from '../core/ports.js';
import { isTerminal, type Task } from '../core/task.js';
import { isConditionFailure } from './dynamo-conditions.js';
import { DynamoIdempotencyKeys } from './dynamo-idempotency-keys.js';

const headKey = (batchId: string) => ({ [TABLE.partitionKey]: `batch#${batchId}` });
const shardKey = (batchId: string, shard: number) => ({ [TABLE.partitionKey]: `batch#${batchId}#${shard}` });
const epochSeconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);

/** How a child is remembered on its counter item: the status it is counted in, as of which version of its row. */
interface Member {
  s: CountedStatus;
  v: number;
}

/** Writes to one counter item race only with its other children's; a few rounds settle any such race. */
const MAX_COUNT_ROUNDS = 20;
const BATCH_GET_KEYS = 100;
const BATCH_GET_CONCURRENCY = 8;

const fromHead = (item: Record<string, unknown> | undefined): Batch | undefined => {
  if (!item?.request) return undefined;
  return {
    ...(item.request as BatchRequest),
    page: Number(item.page ?? 0),
    next_token: typeof item.next_token === 'string' ? item.next_token : undefined,
    listed: Number(item.listed ?? 0),
    listing_done: item.listing_done === true,
    revoked_at: typeof item.revoked_at === 'string' ? item.revoked_at : undefined,
    sweep:
      typeof item.sweep_kind === 'string' && typeof item.sweeping_since === 'string'
        ? { kind: item.sweep_kind === 'cancel' ? 'cancel' : 'retry', since: item.sweeping_since }
        : undefined,
    ingestion: (item.ingestion as BatchIngestion | undefined) ?? undefined,
  };
};

/**
 * Batches in the task table: a head item (`batch#{id}`: the request and how
 * far listing got) and counter items (`batch#{id}#{shard}`), each holding
 * the counts of its children by status and, per child, the status it is
 * counted in and the version of the row that said so. A child's change is
 * counted by one conditional update of its counter item: the counts and the
 * child's entry move together, an older view of the row (a late or repeated
 * announcement) changes nothing, so counts are exact however events repeat
 * or cross. Sixteen counter items per listing page keep any one item small
 * (about sixty children) and its writes a sixteenth of the page's.
 */
export class DynamoBatchStore implements BatchStore {
  private readonly keys: DynamoIdempotencyKeys;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    now: () => Date = () => new Date(),
  ) {
    this.keys = new DynamoIdempotencyKeys(client, tableName, now);
  }

  /** Writes the head; with `idempotency`, once per key (the key claimed first, as for tasks). */
  async create(
    batch: Batch,
    idempotency?: IdempotencyRecord,
  ): Promise<{ created: true } | { created: false; existing: IdempotencyRecord }> {
    if (idempotency) {
      const existing = await this.keys.claim(idempotency, async (id) => (await this.get(id)) !== undefined);
      if (existing) return { created: false, existing };
    }
    try {
      await this.writeHead(batch);
    } catch (error) {
      if (idempotency) await this.keys.release(idempotency.key, batch.batch_id).catch(() => undefined);
      throw error;
    }
    return { created: true };
  }

  private async writeHead(batch: Batch): Promise<void> {
    const { page, next_token, listed, listing_done, revoked_at: _revoked, sweep: _sweep, ...request } = batch;
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...headKey(batch.batch_id),
          request,
          page,
          ...(next_token ? { next_token } : {}),
          listed,
          listing_done,
          [TABLE.ttlAttribute]: epochSeconds(batch.expires_at),
        },
        ConditionExpression: 'attribute_not_exists(#pk)',
        ExpressionAttributeNames: { '#pk': TABLE.partitionKey },
      }),
    );
  }

  async get(batchId: string): Promise<Batch | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: headKey(batchId), ConsistentRead: true }),
    );
    return fromHead(Item);
  }

  async openPage(batch: Batch, page: number): Promise<void> {
    await Promise.all(pageShards(page).map((shard) => this.openShard(batch, shard)));
  }

  private async openShard(batch: Pick<Batch, 'batch_id' | 'expires_at'>, shard: number): Promise<void> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...shardKey(batch.batch_id, shard),
            members: {},
            counts: zeroCounts(),
            [TABLE.ttlAttribute]: epochSeconds(batch.expires_at),
          },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': TABLE.partitionKey },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  async count(task: Task): Promise<void> {
    const { batch } = task;
    if (!batch || !isCountedStatus(task.status)) return;
    const version = task.version ?? 1;
    const key = shardKey(batch.id, batch.shard);
    const names = { '#m': 'members', '#id': task.task_id };
    for (let round = 0; round < MAX_COUNT_ROUNDS; round++) {
      const { Item } = await this.client.send(
        new GetCommand({
          TableName: this.tableName,
          Key: key,
          ConsistentRead: true,
          ProjectionExpression: '#m.#id',
          ExpressionAttributeNames: names,
        }),
      );
      if (!Item) {
        // Counter items are opened with their page; one missing (expired, or opened by a crashed run) is opened here.
        await this.openShard({ batch_id: batch.id, expires_at: task.expires_at }, batch.shard);
        continue;
      }
      const old = (Item.members as Record<string, Member> | undefined)?.[task.task_id];
      if (old && old.v >= version) return;
      const entry: Member = { s: task.status, v: version };
      const values: Record<string, unknown> = { ':entry': entry };
      const extraNames: Record<string, string> = {};
      const sets = ['#m.#id = :entry'];
      const adds: string[] = [];
      if (old?.s !== entry.s) {
        extraNames['#c'] = 'counts';
        extraNames['#new'] = entry.s;
        values[':one'] = 1;
        adds.push('#c.#new :one');
        if (old) {
          extraNames['#old'] = old.s;
          values[':minusOne'] = -1;
          adds.push('#c.#old :minusOne');
        }
      }
      if (isTerminal(task.status)) {
        extraNames['#last'] = 'last_final_at';
        values[':at'] = task.finished_at ?? task.updated_at;
        sets.push('#last = :at');
      }
      let condition = 'attribute_not_exists(#m.#id)';
      if (old) {
        extraNames['#v'] = 'v';
        values[':oldVersion'] = old.v;
        condition = '#m.#id.#v = :oldVersion';
      }
      try {
        await this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: key,
            UpdateExpression: `SET ${sets.join(', ')}${adds.length ? ` ADD ${adds.join(', ')}` : ''}`,
            ConditionExpression: condition,
            ExpressionAttributeNames: { ...names, ...extraNames },
            ExpressionAttributeValues: values,
          }),
        );
        return;
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
    }
    throw new Error(`Could not count task ${task.task_id} in batch ${batch.id}: its counter item kept changing.`);
  }

  /**
   * Every counter item read, BATCH_GET_CONCURRENCY requests of 100 keys at a
   * time: sixteen items per page of a thousand tasks, so a GET of a batch of
   * a million reads 16,000 items in about twenty rounds.
   */
  async tally(batch: Batch): Promise<BatchTally> {
    const counts: BatchCounts = zeroCounts();
    let lastFinalAt: string | undefined;
    const keys = shardsUpTo(batch.page).map((shard) => shardKey(batch.batch_id, shard));
    const lane = async () => {
      for (let round = 0; keys.length; round++) {
        const chunk = keys.splice(0, BATCH_GET_KEYS);
        const items = await this.readChunk(chunk, keys, round);
        for (const item of items) {
          for (const [status, value] of Object.entries((item.counts ?? {}) as Record<string, number>)) {
            if (isCountedStatus(status as Task['status'])) counts[status as CountedStatus] += Number(value);
          }
          const last = item.last_final_at as string | undefined;
          if (last && (!lastFinalAt || last > lastFinalAt)) lastFinalAt = last;
        }
      }
    };
    await Promise.all(Array.from({ length: BATCH_GET_CONCURRENCY }, lane));
    return { counts, lastFinalAt };
  }

  /** One BatchGetItem; keys DynamoDB left unprocessed (throttling) go back on `pending`, after a pause. */
  private async readChunk(
    chunk: Array<Record<string, string>>,
    pending: Array<Record<string, string>>,
    round: number,
  ): Promise<Array<Record<string, unknown>>> {
    const { Responses, UnprocessedKeys } = await this.client.send(
      new BatchGetCommand({
        RequestItems: {
          [this.tableName]: {
            Keys: chunk,
            ConsistentRead: true,
            ProjectionExpression: '#c, #last',
            ExpressionAttributeNames: { '#c': 'counts', '#last': 'last_final_at' },
          },
        },
      }),
    );
    const unprocessed = (UnprocessedKeys?.[this.tableName]?.Keys ?? []) as typeof chunk;
    if (unprocessed.length) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** round, 1000)));
      pending.push(...unprocessed);
    }
    return Responses?.[this.tableName] ?? [];
  }

  async advance(batchId: string, page: number, step: ListingStep): Promise<boolean> {
    const names: Record<string, string> = { '#page': 'page', '#listed': 'listed', '#done': 'listing_done' };
    const values: Record<string, unknown> = {
      ':page': page,
      ':next': page + 1,
      ':created': step.created,
      ':done': step.done,
    };
    let expression = 'SET #page = :next, #listed = #listed + :created, #done = :done';
    names['#token'] = 'next_token';
    if (step.nextToken) {
      values[':token'] = step.nextToken;
      expression += ', #token = :token';
    } else {
      expression += ' REMOVE #token';
    }
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: headKey(batchId),
          UpdateExpression: expression,
          ConditionExpression: '#page = :page AND #done = :false',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ...values, ':false': false },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async revoke(batchId: string, at: string): Promise<Batch | undefined> {
    try {
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: headKey(batchId),
          UpdateExpression: 'SET #revoked = :at',
          ConditionExpression: 'attribute_exists(#pk) AND attribute_not_exists(#revoked)',
          ExpressionAttributeNames: { '#revoked': 'revoked_at', '#pk': TABLE.partitionKey },
          ExpressionAttributeValues: { ':at': at },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return fromHead(Attributes);
    } catch (error) {
      if (isConditionFailure(error)) return this.get(batchId);
      throw error;
    }
  }

  async claimSweep(batchId: string, kind: 'cancel' | 'retry', at: string, staleBefore: string): Promise<boolean> {
    // A cancel takes over a retry's sweep (the retry stops at its next page, seeing the batch revoked).
    const conditions = ['attribute_exists(#pk)', '(attribute_not_exists(#since) OR #since < :stale'];
    if (kind === 'cancel') conditions[1] += ' OR #kind = :retry';
    conditions[1] += ')';
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: headKey(batchId),
          UpdateExpression: 'SET #kind = :kind, #since = :at',
          ConditionExpression: conditions.join(' AND '),
          ExpressionAttributeNames: { '#pk': TABLE.partitionKey, '#kind': 'sweep_kind', '#since': 'sweeping_since' },
          ExpressionAttributeValues: {
            ':kind': kind,
            ':at': at,
            ':stale': staleBefore,
            ...(kind === 'cancel' ? { ':retry': 'retry' } : {}),
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async releaseSweep(batchId: string, kind: 'cancel' | 'retry'): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: headKey(batchId),
          UpdateExpression: 'REMOVE #kind, #since',
          ConditionExpression: '#kind = :kind',
          ExpressionAttributeNames: { '#kind': 'sweep_kind', '#since': 'sweeping_since' },
          ExpressionAttributeValues: { ':kind': kind },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  async remove(batchId: string): Promise<void> {
    await this.client.send(new DeleteCommand({ TableName: this.tableName, Key: headKey(batchId) }));
  }

  async shardCounts(task: Task): Promise<BatchCounts | undefined> {
    if (!task.batch) return undefined;
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: shardKey(task.batch.id, task.batch.shard),
        ConsistentRead: true,
        ProjectionExpression: '#c',
        ExpressionAttributeNames: { '#c': 'counts' },
      }),
    );
    return Item?.counts ? { ...zeroCounts(), ...(Item.counts as Partial<BatchCounts>) } : undefined;
  }

  async claimIngestion(batchId: string, ingestion: BatchIngestion): Promise<boolean> {
    return this.writeIngestion(
      batchId,
      ingestion,
      'attribute_exists(#pk) AND (attribute_not_exists(#ingestion) OR #ingestion.#documents < :documents)',
    );
  }

  async recordIngestion(batchId: string, ingestion: BatchIngestion): Promise<void> {
    // Only over the claim it answers: a later claim (more documents) is not overwritten by an earlier start.
    await this.writeIngestion(
      batchId,
      ingestion,
      '#ingestion.#documents = :documents AND #ingestion.#requested = :requested',
    );
  }

  /** Sets the batch's ingestion where `condition` holds; false where it does not. */
  private async writeIngestion(batchId: string, ingestion: BatchIngestion, condition: string): Promise<boolean> {
    const requested = condition.includes(':requested');
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: headKey(batchId),
          UpdateExpression: 'SET #ingestion = :ingestion',
          ConditionExpression: condition,
          ExpressionAttributeNames: {
            '#ingestion': 'ingestion',
            '#documents': 'documents',
            ...(condition.includes('#pk') ? { '#pk': TABLE.partitionKey } : {}),
            ...(requested ? { '#requested': 'requested_at' } : {}),
          },
          ExpressionAttributeValues: {
            ':ingestion': ingestion,
            ':documents': ingestion.documents,
            ...(requested ? { ':requested': ingestion.requested_at } : {}),
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }
}
