import { Validations } from 'aws-cdk-lib';
import { Secret, type ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

export interface WebhookSecretProps {
  /** The complete ARN of an existing secret (`webhookSecretArn`); without it, the stack creates one. */
  existingArn?: string | undefined;
}

/** Letters and digits only, a multiple of 4 long: the value reads as base64 (33 bytes), as a `whsec_` secret's body does. */
const GENERATED_LENGTH = 44;

/**
 * The secret webhooks are signed with, in Secrets Manager (AWS-managed key).
 * Its value is one or more `whsec_<base64>` secrets separated by spaces, or
 * the 44 letters and digits the stack generates (read as base64, so
 * receivers use `whsec_<value>`). Only the webhook consumer may read it.
 */
export class WebhookSecret extends Construct {
  readonly secret: ISecret;

  constructor(scope: Construct, id: string, props: WebhookSecretProps = {}) {
    super(scope, id);
    if (props.existingArn) {
      this.secret = Secret.fromSecretCompleteArn(this, 'Existing', props.existingArn);
      return;
    }
    const secret = new Secret(this, 'Secret', {
      description:
        'docproc webhook signing secret: whsec_<base64> secrets separated by spaces (or a generated base64 value)',
      generateSecretString: { passwordLength: GENERATED_LENGTH, excludePunctuation: true, includeSpace: false },
    });
    Validations.of(secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Receivers hold the secret too: it is rotated by hand, a new secret added beside the old one (both sign) until every receiver has it. An automatic rotation would break them.',
    });
    this.secret = secret;
  }
}
