import { Size, Stack, Validations } from 'aws-cdk-lib';
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
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { DeploymentConfig } from '../config.js';
import { API_BASE_PATH, GATEWAY_RESPONSES, ROUTES, type RouteHandler } from '../../shared/definitions.js';
import type { FunctionCatalogue, FunctionResources } from '../function-catalogue.js';
import { ServiceFunction } from './service-function.js';

export interface ApiProps {
  config: DeploymentConfig;
  catalogue: FunctionCatalogue;
  resources: FunctionResources;
  logRetention: RetentionDays;
}

export const API_STAGE = 'v1';

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
    const { config, catalogue, resources, logRetention } = props;
    const withKey = config.apiAuth === 'apiKey';
    const accessLogs = new LogGroup(this, 'AccessLogs', { retention: logRetention });

    this.restApi = new RestApi(this, 'Rest', {
      // API Gateway's metrics are by API name: two stacks in one account must not share one.
      restApiName: `${Stack.of(this).stackName}-api`,
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

    const resourceFor = (path: string) =>
      path
        .split('/')
        .reduce<IResource>(
          (resource, part) => resource.getResource(part) ?? resource.addResource(part),
          this.restApi.root,
        );

    // Each route gets exactly what its catalogue record names.
    this.functions = Object.fromEntries(
      ROUTES.map(({ handler }) => [
        handler,
        new ServiceFunction(this, handler.charAt(0).toUpperCase() + handler.slice(1), {
          name: handler,
          spec: catalogue[handler],
          resources,
          logRetention,
        }),
      ]),
    ) as Record<RouteHandler, ServiceFunction>;
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
    const { status, code, message } = GATEWAY_RESPONSES.requestTooLarge;
    this.restApi.addGatewayResponse('RequestTooLarge', {
      type: ResponseType.REQUEST_TOO_LARGE,
      statusCode: String(status),
      templates: { 'application/json': JSON.stringify({ error: { code, message } }) },
    });
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
