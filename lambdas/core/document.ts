import type { ErrorCode } from './errors.js';

export type Metadata = Record<string, string | number | boolean | null>;

/** A LangChain-style document. */
export interface Document {
  page_content: string;
  metadata: Metadata;
}

export interface ResultWarning {
  code: 'NO_TEXT' | 'TRUNCATED';
  message: string;
}

export const DOCUMENT_FORMATS = ['pdf', 'docx', 'html', 'text'] as const;
export type DocumentFormat = (typeof DOCUMENT_FORMATS)[number];

/** The `result` object of a successful task (API.md, "Processing result"). */
export interface ProcessingResult {
  status: 'success';
  filename: string;
  format: DocumentFormat;
  document_count: number;
  documents: Document[];
  warnings: ResultWarning[];
  stats: { bytes: number; pages?: number; characters: number };
}

export interface FailureBody {
  status: 'failure';
  error: { code: ErrorCode; message: string; retryable: boolean };
}

/** A result without its documents. */
export type ResultHeadline = Omit<ProcessingResult, 'documents'>;

export const headlineOf = ({ documents: _documents, ...headline }: ProcessingResult): ResultHeadline => headline;
