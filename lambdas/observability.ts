import { Logger } from '@aws-lambda-powertools/logger';

/**
 * One structured JSON logger per function (Powertools). Handlers add the
 * request id and task id to every line with `appendKeys`.
 */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'docproc' });
