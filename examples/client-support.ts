/** Shared by the examples: where the API is, and how to call it. */
export const API = (process.env.DOCPROC_URL ?? 'http://localhost:8000/documents/async').replace(/\/$/, '');

export const headers = (extra: Record<string, string> = {}): Record<string, string> =>
  process.env.DOCPROC_API_KEY ? { 'x-api-key': process.env.DOCPROC_API_KEY, ...extra } : extra;

export interface Task {
  task_id: string;
  status: string;
  progress: number;
  stage: string;
  attempts: number;
  error?: { code: string; message: string };
  result?: {
    document_count: number;
    documents?: Array<{ page_content: string; metadata: Record<string, unknown> }>;
    result_url?: string;
  };
}

export const call = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
  const response = await fetch(`${API}${path}`, {
    ...init,
    headers: { ...headers(), ...(init.headers as Record<string, string>) },
  });
  const body = (await response.json()) as T & { error?: { code: string; message: string } };
  if (!response.ok)
    throw new Error(`${init.method ?? 'GET'} ${path}: ${response.status} ${body.error?.code}: ${body.error?.message}`);
  return body;
};

/** Polls a task until it finishes, printing a progress line. */
export const waitForTask = async (taskId: string, intervalMs = 500): Promise<Task> => {
  for (;;) {
    const task = await call<Task>(`/tasks/${taskId}`);
    process.stdout.write(`\r${task.status.padEnd(15)} ${String(task.progress).padStart(3)}% ${task.stage.padEnd(10)}`);
    if (['SUCCESS', 'FAILURE', 'REVOKED'].includes(task.status)) {
      process.stdout.write('\n');
      return task;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
};
