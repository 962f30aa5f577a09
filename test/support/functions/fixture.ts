/**
 * A function for the local runtime's own tests: what it does comes from the
 * event (`action`), or from FIXTURE_MODE for events it does not shape (API
 * Gateway proxy events).
 */
import { randomUUID } from 'node:crypto';

/** Different in every execution environment: tells a reused instance from a new one. */
const instance = randomUUID();
const held: object[] = [];

/** Set while an invocation runs: a second one in the same environment at the same time would see it. */
let busy = false;

interface FixtureEvent {
  action?: 'echo' | 'sleep' | 'exclusive' | 'throw' | 'uncaught' | 'big-response' | 'exhaust-heap';
  ms?: number;
}

export const handler = async (event: FixtureEvent, context: { getRemainingTimeInMillis(): number }) => {
  const action = event.action ?? process.env.FIXTURE_MODE;
  switch (action) {
    case 'sleep':
      await new Promise((resolve) => setTimeout(resolve, event.ms ?? 60_000));
      return { slept: true, instance };
    case 'exclusive': {
      if (busy) throw new Error('two invocations at once in one environment');
      busy = true;
      await new Promise((resolve) => setTimeout(resolve, event.ms ?? 100));
      busy = false;
      return { instance };
    }
    case 'throw':
      throw new TypeError('thrown by the handler');
    case 'uncaught':
      // An error thrown outside the handler's promise, as a stream's 'error' event without a listener throws.
      setImmediate(() => {
        throw new Error('escaped the handler');
      });
      return new Promise(() => {});
    case 'big-response':
      return 'x'.repeat(7 * 1024 * 1024);
    case 'exhaust-heap':
      for (;;) held.push({ index: held.length });
    case 'proxy':
      return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' };
    default:
      return {
        instance,
        visible: process.env.FIXTURE_VALUE,
        leaked: process.env.LEAK_CHECK,
        remaining: context.getRemainingTimeInMillis(),
      };
  }
};
