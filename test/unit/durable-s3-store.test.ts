import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DurableS3Store } from '../../local/durable-s3-store.js';

const dir = mkdtempSync(join(tmpdir(), 'docproc-s3-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const filesUnder = (path: string): string[] =>
  readdirSync(path, { recursive: true, encoding: 'utf8' }).map((name) => join(path, name));

describe('the local S3 kept on disk', () => {
  it('keeps every object as it is written, so a new process finds it without a clean stop', () => {
    const first = new DurableS3Store(join(dir, 'a'));
    first.createBucket('bucket');
    first.putObject('bucket', 'results/t/r.json', Buffer.from('{"ok":true}'), 'application/json', { k: 'v' });
    first.putObject('bucket', 'gone', Buffer.from('x'));
    first.deleteObject('bucket', 'gone');
    const second = new DurableS3Store(join(dir, 'a'));
    second.createBucket('bucket');
    const kept = second.getObject('bucket', 'results/t/r.json');
    expect(kept.body.toString()).toBe('{"ok":true}');
    expect(kept).toMatchObject({ contentType: 'application/json', metadata: { k: 'v' } });
    expect(() => second.getObject('bucket', 'gone')).toThrow();
  });

  it('treats keys as data: `../../x` never names a path outside its folder', () => {
    const root = join(dir, 'b');
    const store = new DurableS3Store(join(root, 's3'));
    store.createBucket('bucket');
    store.putObject('bucket', '../../escaped', Buffer.from('x'));
    store.putObject('bucket', '/etc/passwd', Buffer.from('y'));
    expect(existsSync(join(root, 'escaped'))).toBe(false);
    expect(existsSync(join(dir, 'escaped'))).toBe(false);
    expect(filesUnder(join(root, 's3')).every((file) => !file.includes('escaped') && !file.includes('passwd'))).toBe(
      true,
    );
    const again = new DurableS3Store(join(root, 's3'));
    again.createBucket('bucket');
    expect(again.getObject('bucket', '../../escaped').body.toString()).toBe('x');
  });

  it('skips a body whose sidecar was never written (a write cut short), with a warning', () => {
    const root = join(dir, 'c');
    const store = new DurableS3Store(root);
    store.createBucket('bucket');
    store.putObject('bucket', 'kept', Buffer.from('kept'));
    const [bucketDir] = readdirSync(root);
    writeFileSync(join(root, bucketDir!, 'cafe.body'), 'half');
    writeFileSync(join(root, bucketDir!, 'f00d.body'), 'broken sidecar');
    writeFileSync(join(root, bucketDir!, 'f00d.json'), '{not json');
    const warnings: string[] = [];
    const restarted = new DurableS3Store(root, (message) => warnings.push(message));
    restarted.createBucket('bucket');
    expect(restarted.getObject('bucket', 'kept').body.toString()).toBe('kept');
    expect(warnings.some((warning) => warning.includes('no sidecar'))).toBe(true);
    expect(warnings.some((warning) => warning.includes('cannot be read'))).toBe(true);
  });
});
