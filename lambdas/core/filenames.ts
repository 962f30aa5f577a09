/**
 * File names are data: shown back to the client and put in metadata, never
 * used to build a path or an object key (keys are `…/{task_id}/input`). This
 * keeps what is shown readable and safe to put in a header or a log line.
 */
export const MAX_FILENAME_LENGTH = 255;

export const cleanFilename = (raw: string | undefined, fallback = 'document'): string => {
  const base = (raw ?? '').split(/[\\/]/).pop() ?? '';
  const cleaned = base
    // Control characters (C0, DEL, C1) and bidi overrides would corrupt logs and headers.
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, '')
    .trim()
    .replace(/^\.+$/, '');
  const name = cleaned || fallback;
  if (name.length <= MAX_FILENAME_LENGTH) return name;
  const extension = /\.[A-Za-z0-9]{1,10}$/.exec(name)?.[0] ?? '';
  return name.slice(0, MAX_FILENAME_LENGTH - extension.length) + extension;
};

/** A file name for a URL source: its last path segment, else its host. */
export const filenameFromUrl = (url: URL): string => {
  const last = url.pathname.split('/').filter(Boolean).pop() ?? '';
  let segment = last;
  try {
    segment = decodeURIComponent(last);
  } catch {
    // keep the raw segment when its percent-encoding is broken
  }
  return cleanFilename(segment, url.hostname);
};
