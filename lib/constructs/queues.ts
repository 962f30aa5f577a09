import { Duration, Validations } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { queueSettings } from '../../shared/definitions.js';

export interface QueuesProps {
  /** Timeouts of the functions that consume each queue; visibility timeouts are six times these. */
  workerTimeout: Duration;
  largeWorkerTimeout: Duration;
  pageWorkerTimeout: Duration;
  uploadEventsTimeout: Duration;
  webhookDeliveriesTimeout: Duration;
  batchJobsTimeout: Duration;
  /** Deliveries before a message moves to its DLQ. */
  maxReceiveCount: number;
}

export interface WorkQueue {
  queue: Queue;
  deadLetters: Queue;
}

/**
 * The standard and large work queues, the pages queue (parts of documents
 * read in parts), the queue S3 upload events arrive
 * on, the queue of webhook deliveries (announced events and their
 * delayed retries) and that of batch pages, each with a DLQ. Encrypted with SQS-managed keys (S3 notifications
 * cannot publish to queues under the AWS-managed KMS key) and TLS only.
 */
export class Queues extends Construct {
  readonly standard: WorkQueue;
  readonly large: WorkQueue;
  /** The parts of documents read in parts (page fan-out), for the page worker. */
  readonly pages: WorkQueue;
  readonly uploadEvents: WorkQueue;
  readonly webhookDeliveries: WorkQueue;
  /** A batch's pages of work (creating, cancelling, retrying its tasks). */
  readonly batchJobs: WorkQueue;

  constructor(scope: Construct, id: string, props: QueuesProps) {
    super(scope, id);
    this.standard = this.workQueue('Standard', props.workerTimeout, props.maxReceiveCount);
    this.large = this.workQueue('Large', props.largeWorkerTimeout, props.maxReceiveCount);
    this.pages = this.workQueue('Pages', props.pageWorkerTimeout, props.maxReceiveCount);
    this.uploadEvents = this.workQueue('UploadEvents', props.uploadEventsTimeout, props.maxReceiveCount);
    this.webhookDeliveries = this.workQueue('WebhookDeliveries', props.webhookDeliveriesTimeout, props.maxReceiveCount);
    this.batchJobs = this.workQueue('BatchJobs', props.batchJobsTimeout, props.maxReceiveCount);
  }

  private workQueue(name: string, consumerTimeout: Duration, maxReceiveCount: number): WorkQueue {
    const settings = queueSettings(consumerTimeout.toSeconds(), maxReceiveCount);
    const deadLetters = new Queue(this, `${name}DeadLetters`, {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.seconds(settings.deadLettersRetentionSeconds),
      visibilityTimeout: Duration.seconds(settings.deadLettersVisibilityTimeoutSeconds),
    });
    Validations.of(deadLetters).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'This queue is a dead-letter queue.' });
    const queue = new Queue(this, name, {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(settings.visibilityTimeoutSeconds),
      retentionPeriod: Duration.seconds(settings.retentionSeconds),
      receiveMessageWaitTime: Duration.seconds(settings.receiveWaitSeconds),
      deadLetterQueue: { queue: deadLetters, maxReceiveCount: settings.maxReceiveCount },
    });
    return { queue, deadLetters };
  }
}
