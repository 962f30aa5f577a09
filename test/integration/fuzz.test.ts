import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpCase, runHttpCase } from '../../fuzz/http.js';
import { prng } from '../../fuzz/random.js';
import { isRemote, startTarget, type Target } from '../support/target.js';

/** A bounded, seeded run of the HTTP-boundary fuzzer against the embedded stack (`npm run fuzz` runs it longer). */
const CASES = 400;
let target: Target;
beforeAll(async () => {
  if (!isRemote()) target = await startTarget();
});
afterAll(async () => target?.stop());

describe.skipIf(isRemote())('fuzzing the HTTP boundary (seeded)', () => {
  it(`answers ${CASES} mutated requests without a 5xx, in the error shape, and stays up`, async () => {
    const random = prng(1128);
    const statuses = new Map<number, number>();
    for (let index = 0; index < CASES; index++) {
      const input = httpCase(random);
      const verdict = await runHttpCase(target.apiUrl, input);
      expect(verdict, `${input.name} ${input.path}`).toMatchObject({ ok: true });
      if (verdict.ok) statuses.set(verdict.status, (statuses.get(verdict.status) ?? 0) + 1);
    }
    expect([...statuses.keys()].some((status) => status < 300)).toBe(true);
    expect([...statuses.keys()].some((status) => status >= 400)).toBe(true);
    expect((await fetch(`${target.apiUrl}/tasks`)).status).toBe(200);
  });
});
