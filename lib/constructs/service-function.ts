import { Duration, RemovalPolicy, Stack, Tags, Validations } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { join } from 'node:path';
import { BUNDLE_TARGET, copyLazyModules, ESM_REQUIRE_BANNER, LAZY_MODULES } from '../bundling.js';
import {
  accessEnvironment,
  accessStatements,
  type FunctionAccess,
  type FunctionName,
  type FunctionResources,
  type FunctionSpec,
} from '../function-catalogue.js';

/** A resolved resource as cdk-nag prints it in a finding id: `<Logical.Arn>/prefix*`, `<AWS::Partition>`. */
const nagResource = (resolved: unknown): string => {
  if (typeof resolved === 'string') return resolved;
  const value = resolved as Record<string, unknown>;
  if (Array.isArray(value['Fn::Join'])) {
    const [separator, parts] = value['Fn::Join'] as [string, unknown[]];
    return parts.map(nagResource).join(separator);
  }
  if (Array.isArray(value['Fn::GetAtt'])) return `<${(value['Fn::GetAtt'] as string[]).join('.')}>`;
  if (typeof value.Ref === 'string') return `<${value.Ref}>`;
  return JSON.stringify(resolved);
};

export const PROJECT_ROOT = join(import.meta.dirname, '..', '..');

export interface ServiceFunctionProps {
  /** Its name in the catalogue, also its `docproc:function` tag (how tests pair it with the local function). */
  name: FunctionName | 'kbTransform';
  /** The function's record in the catalogue: code, size, environment, access. */
  spec: FunctionSpec;
  /** Where the resources its access names are. */
  resources: FunctionResources;
  logRetention: RetentionDays;
}

/**
 * Every Lambda of the service: Node.js 24 on ARM64, bundled by the local
 * esbuild (never Docker) into one minified ESM file with source maps and the
 * AWS SDK inside, a log group with retention, X-Ray tracing. Its environment
 * and its IAM statements both come from its catalogue record, so the two
 * cannot drift, and it is granted only what the record names.
 */
export class ServiceFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: ServiceFunctionProps) {
    const { spec, resources } = props;
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    super(scope, id, {
      entry: join(PROJECT_ROOT, 'lambdas', spec.entry),
      handler: 'handler',
      description: spec.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: spec.memoryMb,
      timeout: Duration.seconds(spec.timeoutSeconds),
      logGroup,
      tracing: Tracing.ACTIVE,
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: 'docproc',
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
        // Bundle the AWS SDK too: one file, no dependence on the runtime's copy; only the lazy modules stay out.
        externalModules: LAZY_MODULES,
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (inputDir, outputDir) => copyLazyModules(inputDir, outputDir),
        },
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
    this.setEnvironment(spec.environment);
    this.grantAccess(spec.access, resources);
    Tags.of(this).add('docproc:function', props.name);
  }

  setEnvironment(values: Record<string, string | number | boolean>): this {
    for (const [key, value] of Object.entries(values)) this.addEnvironment(key, String(value));
    return this;
  }

  /**
   * What the catalogue says the function may touch: the environment variables
   * naming those resources and exactly the IAM statements for them (the same
   * statements the embedded stack enforces).
   */
  private grantAccess(access: FunctionAccess, resources: FunctionResources): void {
    this.setEnvironment(accessEnvironment(access, resources));
    for (const statement of accessStatements(access, resources)) {
      this.addToRolePolicy(new PolicyStatement(statement));
      for (const resource of statement.resources.filter((arn) => arn.includes('*'))) {
        // cdk-nag flags every wildcard; each one here is a key prefix, a table's indexes or a model's regions, on purpose.
        Validations.of(this).acknowledge({
          id: `AwsSolutions-IAM5[Resource::${nagResource(Stack.of(this).resolve(resource))}]`,
          reason: resource.includes('/index/')
            ? "Queries the table's listing indexes."
            : resource.includes(':foundation-model/')
              ? 'The figure model through its inference profile, which routes each call to the model in one of its regions.'
              : 'Objects under a key prefix, keyed by task id or named by the caller: unknown until run time.',
        });
      }
    }
  }
}
