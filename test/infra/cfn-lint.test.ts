import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureSynth } from '../support/synth.js';

/**
 * cfn-lint (AWS's CloudFormation linter, a Python tool these machines have)
 * on the synthesized template: what CloudFormation would refuse, or do other
 * than meant, before a deploy finds out. Zero findings, with one rule off:
 * W3005 flags the DependsOn the CDK puts on each function's role next to the
 * GetAtt of it (a redundant but harmless ordering the CDK controls).
 */
const IGNORED = ['W3005'];
let template: string;

beforeAll(async () => {
  template = join(await ensureSynth(inject('runId')), 'DocProc.template.json');
});

describe('cfn-lint', () => {
  it('finds nothing in the synthesized template', () => {
    let output: string;
    try {
      output = execFileSync('cfn-lint', [template, '--format', 'json', '--ignore-checks', ...IGNORED], {
        encoding: 'utf8',
      });
    } catch (error) {
      const failure = error as NodeJS.ErrnoException & { stdout?: string };
      if (failure.code === 'ENOENT')
        throw new Error('cfn-lint is not installed (pip install cfn-lint)', { cause: error });
      output = failure.stdout ?? '[]';
    }
    const findings = (JSON.parse(output) as Array<{ Level: string; Message: string; Rule: { Id: string } }>).map(
      (finding) => `${finding.Rule.Id} ${finding.Level}: ${finding.Message}`,
    );
    expect(findings).toEqual([]);
  });
});
