import type { ResultHeadline, SerializedResult } from '../documents/document.js';
import type { Figure, FigureImage } from '../documents/figures/figures.js';

/**
 * `figures=describe` (docs/figures.md): a vision model writes a short
 * description of each stored figure, for retrieval, as the figure's
 * `description`. Done by the worker once the document is read (the sandbox
 * holds no credentials), at most `maxFigures` per task, a few at a time. A
 * description the model refuses or fails leaves its figure without one and
 * is counted in a warning: it never fails the task. What the calls used is in
 * `stats.figure_descriptions`, for metering.
 */
export interface VisionModel {
  /** The model's id, as the operator configured it. */
  readonly modelId: string;
  describe(image: FigureImage, context: { caption?: string | undefined }): Promise<FigureDescription>;
}

export interface FigureDescription {
  text: string;
  inputTokens: number;
  outputTokens: number;
}

export interface DescribeSettings {
  maxFigures: number;
  /** Epoch ms after which no call starts (the run's soft time limit): the figures left keep no description. */
  deadline?: number | undefined;
  /** The clock the deadline is read on. */
  now?: () => number;
  /** Calls in flight at once. */
  concurrency?: number;
  onError?: (figureId: string, error: unknown) => void;
}

/** A description's length at most, in characters: a model that rambles is cut. */
const MAX_DESCRIPTION_CHARACTERS = 1200;

interface StoredResult {
  figures?: Figure[];
  warnings: Array<{ code: string; message: string }>;
  stats: ResultHeadline['stats'] & { figure_descriptions?: DescriptionStats };
}

export interface DescriptionStats {
  model: string;
  described: number;
  input_tokens: number;
  output_tokens: number;
}

/** The serialized result with its figures described: the JSON rewritten, the headline's stats and warnings with it. */
export const describeFigures = async (
  model: VisionModel | undefined,
  serialized: SerializedResult,
  settings: DescribeSettings,
): Promise<SerializedResult> => {
  const images = new Map((serialized.figures ?? []).map((image) => [image.id, image]));
  if (!images.size) return serialized;
  const result = JSON.parse(new TextDecoder().decode(serialized.json)) as StoredResult;
  const figures = (result.figures ?? []).filter((figure) => images.has(figure.id));
  const warnings: StoredResult['warnings'] = [];
  if (!model) {
    warnings.push({
      code: 'FIGURES_NOT_DESCRIBED',
      message: `${figures.length} figures were not described: this deployment no longer configures a figure model (figureModelId).`,
    });
    return rewritten(serialized, result, warnings);
  }
  const chosen = figures.slice(0, settings.maxFigures);
  const stats: DescriptionStats = { model: model.modelId, described: 0, input_tokens: 0, output_tokens: 0 };
  let failed = 0;
  let late = 0;
  const now = settings.now ?? Date.now;
  const queue = [...chosen];
  const work = async () => {
    for (let figure = queue.shift(); figure; figure = queue.shift()) {
      if (settings.deadline !== undefined && now() > settings.deadline) {
        late++;
        continue;
      }
      try {
        const described = await model.describe(images.get(figure.id) as FigureImage, { caption: figure.caption });
        stats.input_tokens += described.inputTokens;
        stats.output_tokens += described.outputTokens;
        const text = described.text.replace(/\s+/g, ' ').trim().slice(0, MAX_DESCRIPTION_CHARACTERS);
        if (text) {
          Object.assign(figure, { description: text });
          stats.described++;
        } else failed++;
      } catch (error) {
        failed++;
        settings.onError?.(figure.id, error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(settings.concurrency ?? 4, queue.length) }, work));
  const skipped = figures.length - chosen.length;
  if (skipped) {
    warnings.push({
      code: 'FIGURES_NOT_DESCRIBED',
      message: `${skipped} figures past the first ${settings.maxFigures} were not described (figureDescriptionsPerTask).`,
    });
  }
  if (late) {
    warnings.push({
      code: 'FIGURES_NOT_DESCRIBED',
      message: `${late} figures were not described: the task's time ran out first.`,
    });
  }
  if (failed) {
    warnings.push({
      code: 'FIGURES_NOT_DESCRIBED',
      message: `${failed} figures could not be described: the model refused or failed (they keep their caption and bytes).`,
    });
  }
  result.stats.figure_descriptions = stats;
  return rewritten(serialized, result, warnings);
};

const rewritten = (
  serialized: SerializedResult,
  result: StoredResult,
  warnings: StoredResult['warnings'],
): SerializedResult => {
  result.warnings.push(...warnings);
  const headline = {
    ...serialized.headline,
    warnings: [...serialized.headline.warnings, ...(warnings as ResultHeadline['warnings'])],
    stats: result.stats,
  };
  return { headline, json: new TextEncoder().encode(JSON.stringify(result)), figures: serialized.figures };
};
