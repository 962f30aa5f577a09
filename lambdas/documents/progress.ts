export const STAGES = ['queued', 'fetching', 'parsing', 'splitting', 'storing', 'done'] as const;
export type Stage = (typeof STAGES)[number];

/** Share of the 0–100 progress bar each stage covers. */
const STAGE_RANGE: Record<Stage, readonly [number, number]> = {
  queued: [0, 0],
  fetching: [1, 10],
  parsing: [10, 80],
  splitting: [80, 90],
  storing: [90, 99],
  done: [100, 100],
};

export interface ProgressUpdate {
  stage: Stage;
  progress: number;
}

export type ProgressListener = (update: ProgressUpdate) => void;

/** Percent for `fraction` (0–1) of the way through `stage`. */
export const percentFor = (stage: Stage, fraction = 0): number => {
  const [low, high] = STAGE_RANGE[stage];
  const clamped = Math.min(1, Math.max(0, fraction));
  return Math.floor(low + (high - low) * clamped);
};

/**
 * Wraps a listener so that reported progress never goes down and a stage never
 * goes back, whatever order callers report in.
 */
export const monotonicProgress = (listener: ProgressListener = () => {}) => {
  let last: ProgressUpdate = { stage: 'queued', progress: 0 };
  return (stage: Stage, fraction = 0): void => {
    const stageIndex = Math.max(STAGES.indexOf(stage), STAGES.indexOf(last.stage));
    const progress = Math.max(percentFor(stage, fraction), last.progress);
    const next: ProgressUpdate = { stage: STAGES[stageIndex] ?? stage, progress };
    if (next.stage === last.stage && next.progress === last.progress) return;
    last = next;
    listener(next);
  };
};

export type ReportProgress = ReturnType<typeof monotonicProgress>;
