/**
 * The document service's TypeScript SDK: `DocprocClient`, its types and
 * errors, and webhook verification. Node's built-ins only (fetch, fs,
 * crypto), so it can be published as a package of its own.
 */
export * from './client.js';
export * from './webhooks.js';
