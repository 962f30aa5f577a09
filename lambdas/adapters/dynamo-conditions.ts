import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';

/** A conditional write DynamoDB refused (the SDK's class, or its name when the error crossed a boundary). */
export const isConditionFailure = (error: unknown) =>
  error instanceof ConditionalCheckFailedException ||
  (error as Error | undefined)?.name === 'ConditionalCheckFailedException';
