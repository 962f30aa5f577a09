/**
 * The service's wire shapes (API.md), as the SDK returns them. Field names
 * stay snake_case, exactly as the HTTP API spells them, so a value read from
 * the SDK, from curl or from a webhook is the same object.
 */

export const TASK_STATUSES = ['AWAITING_UPLOAD', 'PENDING', 'STARTED', 'SUCCESS', 'FAILURE', 'REVOKED'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const FINAL_STATUSES = ['SUCCESS', 'FAILURE', 'REVOKED'] as const;
export type FinalStatus = (typeof FINAL_STATUSES)[number];

/** Whether a task can change no more (until someone calls `retry`). */
export const isFinal = (status: TaskStatus): status is FinalStatus =>
  (FINAL_STATUSES as readonly string[]).includes(status);

export type TaskStage = 'queued' | 'fetching' | 'parsing' | 'splitting' | 'storing' | 'done';

export type OutputFormat = 'text' | 'markdown';
export type ChunkStrategy = 'recursive' | 'markdown' | 'by_heading' | 'by_page';
export type ChunkSizeUnit = 'chars' | 'tokens';
export type Tokenizer = 'cl100k_base' | 'o200k_base';
export type OcrMode = 'auto' | 'force' | 'off';
export type OcrLanguage = 'eng' | 'chi_sim' | 'chi_tra' | 'jpn' | 'kor' | 'deu' | 'fra' | 'spa';
export type WebhookEventType = 'task.started' | 'task.succeeded' | 'task.failed' | 'task.revoked';

/** The processing options every submission takes (API.md, "Options shared by every submission"). */
export interface ProcessingOptions {
  split?: boolean;
  chunk_size?: number;
  chunk_overlap?: number;
  output_format?: OutputFormat;
  chunk_strategy?: ChunkStrategy;
  chunk_size_unit?: ChunkSizeUnit;
  tokenizer?: Tokenizer;
  /** Page selection such as `"1-3,7"`. */
  pages?: string;
  /** Which pages OCR reads: `auto` (default: pages without a usable text layer, and images), `force`, `off`. */
  ocr?: OcrMode;
  /** OCR languages, `"eng+chi_sim"` (default `eng`; at most 3). */
  ocr_languages?: string;
  /** How far a poorly read page climbs the reading ladder: `fast`, `auto` (default), `best` (docs/reading.md). */
  quality?: QualityMode;
  /** Where each PDF or image document and chunk stands on its page: `metadata.boxes` (docs/structure.md, "Citations"). */
  include_boxes?: boolean;
  /** Pictures kept, placed and captioned: `off` (default), `refs`, `ocr`, `describe` (docs/results.md, "Figures"). */
  figures?: FigureMode;
  /** Parse again even when the result cache holds this document. */
  no_cache?: boolean;
  /** Also write the document and its metadata sidecar to a knowledge-base destination, `kb:<name>` (docs/knowledge-bases.md). */
  destination?: string;
}

/** Push instead of polling: a signed POST to `callback_url` (docs/api.md, "Webhooks"). */
export interface CallbackOptions {
  callback_url?: string;
  callback_events?: WebhookEventType[];
}

export type TaskSource =
  | { type: 'upload' | 'presigned'; filename: string; size_bytes: number }
  | { type: 'url'; url: string; filename?: string }
  | { type: 's3'; uri: string; filename?: string };

export interface DocumentMetadata {
  source: string;
  filename: string;
  page?: number;
  total_pages?: number;
  chunk_index?: number;
  start_index?: number;
  end_index?: number;
  chunk_id?: string;
  headings?: string[];
  page_end?: number;
  title?: string;
  /** PDF and image pages: how well the page was read. */
  quality?: PageQuality;
  [key: string]: string | number | boolean | null | string[] | PageQuality | PageBox[] | undefined;
}

/** Where a line stands on its page (`include_boxes`): points from the top left, its characters' range. */
export interface PageBox {
  page: number;
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  start?: number;
  end?: number;
}

export type QualityMode = 'fast' | 'auto' | 'best';
export type FigureMode = 'off' | 'refs' | 'ocr' | 'describe';

/** One figure of a result (`result.figures`): fetch its bytes with `DocprocClient.getFigure`. */
export interface Figure {
  id: string;
  page?: number;
  pages?: number[];
  section?: string;
  bbox?: { x0: number; y0: number; x1: number; y1: number };
  width?: number;
  height?: number;
  media_type?: 'image/png' | 'image/jpeg' | 'image/webp';
  bytes?: number;
  sha256?: string;
  /** A picture the document only links to: never fetched, not stored. */
  url?: string;
  caption?: string;
  caption_source?: 'label' | 'figcaption' | 'alt_text' | 'title';
  text?: string;
  /** `figures=describe`: a vision model's short description. */
  description?: string;
}

/** `GET tasks/{id}/figures/{figure_id}`: a short-lived link to the stored picture. */
export interface FigureLink {
  task_id: string;
  figure_id: string;
  media_type: string;
  bytes: number;
  url: string;
  expires_at: string;
}
export type Grade = 'good' | 'fair' | 'poor';
export type Rung = 'text_layer' | 'ocr' | 'ocr_hires';

/** `metadata.quality` of a page document: its grade, why, and which rung's reading it kept. */
export interface PageQuality {
  grade: Grade;
  reasons: string[];
  rung: Rung;
  characters: number;
  garbage_ratio: number;
  ocr_confidence?: number;
  low_confidence_words?: number;
  script_match?: number;
  /** Each rung tried, with the grade it got (`"ocr poor"`), when more than one was. */
  tried?: string[];
}

/** `result.quality`: the pages by grade and by rung, and the poor ones. */
export interface QualitySummary {
  grade: Grade;
  pages: Record<Grade, number>;
  rungs: Partial<Record<Rung, number>>;
  poor_pages: number[];
}

/** A LangChain-style document: what `documents` holds. */
export interface ResultDocument {
  page_content: string;
  metadata: DocumentMetadata;
}

export interface ResultWarning {
  code: string;
  message: string;
}

/**
 * `result` of a successful task. Above the inline limit `documents` is left
 * out and `result_url` links the whole JSON: `DocprocClient.getResult` reads
 * either way.
 */
export interface TaskResult {
  status: 'success';
  filename: string;
  format?: string;
  document_count: number;
  documents?: ResultDocument[];
  warnings?: ResultWarning[];
  stats?: { bytes: number; pages?: number; characters: number; figures?: number };
  /** With `figures` on: the pictures kept, in the order they stand. */
  figures?: Figure[];
  /** PDF and images: how well the pages were read. */
  quality?: QualitySummary;
  result_url?: string;
  result_url_expires_at?: string;
}

/** A result with its documents, as `getResult` returns it. */
export type FullTaskResult = Omit<TaskResult, 'documents' | 'result_url' | 'result_url_expires_at'> & {
  documents: ResultDocument[];
};

/** `error` of a FAILURE task: whether retrying the task may help is the service's call. */
export interface TaskError {
  code: string;
  message: string;
  retryable: boolean;
}

export interface Task {
  task_id: string;
  status: TaskStatus;
  progress: number;
  stage: TaskStage;
  source: TaskSource;
  options: ProcessingOptions & { split: boolean; chunk_size: number; chunk_overlap: number };
  attempts: number;
  created_at: string;
  started_at?: string;
  finished_at?: string;
  updated_at: string;
  expires_at: string;
  upload_expires_at?: string;
  /** Served from the result cache. */
  cached?: boolean;
  /** A document with many pages to recognise is read in parts: how many, and how many pages, are done. */
  fan_out?: TaskFanOut;
  /** With `destination`: where the document and its metadata sidecar were written. */
  delivered?: TaskDelivery;
  error?: TaskError;
  result?: TaskResult;
}

/** `delivered` of a task with a knowledge-base destination. */
export interface TaskDelivery {
  destination: string;
  /** `s3://bucket/key` of the document (Markdown or text). */
  document: string;
  /** `s3://bucket/key` of its `.metadata.json` sidecar. */
  metadata: string;
}

/** `fan_out` of a task read in parts (page fan-out). */
export interface TaskFanOut {
  parts: number;
  parts_done: number;
  ocr_pages: number;
  ocr_pages_done: number;
}

/** What a submission answers. */
export interface SubmittedTask {
  task_id: string;
  status: TaskStatus;
  message?: string;
  /** The service had this Idempotency-Key already: this is the task the first request created. */
  replayed: boolean;
  /** Which route carried it: a multipart `upload`, a presigned `upload-url` and PUT, or `process`. */
  route: 'upload' | 'upload-url' | 'process';
}

export interface TaskPage {
  tasks: Task[];
  next_token?: string;
}

export type BatchStatus = 'LISTING' | 'RUNNING' | 'COMPLETED' | 'COMPLETED_WITH_ERRORS' | 'REVOKED';
export const FINAL_BATCH_STATUSES: readonly BatchStatus[] = ['COMPLETED', 'COMPLETED_WITH_ERRORS', 'REVOKED'];

export interface Batch {
  batch_id: string;
  status: BatchStatus;
  /** `null` while an S3 prefix is still being listed. */
  total: number | null;
  listed: number;
  counts: Record<'PENDING' | 'STARTED' | 'SUCCESS' | 'FAILURE' | 'REVOKED', number>;
  source: { type: 'prefix'; uri: string } | { type: 'list'; count: number };
  options: Task['options'];
  created_at: string;
  revoked_at?: string;
  finished_at?: string;
  expires_at: string;
  message?: string;
  /** On `retryBatch`: how many FAILURE tasks are queued again. */
  retrying?: number;
  /** With a destination that names a knowledge base: the ingestion job started once the batch ended. */
  ingestion?: BatchIngestion;
}

export interface BatchIngestion {
  destination: string;
  /** Succeeded documents when it was started. */
  documents: number;
  requested_at: string;
  job_id?: string;
  /** As StartIngestionJob answered (`STARTING`), or `NOT_STARTED` with `error`. */
  state: string;
  error?: string;
}

export interface DeliveryAttempt {
  at: string;
  status_code?: number;
  error?: string;
  duration_ms: number;
}

export interface Delivery {
  delivery_id: string;
  event_type: WebhookEventType;
  webhook_id: string;
  status: 'pending' | 'delivered' | 'failed';
  created_at: string;
  next_attempt_at?: string;
  attempts: DeliveryAttempt[];
  message?: string;
}

/** The JSON body of a webhook delivery. */
export interface WebhookEvent {
  type: WebhookEventType;
  timestamp: string;
  data: Task & { event_id: string };
}
