/**
 * Vitest global setup: the tests that spawn bin/hmmsim.js, or pack the package, run the compiled
 * dist/. `npm install` builds it (`prepare`); this rebuilds it (`npm run build`, incremental) only when
 * a file under src/ is newer than the last build, so a test never runs a stale bin after an edit.
 */
import { execFileSync } from 'node:child_process';
import { distIsFresh } from '../scripts/dist.mjs';

export default function setup(): void {
  if (distIsFresh()) return;
  execFileSync('npm', ['run', '-s', 'build'], { stdio: 'inherit' });
}
