#!/usr/bin/env node
// Bundles the viewer page's script (src/viewer/client/main.ts) into dist/viewer/client.js, which
// src/viewer/page.ts inlines into every viewer page. esbuild-wasm: esbuild compiled to WebAssembly,
// so `npm ci` downloads no platform binary and runs no install script (docs/viewer.md).
import { build } from 'esbuild-wasm';

await build({
  entryPoints: ['src/viewer/client/main.ts'],
  bundle: true,
  format: 'iife',
  minify: true,
  legalComments: 'none',
  target: ['chrome120', 'firefox120'],
  outfile: 'dist/viewer/client.js',
  logLevel: 'warning',
});
