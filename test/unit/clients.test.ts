import { afterEach, describe, expect, it } from 'vitest';
import { awsClients, resetAwsClients } from '../../lambdas/adapters/clients.js';
import { buildUploadEventsDeps } from '../../lambdas/consumers/maintenance-deps.js';

afterEach(() => {
  delete process.env.S3_FORCE_PATH_STYLE;
  resetAwsClients();
});

describe('shared SDK clients', () => {
  it('take S3 path style from the process environment, whichever function builds them first', () => {
    process.env.S3_FORCE_PATH_STYLE = 'true';
    resetAwsClients();
    // The upload listener (the drop folder's HEAD aside) has no S3 business; building it first must not decide for the worker.
    buildUploadEventsDeps({
      TABLE_NAME: 't',
      QUEUE_URL: 'q',
      LARGE_QUEUE_URL: 'l',
      DROP_FOLDER_OWNER: 'anonymous',
      LARGE_INPUT_THRESHOLD_BYTES: '1048576',
      TASK_RETENTION_DAYS: '7',
    });
    expect(awsClients().s3.config.forcePathStyle).toBe(true);
  });

  it('use virtual-hosted S3 addresses by default, as on AWS', () => {
    resetAwsClients();
    expect(awsClients().s3.config.forcePathStyle).toBe(false);
  });
});
