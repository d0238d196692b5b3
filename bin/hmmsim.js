#!/usr/bin/env node
// The `hmmsim` command: runs src/cli/main.ts through tsx's ESM loader, so the package ships TypeScript
// sources only (no build step).
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
