import type * as z from 'zod';
import {
  apiEnvironmentSchema,
  batchJobsEnvironmentSchema,
  deadLettersEnvironmentSchema,
  deliveriesApiEnvironmentSchema,
  janitorEnvironmentSchema,
  kbTransformEnvironmentSchema,
  parseEnvironment,
  previewEnvironmentSchema,
  uploadEventsEnvironmentSchema,
  webhookDeliveriesEnvironmentSchema,
  workerEnvironmentSchema,
} from '../shared/environment.js';

/**
 * Runtime configuration, read from the environment once per cold start with
 * the schemas of the environment contract (shared/environment.ts): a missing
 * or malformed variable fails the cold start with a message that names it.
 */
export const loadConfig = <S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.output<S> =>
  parseEnvironment(schema, env);

export {
  apiEnvironmentSchema,
  batchJobsEnvironmentSchema,
  deadLettersEnvironmentSchema,
  deliveriesApiEnvironmentSchema,
  janitorEnvironmentSchema,
  kbTransformEnvironmentSchema,
  previewEnvironmentSchema,
  uploadEventsEnvironmentSchema,
  webhookDeliveriesEnvironmentSchema,
  workerEnvironmentSchema,
};
export type ApiConfig = z.output<typeof apiEnvironmentSchema>;
export type PreviewConfig = z.output<typeof previewEnvironmentSchema>;
export type WorkerConfig = z.output<typeof workerEnvironmentSchema>;
export type DeadLettersConfig = z.output<typeof deadLettersEnvironmentSchema>;
export type UploadEventsConfig = z.output<typeof uploadEventsEnvironmentSchema>;
export type JanitorConfig = z.output<typeof janitorEnvironmentSchema>;
export type WebhookDeliveriesConfig = z.output<typeof webhookDeliveriesEnvironmentSchema>;
export type DeliveriesApiConfig = z.output<typeof deliveriesApiEnvironmentSchema>;
