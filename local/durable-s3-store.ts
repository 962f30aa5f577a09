import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { S3Store } from 'fauxqs';

interface Sidecar {
  key: string;
  contentType: string;
  metadata: Record<string, string>;
  lastModified: string;
}

type S3Object = ReturnType<S3Store['putObject']>;

/**
 * fauxqs's S3, kept on disk as objects are written (`--data-dir`), so that a
 * `kill -9` loses nothing a client was told is stored.
 *
 * Each object is two files named by a hash of its key (a key such as
 * `../../x` is data, never a path): `<hash>.body`, then `<hash>.json` with
 * the key and metadata. Each is written to a temporary file and renamed, and
 * the sidecar goes last: it is the commit. At start, a body without its
 * sidecar (a write cut short) is skipped with a warning.
 */
export class DurableS3Store extends S3Store {
  constructor(
    private readonly dir: string,
    private readonly warn: (message: string) => void = (message) => console.warn(message),
  ) {
    super();
  }

  private bucketDir(bucket: string): string {
    return join(this.dir, createHash('sha256').update(bucket).digest('hex').slice(0, 32));
  }

  private fileOf(bucket: string, key: string): string {
    return join(this.bucketDir(bucket), createHash('sha256').update(key).digest('hex'));
  }

  override createBucket(name: string): void {
    const fresh = !this.hasBucket(name);
    super.createBucket(name);
    if (fresh) this.load(name);
  }

  override putObject(
    bucket: string,
    key: string,
    body: Buffer,
    contentType?: string,
    metadata?: Record<string, string>,
  ): S3Object {
    const stored = super.putObject(bucket, key, body, contentType, metadata);
    this.persist(bucket, stored);
    return stored;
  }

  override completeMultipartUpload(uploadId: string, parts: Array<{ partNumber: number; etag: string }>): S3Object {
    const uploads = (this as unknown as { multipartUploads: Map<string, { bucket: string }> }).multipartUploads;
    const bucket = uploads.get(uploadId)?.bucket;
    const stored = super.completeMultipartUpload(uploadId, parts);
    if (bucket) this.persist(bucket, stored);
    return stored;
  }

  override deleteObject(bucket: string, key: string): void {
    super.deleteObject(bucket, key);
    this.remove(bucket, key);
  }

  override deleteObjects(bucket: string, keys: string[]): string[] {
    const deleted = super.deleteObjects(bucket, keys);
    for (const key of keys) this.remove(bucket, key);
    return deleted;
  }

  private persist(bucket: string, stored: S3Object): void {
    const file = this.fileOf(bucket, stored.key);
    mkdirSync(this.bucketDir(bucket), { recursive: true });
    const sidecar: Sidecar = {
      key: stored.key,
      contentType: stored.contentType,
      metadata: stored.metadata,
      lastModified: stored.lastModified.toISOString(),
    };
    writeFileSync(`${file}.body.tmp`, stored.body);
    renameSync(`${file}.body.tmp`, `${file}.body`);
    writeFileSync(`${file}.json.tmp`, JSON.stringify(sidecar));
    renameSync(`${file}.json.tmp`, `${file}.json`);
  }

  private remove(bucket: string, key: string): void {
    const file = this.fileOf(bucket, key);
    // The sidecar first: without it the body no longer counts as stored.
    rmSync(`${file}.json`, { force: true });
    rmSync(`${file}.body`, { force: true });
  }

  /** Puts back what an earlier run stored for this bucket. */
  private load(bucket: string): void {
    let names: string[];
    try {
      names = readdirSync(this.bucketDir(bucket));
    } catch {
      return;
    }
    const sidecars = new Set(names.filter((name) => name.endsWith('.json')).map((name) => name.slice(0, -5)));
    for (const name of names) {
      if (!name.endsWith('.body')) continue;
      const base = name.slice(0, -5);
      if (!sidecars.has(base)) {
        this.warn(`data dir: ${name} has no sidecar (a write cut short); skipped`);
        continue;
      }
      try {
        const sidecar = JSON.parse(readFileSync(join(this.bucketDir(bucket), `${base}.json`), 'utf8')) as Sidecar;
        const body = readFileSync(join(this.bucketDir(bucket), name));
        const stored = super.putObject(bucket, sidecar.key, body, sidecar.contentType, sidecar.metadata);
        stored.lastModified = new Date(sidecar.lastModified);
      } catch (error) {
        this.warn(`data dir: ${base} cannot be read (${(error as Error).message}); skipped`);
      }
    }
  }
}
