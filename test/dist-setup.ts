/**
 * Vitest global setup: the tests that spawn bin/hmmsim.js, or pack the package, run the compiled
 * dist/. `npm install` builds it (`prepare`); this rebuilds it (`npm run build`, incremental) only when
 * a file under src/ is newer than the last build, so a test never runs a stale bin after an edit.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The newest modification time of a file under `dir` (ms). */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) newest = Math.max(newest, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return newest;
}

function builtAt(): number {
  try {
    return statSync('dist/.tsbuildinfo').mtimeMs;
  } catch {
    return -1;
  }
}

export default function setup(): void {
  if (builtAt() >= newestMtime('src')) return;
  execFileSync('npm', ['run', '-s', 'build'], { stdio: 'inherit' });
}
