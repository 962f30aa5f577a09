import { checkFigureMode } from '../figure-descriptions/policy.js';
import { createHash } from 'node:crypto';
import { PREFIX } from '../../shared/definitions.js';
import { AppError } from '../errors.js';
import { announce } from './events.js';
import { cleanFilename } from './filenames.js';
import { OPTION_NAMES, optionsSchema, parseOptions, type ProcessingOptions } from '../documents/options.js';
import type { EventSink } from './ports.js';
import { checkDestination } from '../knowledge-base/destinations.js';
import { submit, type SubmissionDeps, type SubmissionPolicy } from './submission.js';

/**
 * The drop folder: every object written under `inbox/` becomes a task, as if
 * its `s3://` URI had been submitted, with the options its metadata names
 * (`x-amz-meta-docproc-split: true`). S3 tells of each object at least once,
 * through the upload-events queue; the task id is derived from the object's
 * event, so a repeated notification finds its task instead of making another,
 * while writing the key again (a new event) makes a new task.
 */

/** An ObjectCreated notification's object, as S3 describes it (the key URL-decoded). */
export interface DroppedObject {
  bucket: string;
  key: string;
  eTag?: string | undefined;
  /** Set in a versioned bucket: a new one for every write. */
  versionId?: string | undefined;
  /** Increases with each event on a key: tells two writes of the same bytes apart. */
  sequencer?: string | undefined;
}

export interface DropFolderSettings {
  /** Who owns the tasks (an API key id, or `anonymous`): only that caller lists and sees them. */
  owner: string;
  policy: SubmissionPolicy;
}

/** What submitting takes (the id is derived here), the object's HEAD (`blobs`), and where events go. */
export interface DropFolderDeps extends Omit<SubmissionDeps, 'newId'> {
  events: EventSink;
}

export type DropOutcome =
  /** Queued to run. */
  | 'created'
  /** Recorded FAILURE (invalid metadata or key): it is listed, with the reason. */
  | 'rejected'
  /** The event was seen before: its task exists. */
  | 'duplicate'
  /** Deleted before it could be read: there is nothing to process. */
  | 'gone'
  /** A folder placeholder (`inbox/reports/`) or no way to tell this write from another: nothing to do. */
  | 'ignored';

/** Names in the drop folder's own namespace (a fixed, random UUID): no other name-based id can equal one. */
const NAMESPACE = Buffer.from('6f1c2f4e8d3b4a7c9e5d0b1a2c3d4e5f', 'hex');

/**
 * What tells this write of the key from every other: the version (versioned
 * buckets), else S3's sequencer, else the ETag (a sender that gives no
 * sequencer: the same bytes written again are then the same task).
 */
const revisionOf = (object: DroppedObject): string | undefined =>
  object.versionId
    ? `version:${object.versionId}`
    : object.sequencer
      ? `sequencer:${object.sequencer}`
      : object.eTag
        ? `etag:${object.eTag.replace(/"/g, '')}`
        : undefined;

/** A name-based UUID (RFC 9562, version 5) of the bucket, the key and the write. */
export const dropTaskId = (object: DroppedObject, revision: string): string => {
  const digest = createHash('sha1')
    .update(NAMESPACE)
    .update(JSON.stringify([object.bucket, object.key, revision]))
    .digest();
  digest[6] = ((digest[6] ?? 0) & 0x0f) | 0x50;
  digest[8] = ((digest[8] ?? 0) & 0x3f) | 0x80;
  const hex = digest.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
};

const METADATA_PREFIX = 'docproc-';

/** The header that sets an option: `chunk_size` → `x-amz-meta-docproc-chunk-size`. */
export const metadataHeader = (option: string): string => `x-amz-meta-${METADATA_PREFIX}${option.replace(/_/g, '-')}`;

const invalidMetadata = (issues: Array<{ field: string; message: string }>) =>
  new AppError(
    'VALIDATION_ERROR',
    `Invalid object metadata: ${issues.map((issue) => `${issue.field}: ${issue.message}`).join('; ')}`,
    { details: issues },
  );

/**
 * The options an object's metadata sets, checked as the routes check their
 * form fields (`docproc-chunk-size` is `chunk_size`; `-` and `_` alike).
 * Metadata outside `docproc-` is someone else's and ignored; an unknown
 * `docproc-` name is refused rather than dropped (a typo would otherwise run
 * with the default). Throws a VALIDATION_ERROR naming each header.
 */
