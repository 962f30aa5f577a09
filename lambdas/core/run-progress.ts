import { RunStopped } from '../errors.js';
import { percentFor, type ProgressUpdate, type Stage } from '../documents/progress.js';
import type { TaskStore } from './ports.js';
import type { Task } from './task.js';

/**
 * A run's progress on its task row, at most once per `intervalMs` (the claim
 * counts as a write, so a task done within the interval costs no progress
 * writes at all), never lower than what the row already shows. A write the
 * store refuses means the task was cancelled or another run took it over:
 * the run's signal is then aborted with RunStopped, which stops it at its
 * next checkpoint. (Without a write, the guarded final transition still
 * keeps a cancelled task from a result.)
 */
export class RunProgress {
  private last: ProgressUpdate;
  private lastWriteAt = Date.now();
  private chain: Promise<void> = Promise.resolve();
  private readonly controller = new AbortController();
  /** Aborted (with RunStopped) once the run no longer holds its task. */
  readonly signal = this.controller.signal;
  /** The stage the run last reported, written or not (a failure is recorded at this stage). */
  stage: Stage = 'fetching';

  constructor(
    private readonly deps: { store: TaskStore; intervalMs: number; onWriteFailed?: (error: unknown) => void },
    private readonly task: Task,
    private readonly runId: string,
  ) {
    this.last = { stage: task.stage, progress: task.progress };
  }

  report = (stage: Stage, progress = percentFor(stage)): void => {
    this.stage = stage;
    const update = { stage, progress: Math.max(progress, this.last.progress) };
    const now = Date.now();
    const changed = update.stage !== this.last.stage || update.progress !== this.last.progress;
    if (!changed || now - this.lastWriteAt < this.deps.intervalMs) return;
    this.last = update;
    this.lastWriteAt = now;
    this.chain = this.chain.then(() => this.write(update));
  };

  /** Waits for queued writes, so that a cancellation they saw stops the run here. */
  async flush(): Promise<void> {
    await this.chain;
    this.signal.throwIfAborted();
  }

  private async write({ stage, progress }: ProgressUpdate): Promise<void> {
    if (this.signal.aborted) return;
    const written = await this.deps.store
      .updateProgress(this.task.task_id, this.runId, progress, stage)
      .catch((error: unknown) => {
        this.deps.onWriteFailed?.(error);
        return true; // a lost progress write is not worth failing the task
      });
    if (written) return;
    const current = await this.deps.store.get(this.task.task_id);
    if (current?.status === 'REVOKED') this.controller.abort(new RunStopped('The task was cancelled.'));
    else if (current?.run_id !== this.runId || current.status !== 'STARTED') {
      this.controller.abort(new RunStopped('Another run took over the task.'));
    }
  }
}
