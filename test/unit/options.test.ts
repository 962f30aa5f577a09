import { describe, expect, it } from 'vitest';
import { AppError } from '../../lambdas/errors.js';
import { parseOptions } from '../../lambdas/documents/options.js';

const failure = (input: unknown): AppError => {
  try {
    parseOptions(input);
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('expected a validation error');
};

describe('parseOptions', () => {
  it('applies the defaults', () => {
    expect(parseOptions({})).toEqual({ split: false, chunk_size: 1000, chunk_overlap: 200 });
  });

  it.each([
    [true, true],
    [false, false],
    ['True', true],
    ['true', true],
    ['TRUE', true],
    ['1', true],
    ['yes', true],
    ['on', true],
    ['False', false],
    ['0', false],
    ['no', false],
    ['off', false],
    [' True ', true],
  ])('reads split=%j as %s', (split, expected) => {
    expect(parseOptions({ split }).split).toBe(expected);
  });

  it.each(['maybe', '', 'tru', 2, null])('rejects split=%j naming the field', (split) => {
    const error = failure({ split });
    expect(error.code).toBe('VALIDATION_ERROR');
    expect(error.status).toBe(400);
    expect(error.message).toContain('split');
  });

  it('reads integers from JSON numbers and form strings', () => {
    expect(parseOptions({ chunk_size: '500', chunk_overlap: '50' })).toMatchObject({
      chunk_size: 500,
      chunk_overlap: 50,
    });
    expect(parseOptions({ chunk_size: 1, chunk_overlap: 0 })).toMatchObject({ chunk_size: 1, chunk_overlap: 0 });
    expect(parseOptions({ chunk_size: 100000, chunk_overlap: 99999 })).toMatchObject({ chunk_size: 100000 });
  });

  it.each([
    [{ chunk_size: 0 }, 'chunk_size'],
    [{ chunk_size: 100001 }, 'chunk_size'],
    [{ chunk_size: 5.5 }, 'chunk_size'],
    [{ chunk_size: '5.5' }, 'chunk_size'],
    [{ chunk_size: 'abc' }, 'chunk_size'],
    [{ chunk_size: '' }, 'chunk_size'],
    [{ chunk_overlap: -1 }, 'chunk_overlap'],
    [{ chunk_size: 100, chunk_overlap: 100 }, 'chunk_overlap'],
    [{ chunk_size: 100, chunk_overlap: 150 }, 'chunk_overlap'],
  ])('rejects %j naming %s', (input, field) => {
    const error = failure(input);
    expect(error.code).toBe('VALIDATION_ERROR');
    expect(error.message).toContain(field);
    expect(error.details).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
  });

  it('says when the overlap that is too large is the default', () => {
    expect(failure({ chunk_size: 100 }).message).toContain('chunk_overlap (the default) is 200');
  });
});
