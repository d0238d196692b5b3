/**
 * The package as a user gets it: `npm pack`, the tarball installed into a scratch project that has no
 * TypeScript and no tsx, and there plain Node ESM imports the root and runs the README's library
 * example, the installed bin answers `--version` and runs a small demo, and the repo's own `tsc`
 * type-checks a TS consumer (the README's device-kernel example) against the shipped declarations.
 *
 * dist/ is fresh (test/dist-setup.ts), so the pack skips `prepare`. Installing the tarball's
 * dependencies reads the npm cache first (--prefer-offline); about 20 s in all.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = resolve('.');
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { name: string; version: string };
const dir = mkdtempSync(join(tmpdir(), 'hmmsim-pack-'));
const project = join(dir, 'consumer');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface PackedFile {
  path: string;
  size: number;
}
let packed: { filename: string; size: number; unpackedSize: number; files: PackedFile[] };

function run(cmd: string, args: readonly string[], cwd = project): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', CI: '1' } });
}

/** The body of the first ```ts block after `heading` in the README. */
function readmeBlock(heading: string): string {
  const readme = readFileSync('README.md', 'utf8');
  const from = readme.indexOf(heading);
  expect(from, heading).toBeGreaterThan(0);
  const m = /```ts\n([\s\S]*?)```/.exec(readme.slice(from));
  return (m as RegExpExecArray)[1] as string;
}

beforeAll(() => {
  const out = run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], REPO);
  packed = (JSON.parse(out) as (typeof packed)[])[0] as typeof packed;
  mkdirSync(project);
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  );
  run('npm', [
    'install',
    '--prefer-offline',
    '--no-audit',
    '--no-fund',
    '--ignore-scripts',
    join(dir, packed.filename),
  ]);
}, 180_000);

describe('npm pack', () => {
  it('ships dist/, the bin, docs and examples: no sources, tests, benchmarks or build info', () => {
    const paths = packed.files.map((f) => f.path);
    for (const p of [
      'package.json',
      'README.md',
      'LICENSE',
      'bin/hmmsim.js',
      'dist/index.js',
      'dist/index.d.ts',
    ])
      expect(paths, p).toContain(p);
    expect(paths).toContain('dist/cli/main.js');
    // No source maps: they would point into src/, which is not shipped (a bundler warns on a missing map).
    expect(paths.filter((p) => p.endsWith('.map'))).toEqual([]);
    expect(paths.filter((p) => /^(src|test|bench|lint|\.ci|node_modules)\//.test(p))).toEqual([]);
    expect(paths.filter((p) => p.endsWith('.tsbuildinfo') || p.startsWith('tsconfig'))).toEqual([]);
    // Every .ts file shipped is a declaration, or an example the docs point at.
    expect(
      paths.filter((p) => p.endsWith('.ts') && !p.endsWith('.d.ts') && !p.startsWith('examples/')),
    ).toEqual([]);
  });

  it('stays small: under 1 MiB packed, 4 MiB unpacked', () => {
    expect(packed.size).toBeLessThan(1 << 20);
    expect(packed.unpackedSize).toBeLessThan(4 << 20);
  });

  it('installs without TypeScript or tsx', () => {
    const lock = JSON.parse(readFileSync(join(project, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, unknown>;
    };
    const installed = Object.keys(lock.packages);
    expect(installed).toContain('node_modules/hmmsim');
    expect(installed.filter((p) => /node_modules\/(typescript|tsx|esbuild|vitest)$/.test(p))).toEqual([]);
  });
});

describe('the installed package', () => {
  it("plain node imports the root and runs the README's library example", () => {
    // Each call the README annotates (`p.read(a, 3);  // ...`) is recorded, and printed as JSON.
    const example = readmeBlock('## Using it as a library')
      .split('\n')
      .map((line) =>
        line.replace(/^((?:fd|p)\.(\w+)\(.*\));(\s+\/\/.*)$/, (_m, call: string, name: string, c: string) => {
          return `results.push([${JSON.stringify(name)}, ${call}]);${c}`;
        }),
      )
      .join('\n');
    const script = `const results = [];\n${example}\nconsole.log(JSON.stringify(results.map(([n, r]) =>
      [n, r instanceof Uint8Array ? Array.from(r) : r?.cpages !== undefined ? { cpages: r.cpages, faults: r.faults } : r?.kind ?? r ?? null])));\n`;
    writeFileSync(join(project, 'readme.mjs'), script);
    const results = JSON.parse(run(process.execPath, ['readme.mjs']));
    expect(results).toEqual([
      ['write', null],
      ['read', { cpages: 1024, faults: 1 }],
      ['migrate', { cpages: 1024, faults: 0 }],
      ['read', [1, 2, 3]],
      ['pte', 'present'],
    ]);
  });

  it('npx hmmsim --version prints the package version', () => {
    expect(run('npx', ['--no-install', 'hmmsim', '--version'])).toBe(`${pkg.version}\n`);
  });

  it('npx hmmsim demo --no-report --json runs a small demo: one JSON document, ok', () => {
    const out = run('npx', [
      '--no-install',
      'hmmsim',
      'demo',
      '--no-report',
      '--json',
      '--list-nodes',
      '2000',
      '--tree-nodes',
      '2000',
      '--lookups',
      '100',
    ]);
    const doc = JSON.parse(out) as {
      ok: boolean;
      seed: number;
      version: string;
      counters: { faults: number };
    };
    expect(doc.ok).toBe(true);
    expect(doc.seed).toBe(1);
    expect(doc.version).toBe(pkg.version);
    expect(doc.counters.faults).toBeGreaterThan(0);
  });

  it("the repo's tsc type-checks a TS consumer (README's device-kernel example) against the shipped declarations", () => {
    writeFileSync(join(project, 'consumer.ts'), readmeBlock('**Device kernels.**'));
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          noEmit: true,
          types: [],
        },
        files: ['consumer.ts'],
      }),
    );
    const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
    expect(run(process.execPath, [tsc, '-p', '.'])).toBe('');
    // The check can fail: a wrong type in the consumer is reported against hmmsim's declarations.
    writeFileSync(
      join(project, 'bad.ts'),
      "import { Simulator } from 'hmmsim';\nnew Simulator({ seed: 1 }).createProcess().mmap('x', 3, 0x22);\n",
    );
    const bad = spawnSync(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'nodenext', 'bad.ts'], {
      cwd: project,
      encoding: 'utf8',
    });
    expect(bad.status).not.toBe(0);
    expect(bad.stdout).toMatch(
      /^bad\.ts\(2,\d+\): error TS2345: Argument of type 'string' is not assignable/m,
    );
  });
});
