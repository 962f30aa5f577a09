import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { execFileSync } from 'node:child_process';
import type { LookupAddress } from 'node:dns';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { secretsManagerSigningKeys } from '../../lambdas/adapters/secrets-manager-signing-keys.js';
import { webhookPoster } from '../../lambdas/adapters/webhook-post.js';
import { parseSigningKeys, signatureHeader } from '../../lambdas/core/webhook-signing.js';
import { nextAttemptAt, queueDelaySeconds } from '../../lambdas/core/webhooks.js';

/** The Standard Webhooks specification's own test vector (its libraries are tested against it). */
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

/** HMAC-SHA256 computed by Python's standard library: a second implementation, not ours. */
const pythonSignature = (secret: string, id: string, timestamp: number, body: string) =>
  execFileSync(
    'python3',
    [
      '-c',
      'import base64,hashlib,hmac,sys; key=base64.b64decode(sys.argv[1].removeprefix("whsec_")); ' +
        'print(base64.b64encode(hmac.new(key, sys.argv[2].encode(), hashlib.sha256).digest()).decode())',
      secret,
      `${id}.${timestamp}.${body}`,
    ],
    { encoding: 'utf8' },
  ).trim();

describe('webhook signatures', () => {
  it('reproduce the Standard Webhooks test vector', () => {
    const keys = parseSigningKeys(VECTOR.secret);
    expect(signatureHeader(keys, VECTOR.id, VECTOR.timestamp, VECTOR.body)).toBe(VECTOR.signature);
  });

  it('sign with every secret of a rotation, space-separated, in order (checked with Python)', () => {
    const next = 'whsec_c2VjcmV0LW9mLWEtcm90YXRlZC1lbmRwb2ludA==';
    const body = '{"type":"task.succeeded","data":{"task_id":"é"}}';
    const header = signatureHeader(parseSigningKeys(`${VECTOR.secret}  ${next}`), 'msg_1', 1700000000, body);
    expect(header).toBe(
      [VECTOR.secret, next].map((secret) => `v1,${pythonSignature(secret, 'msg_1', 1700000000, body)}`).join(' '),
    );
  });

  it('read a value the stack generated (letters and digits) as base64', () => {
    const generated = 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v2';
    expect(generated).toHaveLength(44);
    expect(parseSigningKeys(generated)[0]).toHaveLength(33);
    expect(signatureHeader(parseSigningKeys(generated), 'msg_1', 1, '{}')).toBe(
      signatureHeader(parseSigningKeys(`whsec_${generated}`), 'msg_1', 1, '{}'),
    );
  });

  it.each([
    ['', 'empty'],
    ['whsec_not*base64!', 'not base64'],
    ['whsec_c2hvcnQ=', 'at least 24'],
  ])('refuse the secret %j without quoting it', (value, problem) => {
    expect(() => parseSigningKeys(value)).toThrow(problem);
    if (value) expect(() => parseSigningKeys(value)).not.toThrow(value);
  });
});

describe('the retry schedule', () => {
  const EVENT = new Date('2026-11-27T12:00:00.000Z');
  const noJitter = { scale: 1, random: () => 0 };
  const after = (seconds: number) => new Date(EVENT.getTime() + seconds * 1000);

  it('waits 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, then every 2 h', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 8].map(
      (attemptsMade) => (nextAttemptAt(EVENT, EVENT, attemptsMade, noJitter)!.getTime() - EVENT.getTime()) / 1000,
    );
    expect(delays).toEqual([5, 30, 120, 600, 1800, 3600, 7200, 7200]);
  });

  it('adds up to a fifth of each delay as jitter', () => {
    const jittered = nextAttemptAt(EVENT, EVENT, 2, { scale: 1, random: () => 0.999 })!;
    expect((jittered.getTime() - EVENT.getTime()) / 1000).toBeCloseTo(35.99, 1);
  });

  it('gives up when the next attempt would be more than 24 h after the event: 18 attempts in all', () => {
    const times = [EVENT];
    for (let next = nextAttemptAt(EVENT, EVENT, 1, noJitter); next;) {
      times.push(next);
      next = nextAttemptAt(EVENT, next, times.length, noJitter);
    }
    expect(times).toHaveLength(18);
    expect(times.at(-1)!.getTime()).toBeLessThanOrEqual(after(24 * 3600).getTime());
    expect(nextAttemptAt(EVENT, after(23 * 3600), 12, noJitter)).toBeUndefined();
  });

  it('shrinks with the local scale, give-up time included', () => {
    const scaled = { scale: 0.01, random: () => 0 };
    expect(nextAttemptAt(EVENT, EVENT, 1, scaled)!.getTime() - EVENT.getTime()).toBe(50);
    expect(nextAttemptAt(EVENT, after(864), 7, scaled)).toBeUndefined();
  });

  it('waits in SQS 15 minutes at most a hop, whole seconds, never negative', () => {
    expect(queueDelaySeconds(after(7200), EVENT)).toBe(900);
    expect(queueDelaySeconds(after(3.2), EVENT)).toBe(4);
    expect(queueDelaySeconds(EVENT, after(10))).toBe(0);
  });
});

