import { AppError } from '../errors.js';
import type { KbDestinations } from '../../shared/knowledge-base.js';
import type { ProcessingResult } from '../documents/document.js';
import type { BlobStore, Clock } from '../core/ports.js';
import type { ResultDelivery, ResultPointer, Task } from '../core/task.js';
import { destinationOf } from './destinations.js';
import { kbObjects } from './objects.js';

export interface DeliveryDeps {
  blobs: BlobStore;
  clock: Clock;
  destinations: KbDestinations;
  /** The largest result JSON read back to write its document (the worker's own bound on results). */
  maxResultBytes: number;
}

const describe = (error: unknown): string =>
  error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error);

/**
 * Writes a succeeded run's document and its metadata sidecar under the
 * task's knowledge-base destination, before the task becomes SUCCESS (so a
 * SUCCESS with `delivered` means both objects are there). The keys depend
 * only on the task, so a retried or redelivered run overwrites what an
 * earlier one wrote. A destination that refuses the write, or that the
 * configuration no longer has, fails the task with DESTINATION_FAILED (the
 * result stays stored; a retry tries again).
 */
export const deliverToKnowledgeBase = async (
  deps: DeliveryDeps,
  task: Task,
  source: string,
  result: ResultPointer,
  /** The result's JSON when the run has it in hand (it just stored it); read back otherwise (a cache hit). */
  json?: Uint8Array,
): Promise<ResultDelivery | undefined> => {
  const option = task.options.destination;
  if (option === undefined) return undefined;
  const named = destinationOf(option, task.owner, deps.destinations);
  if (!named) {
    throw new AppError(
      'DESTINATION_FAILED',
      `The knowledge-base destination ${option} is no longer configured for this API key; the document was read but not delivered.`,
    );
  }
  const { destination } = named;
  const bytes = json ?? (await deps.blobs.get(result.bucket, result.key, deps.maxResultBytes)).bytes;
  const parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as ProcessingResult;
  const objects = kbObjects(task, source, parsed, destination, deps.clock.now());
  try {
    // The document first: the KB pairs a sidecar with the document beside it.
    await deps.blobs.put(destination.bucket, objects.document.key, objects.document.body, objects.document.contentType);
    try {
      await deps.blobs.put(destination.bucket, objects.sidecar.key, objects.sidecar.body, objects.sidecar.contentType);
    } catch (error) {
      // A document without its sidecar would be indexed without its metadata: it goes too.
      await deps.blobs.delete(destination.bucket, objects.document.key).catch(() => undefined);
      throw error;
    }
  } catch (error) {
    throw new AppError(
      'DESTINATION_FAILED',
      `Writing to the knowledge-base destination ${option} (s3://${destination.bucket}/${destination.prefix}) failed: ${describe(error)}`,
      { cause: error },
    );
  }
  return {
    destination: option,
    bucket: destination.bucket,
    document_key: objects.document.key,
    sidecar_key: objects.sidecar.key,
  };
};

/** Takes back what a run delivered (its task was cancelled meanwhile): best effort, the keys are the task's own. */
export const withdrawDelivery = async (blobs: BlobStore, delivered: ResultDelivery): Promise<void> => {
  await Promise.all(
    [delivered.sidecar_key, delivered.document_key].map((key) =>
      blobs.delete(delivered.bucket, key).catch(() => undefined),
    ),
  );
};
