import { AppError } from '../errors.js';
import type { ProcessingOptions } from '../documents/options.js';

/**
 * `figures=describe` needs a vision model the operator configured
 * (`figureModelId`): without one, a submission asking for it is the
 * request's fault, a 400 that says what is missing and what works instead.
 */
export const checkFigureMode = (options: Pick<ProcessingOptions, 'figures'>, modelId: string | undefined): void => {
  if (options.figures !== 'describe' || modelId) return;
  throw new AppError(
    'VALIDATION_ERROR',
    'figures: describe needs a vision model, and this deployment configures none (the operator sets figureModelId, a Bedrock model that takes images); use figures=refs (the pictures and their captions) or figures=ocr (and the text inside them).',
    { details: [{ field: 'figures', message: 'no figure model is configured (figureModelId)' }] },
  );
};
