#!/usr/bin/env node
// The `raftlab` command: runs the TypeScript sources directly through tsx.
import { register } from 'tsx/esm/api';

register();
await import('../src-main/cli.ts');
