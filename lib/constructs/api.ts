import { Duration, Size, Validations } from 'aws-cdk-lib';
import {
  AccessLogFormat,
  Cors,
  EndpointType,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  Period,
  ResponseType,
  RestApi,
  type IApiKey,
  type IResource,
  type UsagePlan,
} from 'aws-cdk-lib/aws-apigateway';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { DeploymentConfig } from '../config.js';
import { API_TIMEOUT_SECONDS, apiEnvironment } from '../function-environment.js';
import { API_BASE_PATH, PREFIX, ROUTES, type RouteHandler } from '../definitions.js';
import type { Queues } from './queues.js';
import { ServiceFunction } from './service-function.js';

export interface ApiProps {
  config: DeploymentConfig;
  bucket: Bucket;
  table: Table;
  queues: Queues;
  logRetention: RetentionDays;
}

export const API_STAGE = 'v1';

/** Lambda source of each route. */
export const ROUTE_ENTRIES: Record<RouteHandler, string> = {
  upload: 'api/upload.ts',
  process: 'api/process.ts',
  uploadUrl: 'api/upload-url.ts',
  getTask: 'api/get-task.ts',
  listTasks: 'api/list-tasks.ts',
  cancelTask: 'api/cancel-task.ts',
  retryTask: 'api/retry-task.ts',
};

/**
 * The REST API of API.md: one Lambda per route, API keys and a usage plan by
 * default, gzip for responses above 1 KB, multipart bodies passed as binary,
 * access logs and stage metrics.
 */
