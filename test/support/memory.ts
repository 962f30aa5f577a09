import { AppError } from '../../lambdas/errors.js';
import type { BlobStore, JobQueue } from '../../lambdas/core/ports.js';
import type { QueueClass, TaskMessage } from '../../lambdas/core/task.js';

/** An in-memory BlobStore: the worker tests' S3. */
export class MemoryBlobStore implements BlobStore {
  readonly objects = new Map<string, { bytes: Uint8Array; contentType: string }>();
  failNextGets = 0;

  async put(bucket: string, key: string, body: Uint8Array | string, contentType: string) {
    this.objects.set(`${bucket}/${key}`, { bytes: typeof body === 'string' ? Buffer.from(body) : body, contentType });
  }

  async get(bucket: string, key: string, maxBytes: number) {
    if (this.failNextGets > 0) {
      this.failNextGets--;
      throw Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });
    }
    const object = this.objects.get(`${bucket}/${key}`);
    if (!object) throw new AppError('SOURCE_NOT_FOUND', `s3://${bucket}/${key} does not exist.`);
    if (object.bytes.length > maxBytes) throw new AppError('SOURCE_TOO_LARGE', 'too large');
    return { bytes: object.bytes, contentType: object.contentType };
  }

  async head(bucket: string, key: string) {
    const object = this.objects.get(`${bucket}/${key}`);
    return object ? { size: object.bytes.length, contentType: object.contentType } : undefined;
  }

  async presignPut(bucket: string, key: string) {
    return `https://${bucket}.s3.amazonaws.com/${key}?signed`;
  }

  async presignGet(bucket: string, key: string) {
    return `https://${bucket}.s3.amazonaws.com/${key}?signed`;
  }

  async delete(bucket: string, key: string) {
    this.objects.delete(`${bucket}/${key}`);
  }

  async copy(bucket: string, fromKey: string, toKey: string) {
    const object = this.objects.get(`${bucket}/${fromKey}`);
    if (!object) return false;
    this.objects.set(`${bucket}/${toKey}`, { ...object });
    return true;
  }

  keys(prefix = ''): string[] {
    return [...this.objects.keys()].filter((key) => key.includes(prefix));
  }
}

/** An in-memory JobQueue that records what was sent. */
export class MemoryQueue implements JobQueue {
  readonly sent: Array<{ queue: QueueClass; message: TaskMessage }> = [];
  async send(queue: QueueClass, message: TaskMessage) {
    this.sent.push({ queue, message });
  }
}
