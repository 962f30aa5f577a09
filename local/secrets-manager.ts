import { randomUUID } from 'node:crypto';
import { AwsJsonError, startAwsJsonService, type AwsJsonService } from './aws-json-service.js';

/**
 * Secrets Manager for the embedded stack: GetSecretValue, over the AWS JSON
 * protocol the SDK speaks, for the secrets the stack holds (the webhook
 * signing secret). Who may read a secret is decided before a call gets here,
 * by the calling function's IAM check (local/iam.ts), as on AWS.
 */
export interface LocalSecret {
  /** The complete ARN (with Secrets Manager's six-character suffix), as the functions are given it. */
  arn: string;
  name: string;
  value: string;
}

/** The endpoint (`url`: `AWS_ENDPOINT_URL_SECRETS_MANAGER`). */
export type LocalSecretsManager = AwsJsonService;

export const startSecretsManager = (host: string, secrets: readonly LocalSecret[]): Promise<LocalSecretsManager> => {
  const versionId = randomUUID();
  const createdDate = Date.now() / 1000;
  return startAwsJsonService(host, {
    'secretsmanager.GetSecretValue': ({ SecretId }) => {
      const secret = secrets.find((candidate) => SecretId === candidate.arn || SecretId === candidate.name);
      if (!secret)
        throw new AwsJsonError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
      return {
        ARN: secret.arn,
        Name: secret.name,
        VersionId: versionId,
        SecretString: secret.value,
        VersionStages: ['AWSCURRENT'],
        CreatedDate: createdDate,
      };
    },
  });
};
