import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsJsonError, startAwsJsonService, type AwsJsonService } from '../../local/aws-json-service.js';
import { startLocalEventBus, type LocalEventBus } from '../../local/event-bus.js';

let service: AwsJsonService;
let bus: LocalEventBus;

beforeAll(async () => {
  service = await startAwsJsonService('127.0.0.1', {
    'Test.Echo': (input) => ({ echoed: input }),
    'Test.Refuse': () => {
      throw new AwsJsonError('ResourceNotFoundException', 'no such thing');
    },
  });
  bus = await startLocalEventBus({ busNames: ['docproc-tasks'] });
});
afterAll(async () => {
  await service?.close();
  await bus?.stop();
});

const call = (url: string, target: string, body: string | Uint8Array) =>
  fetch(url, {
    method: 'POST',
    headers: { 'x-amz-target': target, 'content-type': 'application/x-amz-json-1.1' },
    body,
  });

describe('the local AWS JSON-protocol services', () => {
  it('answers an operation, and its typed error with x-amzn-errortype', async () => {
    expect(await (await call(service.url, 'Test.Echo', '{"a":1}')).json()).toEqual({ echoed: { a: 1 } });
    const refused = await call(service.url, 'Test.Refuse', '{}');
    expect(refused.status).toBe(400);
    expect(refused.headers.get('x-amzn-errortype')).toBe('ResourceNotFoundException');
    expect(await refused.json()).toEqual({ __type: 'ResourceNotFoundException', message: 'no such thing' });
  });

  it.each([
    ['Test.Echo', '{"truncated":', 'SerializationException'],
    ['Test.Echo', '[1,2]', 'SerializationException'],
    ['Test.Missing', '{}', 'UnknownOperationException'],
  ])('refuses %s %s as %s, and goes on serving', async (target, body, type) => {
    const response = await call(service.url, target, body);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { __type: string }).__type).toBe(type);
    expect((await call(service.url, 'Test.Echo', '{}')).status).toBe(200);
  });

  it('cuts off a body over 1 MB, and goes on serving', async () => {
    await expect(call(service.url, 'Test.Echo', new Uint8Array(2 * 1024 * 1024))).rejects.toThrow();
    expect((await call(service.url, 'Test.Echo', '{}')).status).toBe(200);
  });

  it('refuses an event for a bus that does not exist in the answer, as EventBridge does', async () => {
    const response = await call(
      bus.endpoint,
      'AWSEvents.PutEvents',
      JSON.stringify({
        Entries: [
          { EventBusName: 'docproc-tasks', Source: 'docproc', DetailType: 'Task Started', Detail: '{"a":1}' },
          { EventBusName: 'elsewhere', Source: 'docproc', DetailType: 'Task Started', Detail: '{}' },
          { EventBusName: 'docproc-tasks', Source: 'docproc', DetailType: 'Task Started', Detail: '{not json' },
        ],
      }),
    );
    const body = (await response.json()) as { FailedEntryCount: number; Entries: Array<{ ErrorCode?: string }> };
    expect(body.FailedEntryCount).toBe(2);
    expect(body.Entries.map((entry) => entry.ErrorCode)).toEqual([
      undefined,
      'ResourceNotFoundException',
      'MalformedDetail',
    ]);
    expect(bus.events().map((event) => event.detail)).toEqual([{ a: 1 }]);
  });
});
