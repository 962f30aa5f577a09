/**
 * One error hierarchy for the whole service. Every failure a client can see
 * has a stable UPPER_SNAKE code; the catalogue below fixes its HTTP status
 * (when it surfaces on the API) and whether retrying the same input can help.
 */
export const ERROR_CATALOGUE = {
  // Request errors (surface as HTTP responses).
  VALIDATION_ERROR: { status: 400, retryable: false },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, retryable: false },
  PAYLOAD_TOO_LARGE: { status: 413, retryable: false },
  TASK_NOT_FOUND: { status: 404, retryable: false },
  DELIVERY_NOT_FOUND: { status: 404, retryable: false },
  FIGURE_NOT_FOUND: { status: 404, retryable: false },
  TASK_NOT_CANCELLABLE: { status: 409, retryable: false },
  TASK_NOT_RETRYABLE: { status: 409, retryable: false },
  BATCH_NOT_FOUND: { status: 404, retryable: false },
  BATCH_NOT_CANCELLABLE: { status: 409, retryable: false },
  BATCH_NOT_RETRYABLE: { status: 409, retryable: false },
  IDEMPOTENCY_CONFLICT: { status: 409, retryable: false },
  INTERNAL_ERROR: { status: 500, retryable: true },
  // Task failures (recorded on the task as `error`).
  UNSUPPORTED_DOCUMENT_TYPE: { status: 422, retryable: false },
  DOCUMENT_PARSE_ERROR: { status: 422, retryable: false },
  PDF_PASSWORD_PROTECTED: { status: 422, retryable: false },
  DOCUMENT_TOO_LARGE: { status: 422, retryable: false },
  SOURCE_URL_FORBIDDEN: { status: 422, retryable: false },
  SOURCE_FETCH_FAILED: { status: 422, retryable: true },
  SOURCE_TOO_LARGE: { status: 422, retryable: false },
  SOURCE_NOT_FOUND: { status: 422, retryable: false },
  UPLOAD_EXPIRED: { status: 422, retryable: false },
  UPLOAD_SIZE_MISMATCH: { status: 422, retryable: false },
  SOFT_TIME_LIMIT: { status: 422, retryable: true },
  TIME_LIMIT_EXCEEDED: { status: 422, retryable: true },
  WORKER_CRASHED: { status: 422, retryable: true },
  /** The document was read, but its knowledge-base destination refused it (option `destination`). */
  DESTINATION_FAILED: { status: 422, retryable: true },
} as const satisfies Record<string, { status: number; retryable: boolean }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export interface AppErrorOptions {
  details?: unknown;
  cause?: unknown;
  /** Whether `message` may be shown to the client. Defaults to true below 500. */
  expose?: boolean;
  /** HTTP status when it differs from the catalogue (a task failure code refused at submission is a 400). */
  status?: number;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly expose: boolean;
  readonly details?: unknown;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = options.status ?? ERROR_CATALOGUE[code].status;
    this.retryable = ERROR_CATALOGUE[code].retryable;
    this.expose = options.expose ?? this.status < 500;
    this.details = options.details;
  }
}

/**
 * Why a run stopped before its end without failing its task: the task was
 * cancelled, or another run took it over. The abort reason of a run's signal;
 * the run records nothing (the task's state is someone else's now). Anything
 * that is neither this nor an AppError is unexpected: the message goes back
 * to the queue.
 */
export class RunStopped extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'RunStopped';
  }
}

export const isAppError = (error: unknown): error is AppError => error instanceof AppError;

/** The client-facing shape of a task failure. */
export interface TaskErrorBody {
  code: ErrorCode;
  message: string;
  retryable: boolean;
}

export const toTaskError = (error: AppError): TaskErrorBody => ({
  code: error.code,
  message: error.message,
  retryable: error.retryable,
});
