import type { EventSink } from '../../lambdas/core/ports.js';
import type { Task, TaskEvent } from '../../lambdas/core/task.js';

/** An event sink that keeps what it is sent; `failing` makes every send throw (a bus that is down). */
export const recordingEvents = (options: { failing?: boolean } = {}) => {
  const sent: Array<{ task: Task; event: TaskEvent }> = [];
  const sink: EventSink = {
    send: async (task, event) => {
      if (options.failing) throw new Error('injected: the bus is down');
      sent.push({ task, event });
    },
  };
  return { sink, sent };
};
