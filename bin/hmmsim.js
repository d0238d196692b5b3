#!/usr/bin/env node
// The `hmmsim` command: the compiled CLI in dist/ (built by `npm run build`, which `npm install` runs
// through `prepare`), so it starts with plain node and no TypeScript loader.
const { runAsProcess } = await import('../dist/cli/main.js');
await runAsProcess();
