import { Duration, Stack, Validations } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { EventType, type Bucket } from 'aws-cdk-lib/aws-s3';
import { SqsDestination } from 'aws-cdk-lib/aws-s3-notifications';
import { Construct } from 'constructs';
import type { DeploymentConfig } from '../config.js';
import {
  DLQ_TIMEOUT_SECONDS,
  dlqEnvironment,
  JANITOR_TIMEOUT_SECONDS,
  janitorEnvironment,
  UPLOAD_EVENTS_TIMEOUT_SECONDS,
  workerEnvironment,
  workerTimeoutSeconds,
} from '../function-environment.js';
import { PREFIX } from '../definitions.js';
import type { Queues, WorkQueue } from './queues.js';
import { ServiceFunction } from './service-function.js';

export interface WorkersProps {
  config: DeploymentConfig;
  bucket: Bucket;
  table: Table;
  queues: Queues;
  logRetention: RetentionDays;
}

/** Timeouts of the consumers, which the queues' visibility timeouts are derived from. */
export const consumerTimeouts = (config: DeploymentConfig) => ({
  worker: Duration.seconds(workerTimeoutSeconds(config, 'standard')),
  largeWorker: Duration.seconds(workerTimeoutSeconds(config, 'large')),
  uploadEvents: Duration.seconds(UPLOAD_EVENTS_TIMEOUT_SECONDS),
});

/**
 * The queue consumers: a worker per work queue (the large one with more
 * memory and time), the DLQ consumer that fails dead-lettered tasks, the
 * listener that starts tasks when presigned uploads land, and the scheduled
 * janitor.
 */
export class Workers extends Construct {
  readonly worker: ServiceFunction;
  readonly largeWorker: ServiceFunction;
  readonly deadLetters: ServiceFunction;
  readonly uploadEvents: ServiceFunction;
  readonly janitor: ServiceFunction;

  constructor(scope: Construct, id: string, props: WorkersProps) {
    super(scope, id);
    const { config, bucket, table, queues, logRetention } = props;
    const timeouts = consumerTimeouts(config);

    const makeWorker = (name: string, queue: WorkQueue, queueClass: 'standard' | 'large') => {
      const large = queueClass === 'large';
      const timeout = large ? timeouts.largeWorker : timeouts.worker;
      const fn = new ServiceFunction(this, name, {
        entry: 'worker/handler.ts',
        description: `Processes documents from the ${queueClass} queue`,
        memorySize: large ? config.largeWorkerMemoryMb : config.workerMemoryMb,
        timeout,
        logRetention,
      })
        .useTable(table, 'get', 'update')
        .useBucket(bucket, { read: [PREFIX.uploads, PREFIX.direct], write: [PREFIX.results], delete: [PREFIX.results] })
        .readSources(bucket, config)
        .listBucket(bucket)
        .setEnvironment(workerEnvironment(config, queueClass));
      fn.addEventSource(
        new SqsEventSource(queue.queue, {
          batchSize: large ? 1 : config.workerBatchSize,
          maxConcurrency: large ? config.largeWorkerConcurrency : config.workerConcurrency,
          reportBatchItemFailures: true,
        }),
      );
      return fn;
    };
    this.worker = makeWorker('Worker', queues.standard, 'standard');
    this.largeWorker = makeWorker('LargeWorker', queues.large, 'large');

    const maintenance = (name: string, entry: string, description: string, timeout: Duration) =>
      new ServiceFunction(this, name, { entry, description, timeout, logRetention, memorySize: 256 });

    this.deadLetters = maintenance(
      'DeadLetters',
      'worker/dlq.ts',
      'Marks dead-lettered tasks FAILURE',
      Duration.seconds(DLQ_TIMEOUT_SECONDS),
    )
      .useTable(table, 'get', 'update')
      .setEnvironment(dlqEnvironment(config));
    for (const queue of [queues.standard, queues.large]) {
      this.deadLetters.addEventSource(
        new SqsEventSource(queue.deadLetters, { batchSize: 10, reportBatchItemFailures: true }),
      );
    }

    this.uploadEvents = maintenance(
      'UploadEvents',
      'worker/upload-events.ts',
      'Starts tasks when presigned uploads land',
      timeouts.uploadEvents,
    )
      .useTable(table, 'get', 'update')
      .sendsTo(queues.standard.queue, 'QUEUE_URL')
      .sendsTo(queues.large.queue, 'LARGE_QUEUE_URL');
    this.uploadEvents.addEventSource(
      new SqsEventSource(queues.uploadEvents.queue, { batchSize: 10, reportBatchItemFailures: true }),
    );
    bucket.addEventNotification(EventType.OBJECT_CREATED, new SqsDestination(queues.uploadEvents.queue), {
      prefix: PREFIX.uploads,
    });
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

    this.janitor = maintenance(
      'Janitor',
      'worker/janitor.ts',
      'Expires abandoned uploads, requeues lost tasks',
      Duration.seconds(JANITOR_TIMEOUT_SECONDS),
    )
      .useTable(table, 'get', 'query', 'update')
      .useBucket(bucket, { read: [PREFIX.uploads] })
      .listBucket(bucket)
      .sendsTo(queues.standard.queue, 'QUEUE_URL')
      .sendsTo(queues.large.queue, 'LARGE_QUEUE_URL')
      .setEnvironment(janitorEnvironment(config));
    new Rule(this, 'JanitorSchedule', {
      schedule: Schedule.rate(Duration.minutes(config.janitorIntervalMinutes)),
      targets: [new LambdaFunction(this.janitor)],
    });
  }
}
