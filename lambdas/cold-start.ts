/** A value built on first use and kept: what a function builds once per cold start (its dependencies). */
export const once = <T>(build: () => T): (() => T) => {
  let value: T | undefined;
  return () => (value ??= build());
};
