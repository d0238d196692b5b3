/**
 * `hmmsim --version` and `--help` start fast because they load no command's modules: the modules the
 * bin loads, recorded by a module `load` hook, for each kind of command line. (The times are in
 * bench/startup.ts; this checks what makes them.) Runs the compiled bin (dist/, test/dist-setup.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'hmmsim-startup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const hooks = join(dir, 'hooks.mjs');
writeFileSync(
  hooks,
  "import { writeSync } from 'node:fs';\nexport async function load(url, context, next) {\n  if (url.startsWith('file:')) writeSync(2, 'loaded ' + url + '\\n');\n  return next(url, context);\n}\n",
);
const register = `data:text/javascript,import{register}from"node:module";register(${JSON.stringify(pathToFileURL(hooks).href)})`;

/** The files `hmmsim <args>` loads: its own as paths in the repo, dependencies as package names. */
function loadedBy(...args: string[]): { status: number | null; files: string[] } {
  const r = spawnSync(process.execPath, ['--import', register, 'bin/hmmsim.js', ...args], {
    encoding: 'utf8',
  });
  const root = pathToFileURL(process.cwd()).href;
  const files = [...r.stderr.matchAll(/^loaded (.*)$/gm)]
    .map((m) => m[1] as string)
    .filter((u) => u !== pathToFileURL(hooks).href)
    .map((u) => {
      const dep = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u);
      return dep ? (dep[1] as string) : u.replace(`${root}/`, '');
    });
  return { status: r.status, files: [...new Set(files)] };
}

/** What every command line loads: the bin, main.ts and its static imports (commander, picocolors). */
const CORE =
  'bin/hmmsim.js dist/cli/main.js dist/cli/color.js dist/cli/io.js dist/core/errno.js dist/core/version.js'
    .split(' ')
    .concat(['commander', 'picocolors']);

describe('start-up: what each command line loads', () => {
  it('--version, --help and help load commander and the CLI core only', () => {
    for (const args of [['--version'], ['--help'], ['help']]) {
      const r = loadedBy(...args);
      expect(r.status, args.join(' ')).toBe(0);
      expect(r.files.sort(), args.join(' ')).toEqual([...CORE].sort());
    }
  });

  it('demo --help loads the demo, the simulator and the report (plots, linkedom); not the explorer or the selftests', () => {
    const r = loadedBy('demo', '--help');
    expect(r.status).toBe(0);
    const demo = 'dist/cli/demo.js dist/demo/demo.js dist/report/index.js linkedom @observablehq/plot'.split(
      ' ',
    );
    for (const f of demo) expect(r.files, f).toContain(f);
    expect(r.files.filter((f) => /^dist\/(explore|selftests)\//.test(f))).toEqual([]);
  });

  it('explore --help and replay --help load the explorer, not the report; selftest --help the selftests only', () => {
    for (const cmd of ['explore', 'replay']) {
      const r = loadedBy(cmd, '--help');
      expect(r.status, cmd).toBe(0);
      expect(r.files, cmd).toContain('dist/explore/index.js');
      expect(
        r.files.filter((f) => /^dist\/(report|selftests|demo)\/|linkedom|plot/.test(f)),
        cmd,
      ).toEqual([]);
    }
    const r = loadedBy('selftest', '--help');
    expect(r.status).toBe(0);
    expect(r.files).toContain('dist/selftests/hmm_tests.js');
    expect(r.files.filter((f) => /^dist\/(report|explore|demo)\/|linkedom|plot/.test(f))).toEqual([]);
  });
});
