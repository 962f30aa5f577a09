import type { Duration } from 'aws-cdk-lib';
import { CfnResource, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { join } from 'node:path';
import { BUNDLE_TARGET, ESM_REQUIRE_BANNER } from '../bundling.js';
import { formatSourceLocations, sourceLocations } from '../definitions.js';

/** The logical id CloudFormation gives a construct's resource, as cdk-nag prints it. */
const logicalIdOf = (construct: IConstruct): string => {
  const resource = construct.node.defaultChild;
  return CfnResource.isCfnResource(resource) ? Stack.of(construct).getLogicalId(resource) : construct.node.id;
};

export const PROJECT_ROOT = join(import.meta.dirname, '..', '..');

export interface ServiceFunctionProps {
  /** Source file under `lambdas/`, relative to it (`api/upload.ts`). */
  entry: string;
  /** Exported handler name. Default `handler`. */
  handler?: string;
  description: string;
  memorySize?: number;
  timeout: Duration;
  logRetention: RetentionDays;
  environment?: Record<string, string>;
  /** Cap on concurrent executions (reserved concurrency). Default: none. */
  reservedConcurrentExecutions?: number;
}

export type TableAccess = 'get' | 'query' | 'put' | 'update' | 'delete';

const TABLE_ACTIONS: Record<TableAccess, string[]> = {
  get: ['dynamodb:GetItem'],
  query: ['dynamodb:Query'],
  put: ['dynamodb:PutItem', 'dynamodb:ConditionCheckItem'],
  update: ['dynamodb:UpdateItem'],
  delete: ['dynamodb:DeleteItem'],
};

const BUCKET_ACTIONS = {
  read: ['s3:GetObject'],
  write: ['s3:PutObject'],
  delete: ['s3:DeleteObject'],
} as const;

/**
 * Every Lambda of the service: Node.js 24 on ARM64, bundled by the local
 * esbuild (never Docker) into one minified ESM file with source maps and the
 * AWS SDK inside, a log group with retention, X-Ray tracing. The `use*`
 * helpers set an environment variable and the matching IAM grant together,
 * so the two cannot drift, and grant only the actions named.
 */
export class ServiceFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: ServiceFunctionProps) {
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    super(scope, id, {
      entry: join(PROJECT_ROOT, 'lambdas', props.entry),
      handler: props.handler ?? 'handler',
      description: props.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout,
      logGroup,
      tracing: Tracing.ACTIVE,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: 'docproc',
        ...props.environment,
      },
      bundling: {
        forceDockerBundling: false,
        minify: true,
        sourceMap: true,
        sourceMapMode: SourceMapMode.EXTERNAL,
        sourcesContent: false,
        format: OutputFormat.ESM,
        target: BUNDLE_TARGET,
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
        // Bundle the AWS SDK too: one file, no dependence on the runtime's copy.
        externalModules: [],
        metafile: false,
        logLevel: LogLevel.ERROR,
      },
    });
    Validations.of(this).acknowledge(
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: 'AWSLambdaBasicExecutionRole only lets the function write its own logs; every other grant is explicit.',
      },
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'X-Ray tracing: xray:PutTraceSegments and PutTelemetryRecords have no resource-level permissions.',
      },
    );
  }

  /** cdk-nag flags `prefix/*` grants; each one here is deliberate and says why. */
  private acknowledgeWildcard(resource: string, reason: string): void {
    Validations.of(this).acknowledge({ id: `AwsSolutions-IAM5[Resource::${resource}]`, reason });
  }

  setEnvironment(values: Record<string, string | number | boolean>): this {
    for (const [key, value] of Object.entries(values)) this.addEnvironment(key, String(value));
    return this;
  }

  /** TABLE_NAME plus exactly the DynamoDB actions named, on the table and its indexes. */
  useTable(table: ITable, ...access: TableAccess[]): this {
    this.addEnvironment('TABLE_NAME', table.tableName);
    const actions = [...new Set(access.flatMap((kind) => TABLE_ACTIONS[kind]))];
    const resources = [table.tableArn];
    if (access.includes('query')) {
      resources.push(`${table.tableArn}/index/*`);
      this.acknowledgeWildcard(
        `<${logicalIdOf(table)}.Arn>/index/*`,
        "Queries the table's listing indexes (by status, by date).",
      );
    }
    this.addToRolePolicy(new PolicyStatement({ actions, resources }));
    return this;
  }

  /** BUCKET_NAME plus object actions limited to key prefixes. */
  useBucket(bucket: IBucket, grants: Partial<Record<keyof typeof BUCKET_ACTIONS, string[]>>): this {
    this.addEnvironment('BUCKET_NAME', bucket.bucketName);
    for (const [kind, prefixes] of Object.entries(grants) as Array<[keyof typeof BUCKET_ACTIONS, string[]]>) {
      if (!prefixes.length) continue;
      this.addToRolePolicy(
        new PolicyStatement({
          actions: [...BUCKET_ACTIONS[kind]],
          resources: prefixes.map((prefix) => bucket.arnForObjects(`${prefix}*`)),
        }),
      );
      for (const prefix of prefixes) {
        this.acknowledgeWildcard(
          `<${logicalIdOf(bucket)}.Arn>/${prefix}*`,
          `Objects under ${prefix} are keyed by task id, unknown until run time; the grant is limited to that prefix.`,
        );
      }
    }
    return this;
  }

  /**
   * s3:ListBucket on a bucket: without it S3 answers a read of a missing key
   * with 403, not 404, and a missing object cannot be told from a refused one.
   * It lists names only; what may be read stays limited by the GetObject grants.
   */
  listBucket(bucket: IBucket): this {
    this.addToRolePolicy(new PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }));
    return this;
  }

  /**
   * SOURCE_LOCATIONS plus read access to exactly those places (`sourcePrefixes`
   * of the service bucket, `allowedSourceBuckets` elsewhere): the same
   * definition the API checks `s3://` sources against.
   */
  readSources(bucket: IBucket, settings: Parameters<typeof sourceLocations>[1]): this {
    const locations = sourceLocations(bucket.bucketName, settings);
    this.addEnvironment('SOURCE_LOCATIONS', formatSourceLocations(locations));
    const partition = Stack.of(this).partition;
    const objects = locations.map(({ bucket: name, prefix }) =>
      name === bucket.bucketName ? bucket.arnForObjects(`${prefix}*`) : `arn:${partition}:s3:::${name}/${prefix}*`,
    );
    const buckets = [...new Set(locations.map(({ bucket: name }) => name))].map((name) =>
      name === bucket.bucketName ? bucket.bucketArn : `arn:${partition}:s3:::${name}`,
    );
    if (!objects.length) return this;
    this.addToRolePolicy(new PolicyStatement({ actions: ['s3:GetObject'], resources: objects }));
    this.addToRolePolicy(new PolicyStatement({ actions: ['s3:ListBucket'], resources: buckets }));
    for (const { bucket: name, prefix } of locations) {
      const resource =
        name === bucket.bucketName
          ? `<${logicalIdOf(bucket)}.Arn>/${prefix}*`
          : `arn:<AWS::Partition>:s3:::${name}/${prefix}*`;
      this.acknowledgeWildcard(
        resource,
        `s3:// sources may name objects under ${name === bucket.bucketName ? 'the service bucket' : name}/${prefix}.`,
      );
    }
    return this;
  }

  /** An environment variable holding the queue URL, plus sqs:SendMessage on it. */
  sendsTo(queue: IQueue, variable: string): this {
    this.addEnvironment(variable, queue.queueUrl);
    queue.grantSendMessages(this);
    return this;
  }
}