export class Api extends Construct {
  readonly restApi: RestApi;
  readonly functions: Record<RouteHandler, ServiceFunction>;
  readonly apiKey?: IApiKey;
  readonly usagePlan?: UsagePlan;
  /** Base URL of the document API (`…/v1/documents/async`). */
  readonly url: string;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);
    const { config, bucket, table, queues, logRetention } = props;
    const withKey = config.apiAuth === 'apiKey';
    const accessLogs = new LogGroup(this, 'AccessLogs', { retention: logRetention });

    this.restApi = new RestApi(this, 'Rest', {
      description: 'Asynchronous document processing',
      endpointTypes: [EndpointType.REGIONAL],
      binaryMediaTypes: ['multipart/form-data'],
      minCompressionSize: Size.kibibytes(1),
      cloudWatchRole: true,
      deployOptions: {
        stageName: API_STAGE,
        metricsEnabled: true,
        loggingLevel: MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        tracingEnabled: true,
        accessLogDestination: new LogGroupLogDestination(accessLogs),
        accessLogFormat: AccessLogFormat.jsonWithStandardFields(),
        // Without API keys the stage itself is throttled; with them, the usage plan is.
        ...(withKey
          ? {}
          : { throttlingRateLimit: config.throttleRateLimit, throttlingBurstLimit: config.throttleBurstLimit }),
      },
      defaultMethodOptions: { apiKeyRequired: withKey },
      ...(config.corsOrigins.length
        ? {
            defaultCorsPreflightOptions: {
              allowOrigins: config.corsOrigins,
              allowMethods: ['GET', 'POST', 'OPTIONS'],
              allowHeaders: [...Cors.DEFAULT_HEADERS, 'Idempotency-Key'],
            },
          }
        : {}),
    });

    const base = API_BASE_PATH.split('/').reduce<IResource>(
      (resource, part) => resource.addResource(part),
      this.restApi.root,
    );
    const resourceFor = (path: string) =>
      path
        .split('/')
        .reduce<IResource>((resource, part) => resource.getResource(part) ?? resource.addResource(part), base);

    const common = apiEnvironment(config);
    const routeFunction = (name: RouteHandler, description: string) =>
      new ServiceFunction(this, name.charAt(0).toUpperCase() + name.slice(1), {
        entry: ROUTE_ENTRIES[name],
        description,
        timeout: Duration.seconds(API_TIMEOUT_SECONDS),
        memorySize: name === 'upload' ? 1024 : 512,
        logRetention,
      }).setEnvironment(common);
    const submits = (fn: ServiceFunction) =>
      fn.sendsTo(queues.standard.queue, 'QUEUE_URL').sendsTo(queues.large.queue, 'LARGE_QUEUE_URL');

    // Each route gets exactly what it touches.
    this.functions = {
      upload: submits(
        routeFunction('upload', 'POST upload: multipart file')
          .useTable(table, 'get', 'put', 'delete')
          .useBucket(bucket, {
            write: [PREFIX.direct],
            delete: [PREFIX.direct],
          }),
      ),
      process: submits(
        routeFunction('process', 'POST process: URL or s3:// URI')
          .useTable(table, 'get', 'put', 'delete')
          .useBucket(bucket, {})
          .readSources(bucket, config),
      ),
      uploadUrl: submits(
        routeFunction('uploadUrl', 'POST upload-url: presigned PUT')
          .useTable(table, 'get', 'put', 'delete')
          .useBucket(bucket, { write: [PREFIX.uploads] }),
      ),
      getTask: routeFunction('getTask', 'GET task status and result')
        .useTable(table, 'get')
        .useBucket(bucket, { read: [PREFIX.results] }),
      listTasks: routeFunction('listTasks', 'GET tasks, newest first').useTable(table, 'query'),
      cancelTask: routeFunction('cancelTask', 'POST cancel').useTable(table, 'get', 'update'),
      retryTask: submits(routeFunction('retryTask', 'POST retry').useTable(table, 'get', 'update')),
    };
    for (const route of ROUTES) {
      resourceFor(route.path).addMethod(route.method, new LambdaIntegration(this.functions[route.handler]));
    }

    if (withKey) {
      const apiKey = this.restApi.addApiKey('Key', { description: 'docproc client key' });
      this.apiKey = apiKey;
      this.usagePlan = this.restApi.addUsagePlan('Plan', {
        throttle: { rateLimit: config.throttleRateLimit, burstLimit: config.throttleBurstLimit },
        quota: { limit: config.throttleRateLimit * 86400, period: Period.DAY },
        apiStages: [{ api: this.restApi, stage: this.restApi.deploymentStage }],
      });
      this.usagePlan.addApiKey(apiKey);
    }
    // API Gateway's own errors (bad key, throttling, unknown path, payload too large) in the
    // service's error shape; the code is the gateway's response type (INVALID_API_KEY, THROTTLED…).
    for (const [id, type] of [
      ['Default4xx', ResponseType.DEFAULT_4XX],
      ['Default5xx', ResponseType.DEFAULT_5XX],
    ] as const) {
      this.restApi.addGatewayResponse(id, {
        type,
        templates: {
          'application/json': '{"error":{"code":"$context.error.responseType","message":$context.error.messageString}}',
        },
      });
    }
    this.url = `${this.restApi.url}${API_BASE_PATH}`;
    // The stack outputs the document API's URL itself; the stage root alone would mislead.
    this.restApi.node.tryRemoveChild('Endpoint');

    Validations.of(this.restApi).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      reason:
        'The account-level role API Gateway uses to write execution logs; AWS maintains this policy for that purpose.',
    });
    Validations.of(this.restApi).acknowledge({
      id: 'AwsSolutions-APIG2',
      reason:
        'Requests are validated in each handler with zod (form-style booleans and multipart bodies are beyond API Gateway models).',
    });
    Validations.of(this.restApi).acknowledge({
      id: 'AwsSolutions-APIG3',
      reason:
        'WAF is a per-organisation choice and costs money; the usage plan throttles. Attach a web ACL to the stage if needed.',
    });
    Validations.of(this.restApi).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason: withKey
        ? 'Clients authenticate with API keys (usage plan); the contract of the Celery design has no user identity.'
        : 'apiAuth=none was chosen in the configuration for a private or test deployment.',
    });
    Validations.of(this.restApi).acknowledge({
      id: 'AwsSolutions-COG4',
      reason: 'No Cognito user pools: clients are services holding API keys.',
    });
  }
}
