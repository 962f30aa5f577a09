import type { TestProject } from 'vitest/node';

/** A token for this run, so tiers can share one synth (see ensureSynth). */
export default function setup(project: TestProject) {
  project.provide('runId', `${process.pid}-${Date.now()}`);
}

declare module 'vitest' {
  export interface ProvidedContext {
    runId: string;
  }
}
