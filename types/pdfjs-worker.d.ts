// pdfjs-dist ships no declaration for its worker module; pdf-runtime.ts only
// hands the module object to pdf.js.
declare module 'pdfjs-dist/legacy/build/pdf.worker.mjs' {
  export const WorkerMessageHandler: unknown;
}
