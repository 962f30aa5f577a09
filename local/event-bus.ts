import { randomUUID } from 'node:crypto';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { startAwsJsonService } from './aws-json-service.js';
import { stopServiceThread, threadExecArgv } from './threads.js';

/**
 * EventBridge's PutEvents for the embedded stack: the functions' SDK client
 * posts to it (`AWS_ENDPOINT_URL_EVENTBRIDGE`) in the JSON protocol, and it
 * keeps what it is given for the monitor page and `GET /_local/events`. It
 * fails as EventBridge does where it can: an entry for a bus that does not
 * exist is refused in the answer (`FailedEntryCount`), not by an HTTP error,
 * and the IAM check (`events:PutEvents` on the bus) happens in the function's
 * client, as for the other services.
 */
export interface BusEvent {
  id: string;
  bus: string;
  source: string;
  'detail-type': string;
  time: string;
  detail: unknown;
}

export interface LocalEventBus {
  endpoint: string;
  /** The events put so far, oldest first (the last `keep` of them). */
  events(): BusEvent[];
  onEvent(listener: (event: BusEvent) => void): void;
  stop(): Promise<void>;
}

interface PutEventsEntry {
  EventBusName?: string;
  Source?: string;
  DetailType?: string;
  Detail?: string;
  Time?: number | string;
}

/** PutEvents' `Time` in the JSON protocol: epoch seconds (the SDK's serialisation), or a string. */
const timeOf = (time: PutEventsEntry['Time']): string =>
  typeof time === 'number'
    ? new Date(time * 1000).toISOString()
    : time
      ? new Date(time).toISOString()
      : new Date().toISOString();

export const startLocalEventBus = async (options: {
  busNames: readonly string[];
  host?: string;
  keep?: number;
}): Promise<LocalEventBus> => {
  const keep = options.keep ?? 10_000;
  const events: BusEvent[] = [];
  const listeners: Array<(event: BusEvent) => void> = [];

  const putEvents = (entries: PutEventsEntry[]) =>
    entries.map((entry) => {
      const bus = entry.EventBusName ?? 'default';
      if (!options.busNames.includes(bus)) {
        return { ErrorCode: 'ResourceNotFoundException', ErrorMessage: `Event bus ${bus} does not exist.` };
      }
      let detail: unknown;
      try {
        detail = JSON.parse(entry.Detail ?? '{}');
      } catch {
        return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
      }
      const event: BusEvent = {
        id: randomUUID(),
        bus,
        source: entry.Source ?? '',
        'detail-type': entry.DetailType ?? '',
        time: timeOf(entry.Time),
        detail,
      };
      events.push(event);
      if (events.length > keep) events.shift();
      for (const listener of listeners) listener(event);
      return { EventId: event.id };
    });

  const service = await startAwsJsonService(options.host ?? '127.0.0.1', {
    'AWSEvents.PutEvents': (input) => {
      const results = putEvents((input.Entries ?? []) as PutEventsEntry[]);
      return { FailedEntryCount: results.filter((result) => 'ErrorCode' in result).length, Entries: results };
    },
  });
  return {
    endpoint: service.url,
    events: () => [...events],
    onEvent: (listener) => listeners.push(listener),
    stop: () => service.close(),
  };
};

/**
 * The bus on its own thread (event-bus-thread.ts), its events mirrored here
 * for the monitor page and the tests.
 */
export const startLocalEventBusThread = async (options: {
  busNames: readonly string[];
  host?: string;
  keep?: number;
}): Promise<LocalEventBus> => {
  const keep = options.keep ?? 10_000;
  const entry = new URL(`./event-bus-thread${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
  const thread = new Worker(entry, {
    workerData: { busNames: [...options.busNames], host: options.host },
    execArgv: threadExecArgv(entry),
  });
  const events: BusEvent[] = [];
  const listeners: Array<(event: BusEvent) => void> = [];
  const endpoint = await new Promise<string>((resolve, reject) => {
    thread.once('error', reject);
    thread.on('message', (message: { type: string; endpoint?: string; event?: BusEvent }) => {
      if (message.type === 'ready') resolve(String(message.endpoint));
      if (message.type === 'event' && message.event) {
        events.push(message.event);
        if (events.length > keep) events.shift();
        for (const listener of listeners) listener(message.event);
      }
    });
  });
  return {
    endpoint,
    events: () => [...events],
    onEvent: (listener) => listeners.push(listener),
    stop: () => stopServiceThread(thread),
  };
};
