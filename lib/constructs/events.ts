import { Stack } from 'aws-cdk-lib';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { Construct } from 'constructs';

/**
 * The custom bus every announced status change is put on (`source`
 * "docproc", `detail-type` "Task Started" | "Task Succeeded" | "Task Failed"
 * | "Task Revoked", `detail` the task view): AWS-native consumers attach
 * rules to it instead of polling. The functions that change statuses may put
 * events on it and nothing else (see the function catalogue).
 */
export class TaskEvents extends Construct {
  readonly bus: EventBus;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.bus = new EventBus(this, 'Bus', { eventBusName: `${Stack.of(this).stackName}-tasks` });
  }
}
