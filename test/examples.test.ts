/**
 * The examples run, and print what their comments say they print (so they cannot rot).
 */

import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { main as deviceKernel } from '../examples/device-kernel.js';
import { main as driverPopulateRange } from '../examples/driver-populate-range.js';
import { main as exploreDriver } from '../examples/explore-driver.js';
import { main as modernDriver } from '../examples/modern-driver.js';
import * as hmmsim from '../src/index.js';

/** Every example, with the main this file runs it through. */
const EXAMPLES: Record<string, unknown> = {
  'device-kernel.ts': deviceKernel,
  'driver-populate-range.ts': driverPopulateRange,
  'explore-driver.ts': exploreDriver,
  'modern-driver.ts': modernDriver,
};

describe('examples/', () => {
  const files = readdirSync('examples').filter((f) => f.endsWith('.ts'));

  it('every example is run below, imports the package by its name, and runs its main when run directly', () => {
    expect(files.sort()).toEqual(Object.keys(EXAMPLES).sort());
    for (const f of files) {
      const text = readFileSync(`examples/${f}`, 'utf8');
      expect(text, f).toMatch(/from 'hmmsim';/);
      expect(text, f).not.toMatch(/from '\.\.\/src\//);
      expect(text, f).toMatch(/export function main\(log: \(line: string\) => void = console\.log\)/);
      expect(text, f).toMatch(
        /import\.meta\.url === pathToFileURL\(process\.argv\[1\]\)\.href\) main\(\);\n$/,
      );
    }
  });

  it('the package ships them, so the docs that import one resolve in an install', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
      files: string[];
      exports: Record<string, unknown>;
    };
    expect(pkg.files).toContain('examples');
    expect(pkg.files).toContain('LICENSE');
    expect(Object.keys(pkg.exports)).toContain('.');
  });

  it("npx tsx examples/explore-driver.ts prints the explorer's findings (one spawn: the package's self-reference under tsx)", () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'examples/explore-driver.ts'], {
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('1. the correct tinymirror, fault-vs-dontneed, protocol seq:');
    expect(lines[1]).toBe('   violation: none, 57 schedules, complete: true');
    expect(lines).toHaveLength(8);
  });
});

describe('examples/explore-driver.ts', () => {
  const lines: string[] = [];
  const facts = exploreDriver((line) => lines.push(line));

  it('the correct driver passes every schedule of fault-vs-dontneed', () => {
    expect(facts.correct).toEqual({ violation: null, schedules: 57, complete: true });
    expect(lines.slice(0, 2)).toEqual([
      '1. the correct tinymirror, fault-vs-dontneed, protocol seq:',
      '   violation: none, 57 schedules, complete: true',
    ]);
  });

  it("'no-valid-check' maps a freed page; its replay string reproduces the same violation", () => {
    expect(facts.noValidCheck.checker).toBe('coherence');
    expect(facts.noValidCheck.preemptions).toBe(1);
    expect(facts.noValidCheck.replayed).toBe(facts.noValidCheck.message);
    expect(lines[3]).toMatch(
      /^ {3}coherence: dev0 maps 0x[0-9a-f]+ \(mm 1\) to pfn \d+ writable, a page that is free \(PG_buddy\)/,
    );
    expect(lines[4]).toBe(`   preemptions: 1; replay string: ${facts.noValidCheck.replay}`);
    expect(lines[5]).toBe('   replayed: coherence (the same violation: true)');
  });

  it("'valid-outside-lock' breaks the locking rules", () => {
    expect(facts.validOutsideLock.checker).toBe('rules');
    expect(lines[7]).toMatch(
      /^ {3}rules: dev0: hmm_range_valid\(\) called without the driver's update lock held/,
    );
  });
});

describe("the README's JSON pipe", () => {
  it('`npm run -s hmmsim -- <command> --json` prints only the JSON document on stdout', () => {
    const readme = readFileSync('README.md', 'utf8');
    expect(readme).toContain('npm run -s hmmsim -- demo\n--json --no-report | jq .ok');
    expect(readme).not.toMatch(/npm run hmmsim -- /);
    const r = spawnSync(
      'npm',
      [
        'run',
        '-s',
        'hmmsim',
        '--',
        'demo',
        '--json',
        '--no-report',
        '--list-nodes',
        '500',
        '--tree-nodes',
        '500',
        '--lookups',
        '50',
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, CI: '1' },
      },
    );
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout) as { ok: boolean; settings: Record<string, unknown> };
    expect(doc.ok).toBe(true);
    expect(doc.settings['list nodes']).toBe(500);
  });
});

