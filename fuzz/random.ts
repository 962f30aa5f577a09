/** mulberry32: a small seeded PRNG, so that a run is repeatable from its seed. */
export const prng = (seed: number) => {
  let state = seed | 0;
  const next = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (max: number) => Math.floor(next() * max);
  return {
    next,
    int,
    pick: <T>(items: readonly T[]): T => items[int(items.length)] as T,
    bytes: (length: number) => Uint8Array.from({ length }, () => int(256)),
    chance: (probability: number) => next() < probability,
  };
};

export type Random = ReturnType<typeof prng>;
