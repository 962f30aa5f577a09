import { describe, expect, expectTypeOf, it } from 'vitest';
import type { BatchView } from '../../lambdas/core/batch.js';
import type { TaskSummary } from '../../lambdas/core/task-views.js';
import type { ProcessingOptions, StructureOptions } from '../../lambdas/documents/options.js';
import { OPTION_NAMES } from '../../lambdas/documents/options.js';
import type { Batch, ProcessingOptions as SdkOptions, Task } from '../../sdk/types.js';
import { OPTION_FIELDS } from '../../sdk/client.js';

/**
 * The SDK's wire types are written by hand: these checks tie them to the
 * service's own views, so a field the service adds to a task, a batch or the
 * options and the SDK does not know fails the type check (`npm test` runs
 * it), not a user.
 */
describe("the SDK's types", () => {
  it('name every field the service shows of a task and of a batch', () => {
    expectTypeOf<keyof TaskSummary>().toExtend<keyof Task>();
    expectTypeOf<keyof BatchView>().toExtend<keyof Batch>();
    expectTypeOf<TaskSummary['status']>().toExtend<Task['status']>();
    expectTypeOf<BatchView['status']>().toExtend<Batch['status']>();
  });

  it('name every option a submission takes, and the client sends each of them', () => {
    expectTypeOf<keyof StructureOptions | keyof ProcessingOptions>().toExtend<keyof SdkOptions>();
    expect([...OPTION_NAMES].filter((name) => !(OPTION_FIELDS as readonly string[]).includes(name))).toEqual([]);
  });
});
