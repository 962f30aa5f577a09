import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { CfnDataSource } from 'aws-cdk-lib/aws-bedrock';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership, type IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { DeploymentConfig } from '../config.js';
import { kbTransformSpec, type FunctionResources } from '../function-catalogue.js';
import { ServiceFunction } from './service-function.js';

export interface KnowledgeBaseTransformationProps {
  config: DeploymentConfig;
  /** `kbTransformation` of the configuration: the construct exists only when it is set. */
  transformation: NonNullable<DeploymentConfig['kbTransformation']>;
  resources: FunctionResources;
  logRetention: RetentionDays;
  /** Where the intermediate bucket (when the stack makes it) logs its access. */
  accessLogs: IBucket;
}

/** The intermediate bucket keeps the KB's batch files only while a sync needs them. */
const INTERMEDIATE_RETENTION_DAYS = 7;

/**
 * The post-chunking transformation of a Bedrock Knowledge Base's S3 data
 * source (docs/knowledge-bases.md): a function that replaces the KB's
 * chunks of each document the service delivered with the service's own
 * (lambdas/knowledge-base/transform.ts), the intermediate bucket the KB hands
 * it batch files in (given, or made here: private, encrypted, expiring), and,
 * when asked, the data source itself over a destination, wired to it with no
 * chunking of the KB's own. The knowledge base, its vector store and its
 * service role are the operator's: the role must be allowed to invoke this
 * function and to read and write the intermediate bucket (the outputs name both).
 */
export class KnowledgeBaseTransformation extends Construct {
  readonly function: ServiceFunction;
  readonly intermediateBucket: IBucket;
  readonly dataSource?: CfnDataSource;

  constructor(scope: Construct, id: string, props: KnowledgeBaseTransformationProps) {
    super(scope, id);
    const { config, transformation } = props;
    const stack = Stack.of(this);
    this.intermediateBucket = transformation.intermediateBucket
      ? Bucket.fromBucketName(this, 'Intermediate', transformation.intermediateBucket)
      : new Bucket(this, 'Intermediate', {
          blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
          encryption: BucketEncryption.S3_MANAGED,
          enforceSSL: true,
          objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
          serverAccessLogsBucket: props.accessLogs,
          serverAccessLogsPrefix: 'kb-intermediate/',
          lifecycleRules: [{ expiration: Duration.days(INTERMEDIATE_RETENTION_DAYS) }],
        });
    const spec = kbTransformSpec(config);
    if (!spec) throw new Error('KnowledgeBaseTransformation needs kbTransformation in the configuration');
    this.function = new ServiceFunction(this, 'Function', {
      name: 'kbTransform',
      spec,
      resources: {
        ...props.resources,
        kbIntermediateBucket: { name: this.intermediateBucket.bucketName, arn: this.intermediateBucket.bucketArn },
      },
      logRetention: props.logRetention,
    });
    const dataSource = transformation.dataSource;
    const knowledgeBaseArn = (knowledgeBaseId: string) =>
      `arn:${stack.partition}:bedrock:${stack.region}:${stack.account}:knowledge-base/${knowledgeBaseId}`;
    // Bedrock calls it for knowledge bases of this account only (the one named, when the data source is made here).
    this.function.addPermission('BedrockInvoke', {
      principal: new ServicePrincipal('bedrock.amazonaws.com'),
      sourceAccount: stack.account,
      sourceArn: knowledgeBaseArn(dataSource?.knowledgeBaseId ?? '*'),
    });
    if (dataSource) {
      const destination = config.kbDestinations[dataSource.destination];
      if (!destination)
        throw new Error(`kbTransformation.dataSource.destination ${dataSource.destination} is not configured`);
      this.dataSource = new CfnDataSource(this, 'DataSource', {
        knowledgeBaseId: dataSource.knowledgeBaseId,
        name: dataSource.name,
        description: `docproc destination kb:${dataSource.destination}, chunked by the service`,
        dataSourceConfiguration: {
          type: 'S3',
          s3Configuration: {
            bucketArn: `arn:${stack.partition}:s3:::${destination.bucket}`,
            ...(destination.prefix ? { inclusionPrefixes: [destination.prefix] } : {}),
          },
        },
        vectorIngestionConfiguration: {
          // The service's chunks come from the transformation: the KB's own chunking is off.
          chunkingConfiguration: { chunkingStrategy: 'NONE' },
          customTransformationConfiguration: {
            intermediateStorage: { s3Location: { uri: `s3://${this.intermediateBucket.bucketName}/` } },
            transformations: [
              {
                stepToApply: 'POST_CHUNKING',
                transformationFunction: { transformationLambdaConfiguration: { lambdaArn: this.function.functionArn } },
              },
            ],
          },
        },
      });
    }
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::<KnowledgeBaseIntermediate>/*]',
      reason: 'The KB names its batch files at run time.',
    });
  }
}
