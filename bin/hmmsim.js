#!/usr/bin/env node
// The `hmmsim` command: runs src/cli/main.ts through tsx's ESM loader, so the package ships TypeScript
// sources only (no build step). `npm start` and `npm run hmmsim` start here too.
import { register } from 'tsx/esm/api';

register();
const { runAsProcess } = await import('../src/cli/main.ts');
await runAsProcess();
