import { AppError } from '../errors.js';
// First import: sandbox threads re-enter this bundle and must be routed to their loop.
import '../documents/thread-main.js';
import { PREVIEW_LIMITS } from '../../shared/definitions.js';
import type { ProcessingOptions } from '../documents/options.js';
import { previewDocument, previewTooLarge, type PreviewRequest } from '../core/preview.js';
import { isProcessingThread } from '../documents/threads.js';
import { readSourceForm, readUploadForm, resolveSource } from './document-request.js';
import { httpHandler, json, mediaType, type ApiEvent } from './http.js';
import { previewDeps, type PreviewFunctionDeps } from './preview-deps.js';

/** The document and options, in either form: a multipart file as upload takes it, or a source as process does. */
const readPreviewRequest = async (
  deps: PreviewFunctionDeps,
  event: ApiEvent,
): Promise<{ request: PreviewRequest; options: ProcessingOptions }> => {
  if (mediaType(event) === 'multipart/form-data') {
    const { file, options } = readUploadForm(event, PREVIEW_LIMITS.maxInputBytes, previewTooLarge);
    return { request: file, options };
  }
  const { source, options } = readSourceForm(event);
  return { request: await resolveSource(deps, source), options };
};

/**
 * POST /documents/preview: a small document processed within the request, in
 * the sandbox as a worker processes it, answered `200 {"result": …}` with the
 * result an asynchronous task would store. Nothing is stored, so there is no
 * task and no Idempotency-Key.
 */
export const makePreviewHandler = (deps: () => PreviewFunctionDeps) =>
  httpHandler(deps, async (event) => {
    const deadline = Date.now() + PREVIEW_LIMITS.timeBudgetMs;
    const { config } = deps();
    const { request, options } = await readPreviewRequest(deps(), event);
    if (options.figures) {
      // Figures are stored beside a task's result; a preview stores nothing, so its figures could never be fetched.
      throw new AppError(
        'VALIDATION_ERROR',
        'figures: a preview stores nothing, so it keeps no figures; submit the document as a task (POST /documents/async/upload) to get them.',
        { details: [{ field: 'figures', message: 'not available in a preview' }] },
      );
    }
    const result = await previewDocument(deps(), request, options, {
      deadline,
      maxResultBytes: config.RESULT_INLINE_LIMIT_BYTES,
      allowPrivateAddresses: config.ALLOW_PRIVATE_URLS,
    });
    return json(200, { result });
  });

export const handler = makePreviewHandler(previewDeps);

// On Lambda, the sandbox thread starts during init, not with the first document; sandbox threads re-entering
// this bundle do not.
if (process.env.AWS_LAMBDA_FUNCTION_NAME && !isProcessingThread()) await previewDeps().sandbox?.prewarm(1);