describe('examples/driver-populate-range.ts', () => {
  const lines: string[] = [];
  const facts = driverPopulateRange((line) => lines.push(line));
  const out = lines.join('\n');

  it('registers its mirror and prints each step', () => {
    expect(lines[0]).toBe('hmm_mirror_register: 0');
    for (const step of ['1. driver_populate_range', '2. CPU munmap', '3. populate', '4. the OOM reaper'])
      expect(out).toContain(step);
  });

  it('1. read everywhere, write for page 5: HMM reports what the CPU maps, and v5.3 chunk faulting', () => {
    // Page 0 is CPU-written (writable), 1-4 are the zero page, 5 was asked for write, and 6-7 were
    // write-faulted with it (the rest of the PMD chunk gets the first faulting page's decision).
    expect(facts.populated).toBe('WRRRRWWW');
    // The first pass lost page 5's request in a read fault of its chunk; the driver asked again.
    expect(facts.lostWrite).toBe(1);
    expect(facts.pfns.slice(1, 5)).toEqual([facts.zeroPfn, facts.zeroPfn, facts.zeroPfn, facts.zeroPfn]);
    const own = [facts.pfns[0], ...facts.pfns.slice(5)];
    expect(new Set(own).size).toBe(4);
    expect(own).not.toContain(facts.zeroPfn);
    expect(out).toContain('device and CPU agree: true');
  });

  it('2. a CPU munmap erases the device entries first, under the update lock', () => {
    expect(facts.munmapEvents).toHaveLength(1);
    expect(facts.munmapEvents[0]).toMatch(
      /^sync_cpu_device_pagetables\(\[0x[0-9a-f]+, 0x[0-9a-f]+\), blockable=true\): erased 2 device entries$/,
    );
    expect(facts.afterMunmap).toBe('WRRRRW--');
  });

  it('3. racing MADV_DONTNEED: some schedules retry (both ways), every one stays coherent', () => {
    expect(facts.schedules).toHaveLength(8);
    for (const s of facts.schedules) {
      expect(s.ret).toBe(0);
      expect(s.coherent).toBe(true);
    }
    expect(facts.schedules.some((s) => s.ebusy > 0)).toBe(true);
    expect(facts.schedules.some((s) => s.invalid > 0)).toBe(true);
    expect(facts.schedules.some((s) => s.ebusy === 0 && s.invalid === 0)).toBe(true);
  });

  it('4. a non-blockable update finds the update lock held: -EAGAIN, and the reaper retries', () => {
    expect(facts.reaperBusy).toBe(true);
    expect(facts.reaperEvents).toHaveLength(1);
    expect(facts.reaperEvents[0]).toContain('blockable=false): update lock busy -> -EAGAIN');
    expect(facts.reaperFree).toBe(true);
    expect(out).toContain('with the lock free, the reaper finished: true; device table: --------');
  });
});

describe('examples/device-kernel.ts', () => {
  const lines: string[] = [];
  const facts = deviceKernel((line) => lines.push(line));
  const out = lines.join('\n');

  it('prints each step', () => {
    for (const step of [
      '1. the CPU built',
      '2. launch on 4',
      '3. the CPU reads',
      '4. the CPU doubled',
      '5. the last',
    ])
      expect(out).toContain(step);
  });

  it('2. the device follows the CPU pointers: every thread sums its share, one fault per thread and page', () => {
    expect(facts.partialSums.reduce((s, x) => s + x, 0)).toBe(facts.expected);
    expect(facts.stored).toEqual(facts.partialSums);
    // 8 list pages and the result page, each faulted by all 4 threads: one batch per page, 3 duplicates in each.
    expect(facts.pass1).toMatchObject({ faults: 36, batches: 9, duplicates: 27, migrated: 9 });
    expect(facts.listAfterLaunch).toBe('DDDDDDDD');
  });

  it('3. the CPU read of a device page migrates it back', () => {
    expect(facts.outAfterLaunch).toBe('D');
    expect(facts.outAfterCpuRead).toBe('S');
    expect(facts.cpuFaults).toBe(1);
  });

  it('4. a custom MigrationPolicy migrates the list and only mirrors the results', () => {
    expect(facts.listAfterCpuWrites).toBe('SSSSSSSS');
    expect(facts.pass2Total).toBe(facts.pass2Expected);
    expect(facts.listAfterPass2).toBe('DDDDDDDD');
    expect(facts.outAfterPass2).toBe('S');
  });

  it('5. a pointer into unmapped memory kills the launch with a DeviceKernelFault', () => {
    expect(facts.fatal).toMatchObject({ name: 'DeviceKernelFault', code: 'EFAULT', reason: 'unmapped' });
    expect(facts.costUs).toBeGreaterThan(0);
  });
});

/** Runs an example's main, collecting what it prints. */
function ran<F>(main: (log: (line: string) => void) => F): { lines: string[]; out: string; facts: F } {
  const lines: string[] = [];
  const facts = main((line) => lines.push(line));
  return { lines, out: lines.join('\n'), facts };
}

