import { join } from 'node:path';
import { parseCircular, parseDependencyTree } from 'dpdm';
import { describe, expect, it } from 'vitest';

/**
 * The house's rules that the type checker and eslint cannot see across
 * files: no module imports itself back through others (the runtime, the
 * shared definitions, the infrastructure and the embedded stack), type-only
 * imports counted too (`transform: false`: a type circle is a circle of concerns). (Which
 * folder may import which, and where status changes are made, are eslint
 * rules: see eslint.config.js.)
 */
const ROOT = join(import.meta.dirname, '..', '..');

describe('architecture', () => {
  it('has no import circle', async () => {
    const tree = await parseDependencyTree(['lambdas/**/*.ts', 'shared/**/*.ts', 'lib/**/*.ts', 'local/**/*.ts'], {
      context: ROOT,
      transform: false,
      skipDynamicImports: false,
    });
    expect(parseCircular(tree)).toEqual([]);
  });
});