describe('the signing keys from Secrets Manager', () => {
  const client = new SecretsManagerClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'a', secretAccessKey: 's' },
  });
  const secrets = mockClient(client);
  const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:webhooks-AbCdEf';
  beforeEach(() => secrets.reset());

  it('are read once per minute at most, and a rotation is seen after that', async () => {
    const rotated = 'whsec_c2VjcmV0LW9mLWEtcm90YXRlZC1lbmRwb2ludA==';
    secrets
      .on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: VECTOR.secret })
      .resolves({ SecretString: `${VECTOR.secret} ${rotated}` });
    let now = 0;
    const keys = secretsManagerSigningKeys(client, ARN, 60_000, () => now);
    expect(await keys()).toHaveLength(1);
    now = 59_999;
    expect(await keys()).toHaveLength(1);
    now = 60_000;
    expect(await keys()).toHaveLength(2);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    expect(secrets.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toEqual({ SecretId: ARN });
  });
});

describe('POSTing a webhook', () => {
  let server: Server;
  let base: string;
  let received: Array<{ path: string; headers: IncomingHttpHeaders; body: string }>;
  const LOOPBACK = { allowPrivateAddresses: ['127.0.0.1/32'] };
  const request = { headers: { 'content-type': 'application/json', 'webhook-id': 'msg_1' }, body: '{"type":"x"}' };
  const resolvesTo = (address: string) =>
    ((_host: string, _options: unknown, callback: (error: null, addresses: LookupAddress[]) => void) =>
      callback(null, [{ address, family: 4 }])) as never;

  beforeAll(async () => {
    server = createServer((incoming, response) => {
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
      incoming.on('end', () => {
        const path = incoming.url ?? '/';
        received.push({ path, headers: incoming.headers, body: Buffer.concat(chunks).toString() });
        if (path === '/unavailable') return response.writeHead(503).end('down');
        if (path === '/moved') return response.writeHead(302, { location: '/elsewhere' }).end();
        if (path === '/silent') return; // never answers
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });
  beforeEach(() => {
    received = [];
  });

  it('sends the body and headers as given, and reports the status', async () => {
    const outcome = await webhookPoster({ policy: LOOPBACK, timeoutMs: 2000 })(`${base}/hook`, request);
    expect(outcome).toEqual({ status_code: 204, duration_ms: expect.any(Number) });
    expect(received).toEqual([
      {
        path: '/hook',
        headers: expect.objectContaining({ 'content-type': 'application/json', 'webhook-id': 'msg_1' }),
        body: '{"type":"x"}',
      },
    ]);
  });

  it('reports a non-2xx as its status, and follows no redirect', async () => {
    const post = webhookPoster({ policy: LOOPBACK, timeoutMs: 2000 });
    expect(await post(`${base}/unavailable`, request)).toMatchObject({ status_code: 503 });
    expect(await post(`${base}/moved`, request)).toMatchObject({ status_code: 302 });
    expect(received.map((entry) => entry.path)).toEqual(['/unavailable', '/moved']);
  });

  it('gives up on a receiver that does not answer in time', async () => {
    const outcome = await webhookPoster({ policy: LOOPBACK, timeoutMs: 300 })(`${base}/silent`, request);
    expect(outcome).toEqual({ error: 'No answer within 0.3 s.', duration_ms: expect.any(Number) });
  });

  it('reports a refused connection in words, without an errno code', async () => {
    const outcome = await webhookPoster({ policy: LOOPBACK, timeoutMs: 2000 })('http://127.0.0.1:1/', request);
    expect(outcome).toMatchObject({ error: 'The callback URL could not be reached: the connection was refused.' });
  });

  it('checks the address at every attempt: a name that now resolves to the metadata address is refused', async () => {
    const port = new URL(base).port;
    const url = `http://hooks.example.test:${port}/hook`;
    const before = await webhookPoster({ policy: LOOPBACK, timeoutMs: 2000, lookup: resolvesTo('127.0.0.1') })(
      url,
      request,
    );
    expect(before).toMatchObject({ status_code: 204 });
    const after = await webhookPoster({ policy: LOOPBACK, timeoutMs: 2000, lookup: resolvesTo('169.254.169.254') })(
      url,
      request,
    );
    expect(after).toMatchObject({ error: expect.stringContaining('does not send to') });
    expect(JSON.stringify(after)).not.toContain('169.254');
    expect(received).toHaveLength(1);
  });

  it('never sends to link-local or metadata addresses, even where loopback is allowed', async () => {
    const post = webhookPoster({ policy: { allowPrivateAddresses: true }, timeoutMs: 2000 });
    for (const url of ['http://169.254.169.254/latest/meta-data/', 'http://[fd00:ec2::254]/']) {
      expect(await post(url, request)).toMatchObject({ error: expect.stringContaining('forbidden address') });
    }
  });
});
