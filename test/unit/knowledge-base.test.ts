import { describe, expect, it } from 'vitest';
import {
  KB_SIDECAR_MAX_BYTES,
  kbDestinationsSchema,
  kbDestinationsVariable,
  parseKbDestinationFlag,
  type KbDestination,
} from '../../shared/knowledge-base.js';
import { parseOptions } from '../../lambdas/documents/options.js';
import { optionsFingerprint } from '../../lambdas/core/result-cache.js';
import { AppError } from '../../lambdas/errors.js';
import { checkDestination, destinationOf } from '../../lambdas/knowledge-base/destinations.js';
import {
  documentBody,
  documentKey,
  kbObjects,
  objectName,
  sidecarAttributes,
  sidecarBody,
} from '../../lambdas/knowledge-base/objects.js';
import type { Document } from '../../lambdas/documents/document.js';
import type { Task } from '../../lambdas/core/task.js';

const DESTINATION: KbDestination = { bucket: 'kb-docs', prefix: 'legal/', keys: ['key-a'] };
const TASK_ID = '0f8fad5b-d9cb-469f-a165-70867728950e';

const task = (overrides: Partial<Task> = {}): Pick<Task, 'task_id' | 'source' | 'batch' | 'options'> => ({
  task_id: TASK_ID,
  source: { type: 'upload', filename: 'Q3 report.pdf', size_bytes: 10 },
  options: parseOptions({ output_format: 'markdown', destination: 'kb:legal' }),
  ...overrides,
});

