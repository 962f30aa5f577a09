import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { EventType, type Bucket } from 'aws-cdk-lib/aws-s3';
import { SqsDestination } from 'aws-cdk-lib/aws-s3-notifications';
import { Construct } from 'constructs';
import type { DeploymentConfig } from '../config.js';
import {
  BATCH,
  BATCH_JOBS_TIMEOUT_SECONDS,
  objectCreatedPrefixes,
  UPLOAD_EVENTS_TIMEOUT_SECONDS,
  WEBHOOK_DELIVERIES_TIMEOUT_SECONDS,
  WEBHOOK_DELIVERY,
} from '../../shared/definitions.js';
import type { FunctionCatalogue, FunctionResources } from '../function-catalogue.js';
import { workerTimeoutSeconds } from '../function-environment.js';
import type { Queues } from './queues.js';
import { ServiceFunction } from './service-function.js';

export interface ConsumersProps {
  config: DeploymentConfig;
  catalogue: FunctionCatalogue;
  resources: FunctionResources;
  bucket: Bucket;
  queues: Queues;
  logRetention: RetentionDays;
}

/** Timeouts of the consumers, which the queues' visibility timeouts are derived from. */
export const consumerTimeouts = (config: DeploymentConfig) => ({
  worker: Duration.seconds(workerTimeoutSeconds(config, 'standard')),
  largeWorker: Duration.seconds(workerTimeoutSeconds(config, 'large')),
  pageWorker: Duration.seconds(workerTimeoutSeconds(config, 'standard')),
  uploadEvents: Duration.seconds(UPLOAD_EVENTS_TIMEOUT_SECONDS),
  webhookDeliveries: Duration.seconds(WEBHOOK_DELIVERIES_TIMEOUT_SECONDS),
  batchJobs: Duration.seconds(BATCH_JOBS_TIMEOUT_SECONDS),
});

/**
 * The queue consumers: a worker per work queue (the large one with more
 * memory and time), the page worker (the parts of documents read in
 * parts), the DLQ consumer that fails dead-lettered tasks, the
 * listener that starts tasks when presigned uploads land (and makes tasks of
 * objects dropped in `inbox/`, when the drop folder is on), the scheduled
 * janitor, the webhook consumer, and the batch-jobs consumer. What each may touch is its catalogue record; this construct adds
 * what triggers it.
 */
export class Consumers extends Construct {
  readonly worker: ServiceFunction;
  readonly largeWorker: ServiceFunction;
  readonly pageWorker: ServiceFunction;
  readonly deadLetters: ServiceFunction;
  readonly uploadEvents: ServiceFunction;
  readonly janitor: ServiceFunction;
  readonly webhookDeliveries: ServiceFunction;
  readonly batchJobs: ServiceFunction;

  constructor(scope: Construct, id: string, props: ConsumersProps) {
    super(scope, id);
    const { config, catalogue, resources, bucket, queues, logRetention } = props;
    const make = (name: keyof FunctionCatalogue, constructId: string) =>
      new ServiceFunction(this, constructId, { name, spec: catalogue[name], resources, logRetention });

    this.worker = make('worker', 'Worker');
    this.worker.addEventSource(
      new SqsEventSource(queues.standard.queue, {
        batchSize: config.workerBatchSize,
        maxConcurrency: config.workerConcurrency,
        reportBatchItemFailures: true,
      }),
    );
    this.largeWorker = make('largeWorker', 'LargeWorker');
    this.largeWorker.addEventSource(
      new SqsEventSource(queues.large.queue, {
        batchSize: 1,
        maxConcurrency: config.largeWorkerConcurrency,
        reportBatchItemFailures: true,
      }),
    );

    this.pageWorker = make('pageWorker', 'PageWorker');
    this.pageWorker.addEventSource(
      new SqsEventSource(queues.pages.queue, {
        // One part per invocation: a part is a few pages to recognise, seconds each.
        batchSize: 1,
        maxConcurrency: config.pageWorkerConcurrency,
        reportBatchItemFailures: true,
      }),
    );

    this.deadLetters = make('deadLetters', 'DeadLetters');
    for (const queue of [queues.standard, queues.large, queues.pages]) {
      this.deadLetters.addEventSource(
        new SqsEventSource(queue.deadLetters, { batchSize: 10, reportBatchItemFailures: true }),
      );
    }

    this.uploadEvents = make('uploadEvents', 'UploadEvents');
    this.uploadEvents.addEventSource(
      new SqsEventSource(queues.uploadEvents.queue, { batchSize: 10, reportBatchItemFailures: true }),
    );
    // Presigned uploads, and the drop folder when it is on: one queue, one consumer that routes by prefix.
    const uploadEventsDestination = new SqsDestination(queues.uploadEvents.queue);
    for (const prefix of objectCreatedPrefixes(config)) {
      bucket.addEventNotification(EventType.OBJECT_CREATED, uploadEventsDestination, { prefix });
    }
    // The CDK's own singleton function that configures bucket notifications.
    const notificationsHandler = Stack.of(this).node.children.find((child) =>
      child.node.id.startsWith('BucketNotificationsHandler'),
    );
    if (notificationsHandler) {
      Validations.of(notificationsHandler).acknowledge(
        {
          id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
          reason: 'CDK-provided handler that configures the bucket notification at deploy time; logs only.',
        },
        {
          id: 'AwsSolutions-IAM5[Resource::*]',
          reason:
            'CDK-provided handler: s3:PutBucketNotification is granted as the CDK defines it, used only at deploy time.',
        },
      );
    }

    this.janitor = make('janitor', 'Janitor');
    new Rule(this, 'JanitorSchedule', {
      schedule: Schedule.rate(Duration.minutes(config.janitorIntervalMinutes)),
      targets: [new LambdaFunction(this.janitor)],
    });

    this.webhookDeliveries = make('webhookDeliveries', 'WebhookDeliveries');
    this.webhookDeliveries.addEventSource(
      new SqsEventSource(queues.webhookDeliveries.queue, {
        batchSize: WEBHOOK_DELIVERY.batchSize,
        maxConcurrency: config.webhookConcurrency,
        reportBatchItemFailures: true,
      }),
    );

    this.batchJobs = make('batchJobs', 'BatchJobs');
    this.batchJobs.addEventSource(
      new SqsEventSource(queues.batchJobs.queue, {
        // One page per invocation: a page is up to a thousand tasks created, and one message its whole work.
        batchSize: 1,
        maxConcurrency: BATCH.jobsConcurrency,
        reportBatchItemFailures: true,
      }),
    );
  }
}
