import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { localstackApiUrl } from '../../localstack/api-url.js';

/**
 * The LocalStack path cannot run here (no container engine), so what can be
 * checked without it is: the image and settings it needs, and the API URL it
 * is reached at.
 */
const ROOT = join(import.meta.dirname, '..', '..');
const compose = readFileSync(join(ROOT, 'localstack', 'docker-compose.yml'), 'utf8');

describe('LocalStack path', () => {
  it('pins an image with the nodejs24.x runtime that starts without an auth token', () => {
    expect(compose).toMatch(/image: localstack\/localstack:4\.14\.0\n/);
  });

  it('sets what the stack needs there: arm64 functions on any host, reachable presigned URLs, the dashboard skipped', () => {
    for (const setting of [
      'LAMBDA_IGNORE_ARCHITECTURE=1',
      'HOSTNAME_FROM_LAMBDA=localhost.localstack.cloud',
      'CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES=1',
    ]) {
      expect(compose).toContain(`- ${setting}`);
    }
  });

  it('reaches the API through the edge port, not the AWS host name the output carries', () => {
    expect(
      localstackApiUrl(
        'https://abc123.execute-api.us-east-1.amazonaws.com/v1/documents/async',
        'http://localhost:4566',
      ),
    ).toBe('http://abc123.execute-api.localhost.localstack.cloud:4566/v1/documents/async');
    expect(localstackApiUrl('https://abc123.execute-api.us-east-1.amazonaws.com/v1/', 'http://127.0.0.1:4570')).toBe(
      'http://abc123.execute-api.localhost.localstack.cloud:4570/v1',
    );
  });

  it('waits for readiness before deploying', () => {
    const scripts = (
      JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
    ).scripts;
    expect(scripts['localstack:up']).toContain('scripts/localstack.ts wait');
    expect(scripts['localstack:deploy']).toBe('tsx scripts/localstack.ts deploy');
  });
});
