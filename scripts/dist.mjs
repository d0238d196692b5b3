// Whether dist/ (tsc's output, what the CLI and the package run) was built after the last change to
// src/: the tests that run bin/hmmsim.js rebuild when it was not (test/dist-setup.ts), and
// bench:explore measures dist/ only when it was.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The newest modification time of a file under `dir` (ms). */
function newestMtime(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) newest = Math.max(newest, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return newest;
}

/** When dist/ was last built (dist/.tsbuildinfo), or -1 if it never was. */
function builtAt() {
  try {
    return statSync('dist/.tsbuildinfo').mtimeMs;
  } catch {
    return -1;
  }
}

/** True when dist/ was built after every file under src/ last changed. */
export function distIsFresh() {
  return builtAt() >= newestMtime('src');
}
