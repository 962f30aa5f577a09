import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { DeploymentConfig } from './config.js';
import { Api } from './constructs/api.js';
import { Monitoring } from './constructs/monitoring.js';
import { Queues } from './constructs/queues.js';
import { Storage } from './constructs/storage.js';
import { WebhookSecret } from './constructs/webhook-secret.js';
import { KnowledgeBaseTransformation } from './constructs/knowledge-base.js';
import { Consumers, consumerTimeouts } from './constructs/consumers.js';
import { TaskEvents } from './constructs/events.js';
import { alarmSpecs } from './alarms.js';
import type { ServiceFunction } from './constructs/service-function.js';
import { functionCatalogue, type FunctionName, type FunctionResources } from './function-catalogue.js';

export interface DocProcStackProps extends StackProps {
  config: DeploymentConfig;
}

/** Composes the constructs; owns no resources of its own beyond the outputs. */
export class DocProcStack extends Stack {
  readonly storage: Storage;
  readonly queues: Queues;
  readonly events: TaskEvents;
  readonly consumers: Consumers;
  readonly api: Api;
  readonly monitoring: Monitoring;
  readonly webhookSecret: WebhookSecret;
  /** With `kbTransformation`: the knowledge base's post-chunking step. */
  readonly knowledgeBase?: KnowledgeBaseTransformation;

  constructor(scope: Construct, id: string, props: DocProcStackProps) {
    super(scope, id, props);
    const { config } = props;
    const logRetention = config.logRetentionDays as RetentionDays;
    const timeouts = consumerTimeouts(config);

    this.storage = new Storage(this, 'Storage', {
      taskRetentionDays: config.taskRetentionDays,
      resultRetentionDays: config.resultRetentionDays,
      uploadRetentionDays: config.uploadRetentionDays,
      corsOrigins: config.corsOrigins,
    });
    this.queues = new Queues(this, 'Queues', {
      workerTimeout: timeouts.worker,
      largeWorkerTimeout: timeouts.largeWorker,
      pageWorkerTimeout: timeouts.pageWorker,
      uploadEventsTimeout: timeouts.uploadEvents,
      webhookDeliveriesTimeout: timeouts.webhookDeliveries,
      batchJobsTimeout: timeouts.batchJobs,
      maxReceiveCount: config.maxReceiveCount,
    });
    this.webhookSecret = new WebhookSecret(this, 'WebhookSecret', { existingArn: config.webhookSecretArn });
    this.events = new TaskEvents(this, 'Events');
    const catalogue = functionCatalogue(config);
    const { bucket, table, deliveries } = this.storage;
    const resources: FunctionResources = {
      partition: this.partition,
      tableName: table.tableName,
      tableArn: table.tableArn,
      bucketName: bucket.bucketName,
      bucketArn: bucket.bucketArn,
      queues: {
        standard: { url: this.queues.standard.queue.queueUrl, arn: this.queues.standard.queue.queueArn },
        large: { url: this.queues.large.queue.queueUrl, arn: this.queues.large.queue.queueArn },
        pages: { url: this.queues.pages.queue.queueUrl, arn: this.queues.pages.queue.queueArn },
        webhookDeliveries: {
          url: this.queues.webhookDeliveries.queue.queueUrl,
          arn: this.queues.webhookDeliveries.queue.queueArn,
        },
        batchJobs: { url: this.queues.batchJobs.queue.queueUrl, arn: this.queues.batchJobs.queue.queueArn },
      },
      deliveriesTableName: deliveries.tableName,
      deliveriesTableArn: deliveries.tableArn,
      webhookSecretArn: this.webhookSecret.secret.secretArn,
      sources: config,
      eventBus: { name: this.events.bus.eventBusName, arn: this.events.bus.eventBusArn },
      region: this.region,
      account: this.account,
      destinations: config.kbDestinations,
    };
    const shared = { config, catalogue, resources, logRetention };
    this.consumers = new Consumers(this, 'Consumers', { ...shared, bucket, queues: this.queues });
    this.api = new Api(this, 'Api', shared);

    const functions: Record<FunctionName, ServiceFunction> = {
      ...this.api.functions,
      worker: this.consumers.worker,
      largeWorker: this.consumers.largeWorker,
      pageWorker: this.consumers.pageWorker,
      deadLetters: this.consumers.deadLetters,
      uploadEvents: this.consumers.uploadEvents,
      janitor: this.consumers.janitor,
      webhookDeliveries: this.consumers.webhookDeliveries,
      batchJobs: this.consumers.batchJobs,
    };
    for (const fn of Object.values(functions)) {
      fn.addEnvironment('POWERTOOLS_METRICS_NAMESPACE', config.metricsNamespace);
    }
    this.monitoring = new Monitoring(this, 'Monitoring', {
      namespace: config.metricsNamespace,
      api: this.api.restApi,
      functions,
      queues: {
        standard: { label: 'Standard', ...this.queues.standard },
        large: { label: 'Large', ...this.queues.large },
        pages: { label: 'Pages', ...this.queues.pages },
        uploadEvents: { label: 'UploadEvents', ...this.queues.uploadEvents },
        webhookDeliveries: { label: 'WebhookDeliveries', ...this.queues.webhookDeliveries },
        batchJobs: { label: 'BatchJobs', ...this.queues.batchJobs },
      },
      alarms: alarmSpecs(config),
      alarmEmail: config.alarmEmail,
    });

    if (config.kbTransformation) {
      this.knowledgeBase = new KnowledgeBaseTransformation(this, 'KnowledgeBase', {
        config,
        transformation: config.kbTransformation,
        resources,
        logRetention,
        accessLogs: this.storage.accessLogs,
      });
      new CfnOutput(this, 'KbTransformationFunctionArn', {
        value: this.knowledgeBase.function.functionArn,
        description: "The KB data source's post-chunking Lambda: its service role needs lambda:InvokeFunction on it",
      });
      new CfnOutput(this, 'KbIntermediateBucket', {
        value: this.knowledgeBase.intermediateBucket.bucketName,
        description: "The KB's intermediate storage: its service role needs s3:GetObject and s3:PutObject in it",
      });
    }

    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'Base URL of the document API' });
    if (this.api.apiKey) {
      new CfnOutput(this, 'ApiKeyId', {
        value: this.api.apiKey.keyId,
        description: 'aws apigateway get-api-key --include-value --api-key <id>',
      });
    }
    new CfnOutput(this, 'BucketName', { value: this.storage.bucket.bucketName });
    new CfnOutput(this, 'TableName', { value: this.storage.table.tableName });
    new CfnOutput(this, 'QueueUrl', { value: this.queues.standard.queue.queueUrl });
    new CfnOutput(this, 'LargeQueueUrl', { value: this.queues.large.queue.queueUrl });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.queues.standard.deadLetters.queueUrl });
    new CfnOutput(this, 'LargeDeadLetterQueueUrl', { value: this.queues.large.deadLetters.queueUrl });
    new CfnOutput(this, 'PagesQueueUrl', { value: this.queues.pages.queue.queueUrl });
    new CfnOutput(this, 'WebhookSecretArn', {
      value: this.webhookSecret.secret.secretArn,
      description: 'Webhook signing secret: aws secretsmanager get-secret-value --secret-id <arn>',
    });
    new CfnOutput(this, 'EventBusName', {
      value: this.events.bus.eventBusName,
      description: 'Task status events (source "docproc"): attach EventBridge rules here',
    });
    new CfnOutput(this, 'DashboardName', { value: this.monitoring.dashboard.dashboardName });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.monitoring.topic.topicArn });
  }
}
