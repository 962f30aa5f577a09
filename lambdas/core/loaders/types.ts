import type { Document } from '../document.js';
import type { ProcessingLimits } from '../limits.js';

export interface LoadInput {
  bytes: Uint8Array;
  filename: string;
  /** What `metadata.source` says: the file name, URL or s3 URI. */
  source: string;
  contentType?: string | undefined;
  limits: ProcessingLimits;
  /** Aborted on cancellation or when the time budget runs out; its reason is thrown. */
  signal?: AbortSignal | undefined;
  /** Fraction (0–1) of the loading done so far. */
  onProgress?: ((fraction: number) => void) | undefined;
}

export interface Loaded {
  documents: Document[];
  /** Pages in the file, for formats that have them. */
  pages?: number;
}

export type Loader = (input: LoadInput) => Promise<Loaded>;

export const baseMetadata = (input: LoadInput) => ({ source: input.source, filename: input.filename });