describe('knowledge-base destinations', () => {
  it('takes destination=kb:<name> as an option, and no other form', () => {
    expect(parseOptions({ destination: 'kb:legal' }).destination).toBe('kb:legal');
    expect(() => parseOptions({ destination: 's3://bucket/' })).toThrow(/destination: expected kb:<name>/);
    expect(() => parseOptions({ destination: 'kb:Legal Docs' })).toThrow(/destination/);
  });

  it('keeps the destination out of the result cache key: where a result goes is not what it is', () => {
    const plain = parseOptions({ split: true });
    expect(optionsFingerprint({ ...plain, destination: 'kb:legal' })).toBe(optionsFingerprint(plain));
  });

  it('lets a caller name only the destinations configured for its key, and lists only those when refusing', () => {
    const destinations = {
      legal: DESTINATION,
      shared: { ...DESTINATION, prefix: 'shared/', keys: ['*'] },
      other: { ...DESTINATION, prefix: 'other/', keys: ['key-b'] },
    };
    expect(destinationOf('kb:legal', 'key-a', destinations)?.name).toBe('legal');
    expect(destinationOf('kb:shared', 'anyone', destinations)?.name).toBe('shared');
    expect(destinationOf('kb:other', 'key-a', destinations)).toBeUndefined();
    // Inherited names are not destinations.
    expect(destinationOf('kb:constructor', 'key-a', destinations)).toBeUndefined();
    expect(() => checkDestination('kb:legal', 'key-a', destinations)).not.toThrow();
    expect(() => checkDestination(undefined, 'key-a', {})).not.toThrow();
    let refused: unknown;
    try {
      checkDestination('kb:other', 'key-a', destinations);
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(AppError);
    expect((refused as AppError).code).toBe('VALIDATION_ERROR');
    expect((refused as AppError).status).toBe(400);
    expect((refused as AppError).message).toContain('it may name: kb:legal, kb:shared');
    expect((refused as AppError).message).not.toContain('kb:other,');
    expect(() => checkDestination('kb:legal', 'key-z', { legal: DESTINATION })).toThrow(/none is configured/);
  });

  it('validates the operator configuration: bucket, prefix, keys, both ids or neither, attribute types and size', () => {
    expect(kbDestinationsSchema.parse({ a: { bucket: 'kb-docs', keys: ['*'] } }).a?.prefix).toBe('');
    for (const bad of [
      { bucket: 'Not_A_Bucket', keys: ['*'] },
      { bucket: 'kb-docs', prefix: 'no-slash', keys: ['*'] },
      { bucket: 'kb-docs', keys: [] },
      { bucket: 'kb-docs', keys: ['*'], knowledgeBaseId: 'ABCDEFGHIJ' },
      { bucket: 'kb-docs', keys: ['*'], attributes: { team: { nested: true } } },
      { bucket: 'kb-docs', keys: ['*'], attributes: { team: 'x'.repeat(1100) } },
      { bucket: 'kb-docs', keys: ['*'], attributes: { team: '' } },
    ]) {
      expect(kbDestinationsSchema.safeParse({ a: bad }).success, JSON.stringify(bad)).toBe(false);
    }
    expect(kbDestinationsSchema.safeParse({ 'Bad Name': { bucket: 'kb-docs', keys: ['*'] } }).success).toBe(false);
    expect(kbDestinationsVariable.parse('')).toEqual({});
    expect(() => kbDestinationsVariable.parse('{not json')).toThrow(/expected JSON/);
  });

  it('reads --kb-destination NAME=s3://BUCKET/PREFIX/ as a destination every local caller may name', () => {
    expect(parseKbDestinationFlag('docs=s3://kb-docs/reference/set')).toEqual([
      'docs',
      { bucket: 'kb-docs', prefix: 'reference/set/', keys: ['*'] },
    ]);
    expect(parseKbDestinationFlag('docs=s3://kb-docs')[1].prefix).toBe('');
    expect(() => parseKbDestinationFlag('docs=/tmp/x')).toThrow(/NAME=s3:\/\/BUCKET/);
    expect(() => parseKbDestinationFlag('Docs=s3://kb-docs/')).toThrow(/not a destination name/);
  });
});

describe('knowledge-base objects', () => {
  it("names the document after the upload, under the task's own folder, with the output's extension", () => {
    expect(objectName('Q3 report.pdf', 'md')).toBe('Q3 report.md');
    expect(objectName('../../etc/passwd', 'txt')).toBe('passwd.txt');
    expect(objectName('a?b#c%d*e.docx', 'md')).toBe('a_b_c_d_e.md');
    expect(objectName('报告.pdf', 'md')).toBe('报告.md');
    expect(objectName('.pdf', 'md')).toBe('document.md');
    expect(objectName('x'.repeat(400), 'md').length).toBeLessThanOrEqual(153);
    expect(documentKey(DESTINATION, task(), 'md')).toBe(`legal/${TASK_ID}/Q3 report.md`);
  });

  it('puts chunks back together without repeating their overlaps, and keeps separate documents apart', () => {
    const text = 'The quick brown fox jumps over the lazy dog.';
    const chunks: Document[] = [
      { page_content: text.slice(0, 20), metadata: { page: 1, start_index: 0 } },
      { page_content: text.slice(15, 35), metadata: { page: 1, start_index: 15 } },
      { page_content: text.slice(30), metadata: { page: 1, start_index: 30 } },
      { page_content: 'Second page.', metadata: { page: 2, start_index: 0 } },
    ];
    expect(documentBody(chunks)).toBe(`${text}\n\nSecond page.`);
    const pages: Document[] = [
      { page_content: 'One', metadata: { page: 1 } },
      { page_content: '', metadata: { page: 2 } },
      { page_content: 'Three', metadata: { page: 3 } },
    ];
    expect(documentBody(pages)).toBe('One\n\nThree');
  });

  it("writes the KB's sidecar format: metadataAttributes of strings, numbers and booleans, the service's names winning", () => {
    const objects = kbObjects(
      { ...task(), batch: { id: 'b-1', shard: 0, position: 3 } },
      'https://example.com/Q3 report.pdf',
      {
        format: 'pdf',
        stats: { bytes: 10, pages: 2, characters: 20 },
        documents: [{ page_content: '# Q3', metadata: { page: 1, title: 'Quarterly report' } }],
      },
      { ...DESTINATION, attributes: { team: 'legal', task_id: 'spoofed', tags: ['a', 'b'] } },
      new Date('2026-12-07T12:00:00Z'),
    );
    expect(objects.document).toMatchObject({ key: `legal/${TASK_ID}/Q3 report.md`, body: '# Q3' });
    expect(objects.document.contentType).toMatch(/^text\/markdown/);
    expect(objects.sidecar.key).toBe(`legal/${TASK_ID}/Q3 report.md.metadata.json`);
    const sidecar = JSON.parse(objects.sidecar.body) as { metadataAttributes: Record<string, unknown> };
    expect(Object.keys(sidecar)).toEqual(['metadataAttributes']);
    expect(sidecar.metadataAttributes).toEqual({
      team: 'legal',
      tags: ['a', 'b'],
      task_id: TASK_ID,
      source: 'https://example.com/Q3 report.pdf',
      filename: 'Q3 report.pdf',
      format: 'pdf',
      batch_id: 'b-1',
      pages: 2,
      characters: 20,
      title: 'Quarterly report',
      processed_at: Date.parse('2026-12-07T12:00:00Z') / 1000,
    });
    for (const value of Object.values(sidecar.metadataAttributes)) {
      const ok =
        ['string', 'number', 'boolean'].includes(typeof value) ||
        (Array.isArray(value) && value.every((item) => typeof item === 'string'));
      expect(ok, JSON.stringify(value)).toBe(true);
    }
    const text = kbObjects(
      { ...task(), options: parseOptions({}) },
      's',
      { format: 'text', stats: { bytes: 1, characters: 1 }, documents: [] },
      DESTINATION,
      new Date(),
    );
    expect(text.document.key).toMatch(/\.txt$/);
  });

  it('keeps every sidecar within the KB limits: values at most 2,048 characters, the file at most 10 KB', () => {
    const long = 'x'.repeat(5000);
    const attributes = sidecarAttributes(
      { ...task(), source: { type: 'url', url: long, filename: long } },
      long,
      {
        format: 'html',
        stats: { bytes: 1, characters: 1 },
        documents: [{ page_content: 'a', metadata: { title: long } }],
      },
      { ...DESTINATION, attributes: { note: 'y'.repeat(900) } },
      new Date(),
    );
    for (const value of Object.values(attributes))
      if (typeof value === 'string') expect(value.length).toBeLessThanOrEqual(2048);
    expect(Buffer.byteLength(sidecarBody(attributes))).toBeLessThanOrEqual(KB_SIDECAR_MAX_BYTES);
    // Absent values are left out: the KB refuses empty strings.
    const bare = sidecarAttributes(
      task(),
      'Q3 report.pdf',
      { format: 'pdf', stats: { bytes: 1, characters: 0 }, documents: [] },
      DESTINATION,
      new Date(),
    );
    expect(Object.values(bare)).not.toContain('');
    expect(bare).not.toHaveProperty('title');
    expect(bare).not.toHaveProperty('batch_id');
  });
});