describe('examples/modern-driver.ts', () => {
  const { lines, out, facts } = ran(modernDriver);

  it('opens its driver through the facade and prints each step', () => {
    expect(lines[0]).toBe('opened minigpu on device 0 (16 device-private pages of its own)');
    for (let step = 1; step <= 7; step++) expect(out).toContain(`\n${step}. `);
  });

  it('1. one hmm_range_fault round maps all 8 pages, and the device reads what the CPU wrote', () => {
    expect(facts.firstRead).toEqual({ text: 'hello from the CPU', faults: 1, walks: 1 });
  });

  it('2. MADV_DONTNEED reaches the interval notifier, which erases the page from the device', () => {
    expect(facts.afterDontneed).toEqual({ entries: 7, log: ['invalidate CLEAR: erased 1 entries'] });
  });

  it('3. migrate_vma moves 4 pages (one a hole) to device-private memory; its own MIGRATE event is skipped', () => {
    expect(facts.migrated).toEqual({
      kinds: ['device-private', 'device-private', 'device-private', 'device-private'],
      free: 12,
      text: 'hello from the CPU',
    });
    expect(out).toContain('notifier calls seen by the driver: 0');
  });

  it('4. a CPU read of a device page runs migrate_to_ram and gets the bytes back', () => {
    expect(facts.cpuTouch.kind).toBe('present');
    expect(facts.cpuTouch.text).toBe('hello from the CPU');
    expect(facts.cpuTouch.log).toHaveLength(1);
    expect(facts.cpuTouch.log[0]).toMatch(/^migrate_to_ram: the CPU touched device pfn \d+, now in RAM$/);
  });

  it('5. make_device_exclusive leaves a device-exclusive entry; the CPU write revokes it (CLEAR)', () => {
    expect(facts.exclusive).toEqual({
      kindBefore: 'device-exclusive',
      kindAfter: 'present',
      taking: ['invalidate CLEAR: erased 1 entries'],
      cpuWrite: ['invalidate CLEAR: erased 1 entries'],
    });
  });

  it('6. migrate_device_range evicts the 3 pages still on the device; folio_free returns every page', () => {
    expect(facts.release).toEqual({
      cpages: 3,
      free: 16,
      kinds: ['present', 'present', 'present', 'present'],
      text: 'page two',
    });
  });

  it('7. the explorer finds no violation in any built-in scenario, every schedule explored', () => {
    expect(facts.explored.map((e) => e.scenario)).toEqual([
      'fault-vs-munmap',
      'fault-vs-mprotect',
      'fault-vs-dontneed',
      'fault-vs-migrate',
      'migrate-vs-cpufault',
      'fault-vs-oomreap',
      'fork-vs-devwrite',
      'exit-vs-devaccess',
    ]);
    for (const e of facts.explored)
      expect([e.scenario, e.violation, e.complete]).toEqual([e.scenario, null, true]);
    expect(facts.explored.map((e) => e.schedules)).toEqual([27, 27, 29, 58, 35, 7, 70, 20]);
  });
});

describe("docs/writing-a-driver.md's modern walkthrough", () => {
  const doc = readFileSync('docs/writing-a-driver.md', 'utf8');
  const section = doc.slice(doc.indexOf("## Today's API"));
  const example = readFileSync('examples/modern-driver.ts', 'utf8');
  /** Lines without their indentation: a snippet may quote a method at another depth. */
  const flat = (t: string): string =>
    t
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '')
      .join('\n');
  const snippets = [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string);

  it('has its snippets, and each is quoted word for word from examples/modern-driver.ts (which runs above)', () => {
    expect(section.length).toBeGreaterThan(1000);
    expect(snippets.length).toBeGreaterThanOrEqual(6);
    const source = flat(example);
    // A `// ...` line in a snippet stands for lines left out: each part between them is quoted whole.
    for (const s of snippets)
      for (const part of s.split(/^\s*\/\/ \.\.\.$/m)) expect(source, part).toContain(flat(part));
  });
});

describe("the README's example of today's API", () => {
  it('runs, and each call returns what its comment says', () => {
    const readme = readFileSync('README.md', 'utf8');
    const from = readme.indexOf("### Today's API");
    expect(from).toBeGreaterThan(0);
    const block = (/```ts\n([\s\S]*?)```/.exec(readme.slice(from)) as RegExpExecArray)[1] as string;
    // The import becomes a destructuring of the package; each annotated call is recorded.
    const body = block
      .replace(/^import \{([^}]*)\} from 'hmmsim';$/m, 'const {$1} = hmmsim;')
      .replace(/^((?:fd|p)\.(\w+)\(.*\));(\s+\/\/.*)$/gm, (_m, call: string, name: string) => {
        return `results.push([${JSON.stringify(name)}, ${call}]);`;
      });
    expect(body).toContain('const { Simulator,');
    const results: [string, unknown][] = [];
    new Function('hmmsim', 'results', body)(hmmsim, results);
    const shown = results.map(([name, r]) => {
      const o = r as { cpages?: number; faults?: number; kind?: string; data?: unknown } | Uint8Array;
      if (o instanceof Uint8Array) return [name, Array.from(o)];
      if (o.kind !== undefined) return [name, o.kind];
      return [name, { cpages: o.cpages, faults: o.faults, data: o.data !== undefined }];
    });
    expect(shown).toEqual([
      ['read', { cpages: 16, faults: 1, data: true }],
      ['migrate', { cpages: 16, faults: 0, data: true }],
      ['pte', 'device-private'],
      ['migrateToSys', { cpages: 16, faults: 0, data: false }],
      ['exclusive', { cpages: 1, faults: 0, data: true }],
      ['pte', 'device-exclusive'],
      ['read', [1, 2, 3]],
    ]);
  });
});
