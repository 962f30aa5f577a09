import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { AppError } from '../errors.js';
import type { BlobStore } from '../core/ports.js';

const isMissing = (error: unknown) => {
  const name = (error as Error | undefined)?.name;
  return name === 'NoSuchKey' || name === 'NotFound' || name === 'NoSuchBucket';
};

/**
 * S3's answer to a read it refuses: 403 (AccessDenied, or a bare Forbidden
 * for HEAD). Without s3:ListBucket, a missing key is one too.
 */
const isRefused = (error: unknown) => {
  const { name, $metadata } = (error ?? {}) as { name?: string; $metadata?: { httpStatusCode?: number } };
  return name === 'AccessDenied' || name === 'Forbidden' || $metadata?.httpStatusCode === 403;
};

export class S3BlobStore implements BlobStore {
  constructor(private readonly client: S3Client) {}

  async put(bucket: string, key: string, body: Uint8Array | string, contentType: string) {
    await this.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }));
  }

  async get(bucket: string, key: string, maxBytes: number) {
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if ((response.ContentLength ?? 0) > maxBytes) {
        await response.Body?.transformToByteArray().catch(() => undefined);
        throw new AppError(
          'SOURCE_TOO_LARGE',
          `The object is ${response.ContentLength} bytes; the limit is ${maxBytes}.`,
        );
      }
      const bytes = (await response.Body?.transformToByteArray()) ?? new Uint8Array();
      return { bytes, contentType: response.ContentType };
    } catch (error) {
      // The message is the client's: it names no bucket or key.
      if (isMissing(error) || isRefused(error)) {
        throw new AppError('SOURCE_NOT_FOUND', 'The input object does not exist or cannot be read.', { cause: error });
      }
      throw error;
    }
  }

  /**
   * undefined when the object cannot be read: missing (404), or refused
   * (403, which is also what S3 answers for a missing key to a caller without
   * s3:ListBucket). The grants include ListBucket wherever `head` is used.
   */
  async head(bucket: string, key: string) {
    try {
      const response = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return { size: response.ContentLength ?? 0, contentType: response.ContentType, metadata: response.Metadata };
    } catch (error) {
      if (isMissing(error) || isRefused(error)) return undefined;
      throw error;
    }
  }

  presignPut(bucket: string, key: string, options: { contentType: string; contentLength: number; expiresIn: number }) {
    // Content-Length is signed: S3 refuses a body of any other size.
    return getSignedUrl(
      this.client,
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        ContentType: options.contentType,
        ContentLength: options.contentLength,
      }),
      { expiresIn: options.expiresIn, signableHeaders: new Set(['content-type', 'content-length']) },
    );
  }

  presignGet(bucket: string, key: string, expiresIn: number) {
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn });
  }

  async delete(bucket: string, key: string) {
    await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  }

  /**
   * CopyObject (s3:GetObject on the source, s3:PutObject on the target). A
   * missing source is a 404 to the callers, which may list the bucket; a 403
   * stays an error, since it may as well be a grant missing on the target.
   */
  async copy(bucket: string, fromKey: string, toKey: string) {
    try {
      await this.client.send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: toKey,
          CopySource: `${bucket}/${fromKey.split('/').map(encodeURIComponent).join('/')}`,
        }),
      );
      return true;
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }
}
