#!/usr/bin/env node
// `npx docproc` runs a bin entry with plain node, and the CLI is TypeScript: register tsx's loader
// (a devDependency of this repository) in this process, then load the CLI, so stdio, the TTY and
// the exit code are the CLI's own, with no child process in between.
import { register } from 'tsx/esm/api';

register();
await import('./docproc.ts');
