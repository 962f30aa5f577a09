/**
 * The Node options a thread of the embedded stack starts with: tsx when its
 * entry is TypeScript source (`npm start`, the tests), nothing else of this
 * process's own (a bundle needs no flags).
 */
export const threadExecArgv = (entry: URL): string[] => (entry.pathname.endsWith('.ts') ? ['--import', 'tsx'] : []);
