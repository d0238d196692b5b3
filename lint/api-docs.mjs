#!/usr/bin/env node
// Builds the API reference (typedoc.json: src/index.ts -> site/api/) and gates it for CI (issue 14).
// Fails on any TypeDoc error or warning: a public export (or a member of one) without a doc comment, a
// broken {@link}, a public type referencing an unexported one. typedoc.json sets
// treatValidationWarningsAsErrors, so TypeDoc itself also exits non-zero on them. Everything is reported
// on stderr; nothing on stdout.
// typedoc.json's intentionallyNotExported names the types a public signature may mention unexported: the
// explorer's private scenario state (OneDevice, TwoDevices, ForkState), and src/drivers/driver.ts's
// DriverFactory, whose name the explorer's own exported DriverFactory already takes in src/index.ts.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const typedoc = join(dirname(createRequire(import.meta.url).resolve('typedoc/package.json')), 'bin/typedoc');
const run = spawnSync(process.execPath, [typedoc], {
  encoding: 'utf8',
  env: { ...process.env, NO_COLOR: '1' },
});
// biome-ignore lint/suspicious/noControlCharactersInRegex: strips the ANSI colour codes TypeDoc may add
const lines = `${run.stdout}${run.stderr}`.replace(/\x1b\[[0-9;]*m/g, '').split('\n');

const problems = lines.filter(
  (line) =>
    /^\[(warning|error)\]/.test(line) && !/^\[(warning|error)\] Found \d+ errors and \d+ warnings/.test(line),
);
const undocumented = problems.filter((line) => line.includes('does not have any documentation')).length;
if (run.status !== 0 && problems.length === 0) problems.push(`typedoc exited with status ${run.status}`);
for (const p of problems) console.error(`docs:api: ${p}`);
if (undocumented > 0) {
  console.error(
    `docs:api: ${undocumented} public exports (or members) lack a doc comment. Every export of src/index.ts is ` +
      'documented: write one or two lines saying what it is and means (kernel name and @see for a kernel ' +
      'concept, units, what -errno or null means), not the identifier restated; or stop exporting it.',
  );
}
console.error(
  `docs:api: ${problems.length === 0 ? 'site/api built' : 'FAILED'}; ${problems.length} problems`,
);
process.exit(problems.length > 0 ? 1 : 0);
