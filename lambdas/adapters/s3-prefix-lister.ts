import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { ListPrefix } from '../core/batches.js';

/** One ListObjectsV2 page of a prefix: keys in S3's (UTF-8 binary) order, and where the next page starts. */
export const s3PrefixLister =
  (client: S3Client): ListPrefix =>
  async (bucket, prefix, token, pageSize) => {
    const { Contents, NextContinuationToken, IsTruncated } = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token, MaxKeys: pageSize }),
    );
    return {
      objects: (Contents ?? []).flatMap((object) => (object.Key ? [{ key: object.Key, size: object.Size ?? 0 }] : [])),
      nextToken: IsTruncated ? NextContinuationToken : undefined,
    };
  };