export const optionsFromMetadata = (metadata: Record<string, string> = {}): ProcessingOptions => {
  const fields: Record<string, string> = {};
  const unknown: string[] = [];
  for (const [name, value] of Object.entries(metadata)) {
    const lower = name.toLowerCase();
    if (!lower.startsWith(METADATA_PREFIX)) continue;
    const option = lower.slice(METADATA_PREFIX.length).replace(/-/g, '_');
    if ((OPTION_NAMES as readonly string[]).includes(option)) fields[option] = value;
    else unknown.push(`x-amz-meta-${lower}`);
  }
  if (unknown.length) {
    throw invalidMetadata(
      unknown.map((field) => ({
        field,
        message: `not an option; the options are ${OPTION_NAMES.map(metadataHeader).join(', ')}`,
      })),
    );
  }
  const parsed = optionsSchema.safeParse(fields);
  if (!parsed.success) {
    throw invalidMetadata(
      parsed.error.issues.map((issue) => ({
        field: issue.path.length ? metadataHeader(issue.path.map(String).join('.')) : 'x-amz-meta-docproc-*',
        message: issue.message,
      })),
    );
  }
  return parsed.data;
};

const MAX_KEY_BYTES = 1024;

/**
 * A key the routes would refuse as an `s3://` source (see document-request.ts):
 * dot segments, which some layer could resolve away from the prefix, and
 * control characters.
 */
export const keyProblem = (key: string): AppError | undefined =>
  Buffer.byteLength(key) > MAX_KEY_BYTES ||
  [...key].some((char) => char < ' ' || char === '\x7f') ||
  key.split('/').some((segment) => segment === '.' || segment === '..')
    ? new AppError(
        'VALIDATION_ERROR',
        'source: the object key has a "." or ".." segment or a control character; rename it and write it again.',
        { details: [{ field: 'source', message: 'not a key the service reads' }] },
      )
    : undefined;

/**
 * Makes the object's task, once per write: an ordinary `s3://` task queued
 * by size like `process` makes, or, when its metadata or key cannot be used,
 * a task recorded FAILURE (VALIDATION_ERROR naming the header) so that
 * nothing dropped vanishes without a trace.
 */
export const dropFolderArrived = async (
  deps: DropFolderDeps,
  settings: DropFolderSettings,
  object: DroppedObject,
): Promise<{ outcome: DropOutcome; taskId?: string }> => {
  const revision = revisionOf(object);
  const ours = object.bucket === settings.policy.bucket && object.key.startsWith(PREFIX.inbox);
  if (!ours || object.key.endsWith('/') || !revision) return { outcome: 'ignored' };
  const taskId = dropTaskId(object, revision);
  if (await deps.store.get(taskId)) return { outcome: 'duplicate', taskId };
  const head = await deps.blobs.head(object.bucket, object.key);
  if (!head) return { outcome: 'gone', taskId };

  let options: ProcessingOptions = parseOptions({});
  let rejection = keyProblem(object.key);
  if (!rejection) {
    try {
      options = optionsFromMetadata(head.metadata);
      checkDestination(options.destination, settings.owner, settings.policy.destinations ?? {});
      checkFigureMode(options, settings.policy.figureModelId);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      rejection = error;
    }
  }
  const uri = `s3://${object.bucket}/${object.key}`;
  const submitted = await submit({ ...deps, newId: () => taskId }, settings.policy, {
    request: {
      kind: 'source',
      source: { type: 's3', uri, filename: cleanFilename(object.key.split('/').pop()), size_bytes: head.size },
      input: { kind: 's3', bucket: object.bucket, key: object.key },
      sizeBytes: head.size,
    },
    options,
    owner: settings.owner,
    rejection,
  }).catch(async (error: unknown) => {
    // The same event handled at the same time elsewhere: its row won.
    if (await deps.store.get(taskId)) return undefined;
    throw error;
  });
  if (!submitted) return { outcome: 'duplicate', taskId };
  // Sent now, or by the janitor's sweep when the bus or the queue cannot take it.
  if (rejection) await announce(deps, submitted.task);
  return { outcome: rejection ? 'rejected' : 'created', taskId };
};
