import { partKey, type ResultDelivery, type Task, type TaskFanOut } from './task.js';

/** The fan-out a task shows: parts and pages to recognise, and how many of each are done. */
export const fanOutView = (fanOut: TaskFanOut) => ({
  parts: fanOut.parts.length,
  parts_done: fanOut.parts.filter((_, index) => partKey(index) in fanOut.done).length,
  ocr_pages: fanOut.ocr_pages.reduce((sum, count) => sum + count, 0),
  ocr_pages_done: Object.values(fanOut.done).reduce((sum, count) => sum + count, 0),
});

/** The public `source` of a task: what the client gave, never internal locations. */
const sourceView = (source: Task['source']) => {
  switch (source.type) {
    case 'upload':
    case 'presigned':
      return { type: source.type, filename: source.filename, size_bytes: source.size_bytes };
    case 'url':
      return { type: 'url', url: source.url, filename: source.filename };
    case 's3':
      return { type: 's3', uri: source.uri, filename: source.filename };
  }
};

/** A task as `GET tasks/{id}` and the list show it, without `result`. */
export const taskSummary = (task: Task) => ({
  task_id: task.task_id,
  status: task.status,
  progress: task.progress,
  stage: task.stage,
  source: sourceView(task.source),
  options: task.options,
  attempts: task.attempts,
  created_at: task.created_at,
  ...(task.started_at ? { started_at: task.started_at } : {}),
  ...(task.finished_at ? { finished_at: task.finished_at } : {}),
  // Only when served from the result cache: every other view stays as it was.
  ...(task.cached ? { cached: true } : {}),
  updated_at: task.updated_at,
  expires_at: task.expires_at,
  ...(task.status === 'AWAITING_UPLOAD' && task.upload_expires_at ? { upload_expires_at: task.upload_expires_at } : {}),
  ...(task.status === 'FAILURE' && task.error ? { error: task.error } : {}),
  // Only while (and after) the run read its document in parts: how many parts and pages to recognise are done.
  ...(task.fan_out ? { fan_out: fanOutView(task.fan_out) } : {}),
  // Only with the `destination` option: where the document and its metadata sidecar were written.
  ...(task.result?.delivered ? { delivered: deliveredView(task.result.delivered) } : {}),
});

const deliveredView = (delivered: ResultDelivery) => ({
  destination: delivered.destination,
  document: `s3://${delivered.bucket}/${delivered.document_key}`,
  metadata: `s3://${delivered.bucket}/${delivered.sidecar_key}`,
});

export type TaskSummary = ReturnType<typeof taskSummary>;
