import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { BlockPublicAccess, Bucket, BucketEncryption, HttpMethods, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { DELIVERIES_TABLE, PREFIX, TABLE } from '../../shared/definitions.js';

export interface StorageProps {
  /** Days a task row lives (DynamoDB TTL on `ttl`). */
  taskRetentionDays: number;
  /** Days result objects live under `results/`. */
  resultRetentionDays: number;
  /** Days uploaded inputs live under `uploads/` and `direct/`. */
  uploadRetentionDays: number;
  /** Browser origins allowed to PUT presigned uploads; empty: none. */
  corsOrigins: string[];
  /** Keep the bucket and table when the stack is deleted. Default true. */
  retain?: boolean;
}

/**
 * The bucket (uploads, inputs, results: private, encrypted, TLS only, expiring
 * by prefix), the task table (on demand, point-in-time recovery, TTL, an
 * index per way tasks are listed) and the webhook delivery log beside it
 * (the same settings, keyed by task, expiring with its task).
 */
export class Storage extends Construct {
  readonly bucket: Bucket;
  readonly accessLogs: Bucket;
  readonly table: Table;
  readonly deliveries: Table;

  constructor(scope: Construct, id: string, props: StorageProps) {
    super(scope, id);
    const removalPolicy = props.retain === false ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;

    this.accessLogs = new Bucket(this, 'AccessLogs', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      // S3 delivers the logs under a bucket policy (cdk.json: serverAccessLogsUseBucketPolicy), not an ACL.
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(90) }],
      removalPolicy,
    });
    Validations.of(this.accessLogs).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the access-log bucket itself; logging it into itself would loop.',
    });

    this.bucket = new Bucket(this, 'Documents', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'documents/',
      lifecycleRules: [
        { prefix: PREFIX.uploads, expiration: Duration.days(props.uploadRetentionDays) },
        { prefix: PREFIX.direct, expiration: Duration.days(props.uploadRetentionDays) },
        { prefix: PREFIX.results, expiration: Duration.days(props.resultRetentionDays) },
        // A batch's list of sources lives as long as the batch (its tasks' retention).
        { prefix: PREFIX.batches, expiration: Duration.days(props.taskRetentionDays) },
        { abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      cors: props.corsOrigins.length
        ? [{ allowedMethods: [HttpMethods.PUT], allowedOrigins: props.corsOrigins, allowedHeaders: ['content-type'] }]
        : undefined,
      removalPolicy,
    });

    this.table = new Table(this, 'Tasks', {
      partitionKey: { name: TABLE.partitionKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryption.AWS_MANAGED,
      timeToLiveAttribute: TABLE.ttlAttribute,
      removalPolicy,
    });
    for (const index of Object.values(TABLE.indexes)) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        sortKey: { name: index.sortKey, type: AttributeType.STRING },
        projectionType: index.projection === 'KEYS_ONLY' ? ProjectionType.KEYS_ONLY : ProjectionType.ALL,
      });
    }

    this.deliveries = new Table(this, 'Deliveries', {
      partitionKey: { name: DELIVERIES_TABLE.partitionKey, type: AttributeType.STRING },
      sortKey: { name: DELIVERIES_TABLE.sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryption.AWS_MANAGED,
      timeToLiveAttribute: DELIVERIES_TABLE.ttlAttribute,
      removalPolicy,
    });
  }
}
