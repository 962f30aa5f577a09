import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { CacheEntry, ResultCache } from '../core/result-cache.js';
import type { ResultPointer } from '../core/task.js';
import { TABLE } from '../../shared/definitions.js';

/**
 * Result cache entries as items of the task table, under `cache#<key>`: one
 * item per key, no index (the attribute names are none of the indexes'
 * keys, so an entry never shows up in a listing), removed by the table's TTL.
 */
const entryKey = (key: string) => ({ [TABLE.partitionKey]: `cache#${key}` });

const isPointer = (value: unknown): value is ResultPointer => {
  const pointer = value as Partial<ResultPointer> | undefined;
  return (
    typeof pointer?.bucket === 'string' &&
    typeof pointer.key === 'string' &&
    typeof pointer.json_bytes === 'number' &&
    typeof pointer.headline === 'object' &&
    pointer.headline !== null
  );
};

export class DynamoResultCache implements ResultCache {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** An item that is not a well-formed entry (there should be none) is no entry. */
  async get(key: string): Promise<CacheEntry | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: entryKey(key), ConsistentRead: true }),
    );
    if (!Item || !isPointer(Item.cached_result) || typeof Item.cache_expires_at !== 'string') return undefined;
    const figures: unknown = Item.cached_figure_keys;
    const figureKeys =
      Array.isArray(figures) && figures.every((key): key is string => typeof key === 'string') ? figures : undefined;
    return {
      result: Item.cached_result,
      expires_at: Item.cache_expires_at,
      ...(figureKeys?.length ? { figure_keys: figureKeys } : {}),
    };
  }

  /**
   * Written with UpdateItem, which creates the item: the worker may already
   * update task rows, and no PutItem grant is needed for this. A newer result
   * for the same key replaces the entry.
   */
  async put(key: string, entry: CacheEntry): Promise<void> {
    // A newer entry without figures drops the older one's list.
    const figures = entry.figure_keys?.length ? entry.figure_keys : undefined;
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: entryKey(key),
        UpdateExpression: `SET #result = :result, #expires = :expires, #ttl = :ttl${figures ? ', #figures = :figures' : ' REMOVE #figures'}`,
        ExpressionAttributeNames: {
          '#result': 'cached_result',
          '#expires': 'cache_expires_at',
          '#ttl': TABLE.ttlAttribute,
          '#figures': 'cached_figure_keys',
        },
        ExpressionAttributeValues: {
          ':result': entry.result,
          ':expires': entry.expires_at,
          ':ttl': Math.ceil(Date.parse(entry.expires_at) / 1000),
          ...(figures ? { ':figures': figures } : {}),
        },
      }),
    );
  }
}
