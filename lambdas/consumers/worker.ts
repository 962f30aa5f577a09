// First import: sandbox and PDF threads re-enter this bundle and must be routed to their loops.
import '../documents/thread-main.js';
import { partMessageSchema, taskMessageSchema } from '../core/task.js';
import { isProcessingThread } from '../documents/threads.js';
import { parseJson, sqsHandler } from './sqs-handler.js';
import { logger } from '../observability.js';
import { workerDeps, type WorkerDeps } from './worker-deps.js';
import { runPart } from './run-part.js';
import { runTask } from './run-task.js';

/** Records that start with less time than this left go back to the queue untouched. */
const MIN_TIME_FOR_A_RECORD_MS = 2_000;

/** How a record that should come back later is told to the batch processor (which only knows throws). */
class ReturnToQueue extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'ReturnToQueue';
  }
}

/**
 * The SQS-triggered worker. Records of a batch run one after another (a PDF
 * may use every core); each gets the soft time limit that remains, and
 * failures are reported per record (ReportBatchItemFailures).
 */
export const makeWorkerHandler = (deps: () => WorkerDeps) => {
  const processRecords = sqsHandler(async (record, context) => {
    const { config } = deps();
    const body = parseJson(record.body);
    // A part of a fanned-out run (the pages queue), or a task (the work queues).
    const part = partMessageSchema.safeParse(body);
    const parsed = part.success ? part : taskMessageSchema.safeParse(body);
    if (!parsed.success) {
      // Not a task message: no retry can help and there is no task to fail.
      logger.error('Dropping a malformed message', { message_id: record.messageId, issues: parsed.error.issues });
      return;
    }
    logger.appendKeys({ task_id: parsed.data.task_id, message_id: record.messageId });
    try {
      const remaining = context.getRemainingTimeInMillis() - config.SOFT_TIME_LIMIT_MARGIN_MS;
      if (remaining < MIN_TIME_FOR_A_RECORD_MS) throw new ReturnToQueue('no time left in this invocation');
      // The soft time limit, or the document's own budget if that ends first.
      const deadline = Date.now() + Math.min(remaining, config.DOCUMENT_TIME_BUDGET_MS);
      if (part.success) {
        await runPart(deps(), part.data, deadline);
        return;
      }
      const outcome = await runTask(deps(), parsed.data, deadline);
      if (outcome === 'later') throw new ReturnToQueue('another run holds the task');
    } catch (error) {
      if (!(error instanceof ReturnToQueue))
        logger.error('Record failed; SQS will deliver it again', { error: error as Error });
      throw error;
    } finally {
      logger.removeKeys(['task_id', 'message_id', 'attempt', 'run_id', 'part', 'pages']);
    }
  });
  // The batch's announcements ran beside its records; the invocation ends when they have.
  return async (...args: Parameters<typeof processRecords>) => {
    try {
      return await processRecords(...args);
    } finally {
      await deps().announcements.settled();
    }
  };
};

export const handler = makeWorkerHandler(workerDeps);

// On Lambda, the sandbox thread (and the large worker's PDF threads) start during init, not with the first
// document; threads of the processing core re-entering this bundle do not.
if (process.env.AWS_LAMBDA_FUNCTION_NAME && !isProcessingThread()) await workerDeps().sandbox?.prewarm(1);

/** The processing core, exported from the bundle so the artifact test can run the deployed code itself. */
export { processDocument } from '../documents/process-document.js';
export { SandboxPool } from '../documents/sandbox.js';
