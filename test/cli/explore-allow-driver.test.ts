/** `hmmsim explore --allow` and `--driver-module`, `hmmsim replay --driver-module`, end to end. */

import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { hmmsimIn } from './run.js';

const hmmsim = (...args: string[]) => hmmsimIn(args);
const MODULE = fileURLToPath(new URL('./fixtures/tinymirror-driver.ts', import.meta.url));

describe('hmmsim explore --allow', () => {
  it('goes past the seed race, lists it, and exits 0 when nothing else is found', async () => {
    const r = await hmmsim('explore', 'fault-vs-dontneed', '--allow', 'seed-race');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^32 schedules explored \(all within the bound\)/m);
    expect(r.stdout).toMatch(
      /^1 distinct violation:\n {2}allowed \(coherence\) in \d+ schedule\(s\), first #6: dev0 maps /m,
    );
    expect(r.stdout).toMatch(/no violation found\n$/);
  });

  it('--json carries every distinct violation', async () => {
    const r = await hmmsim('explore', 'fault-vs-dontneed', '--allow', 'seed-race', '--json');
    const doc = JSON.parse(r.stdout) as { violation: unknown; violations: { allowed: boolean }[] };
    expect(doc.violation).toBeNull();
    expect(doc.violations.map((d) => d.allowed)).toEqual([true]);
  });

  it('a malformed rule is a usage error naming the option', async () => {
    const r = await hmmsim('explore', 'fault-vs-dontneed', '--allow', 'nonsense');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^hmmsim: error: invalid argument 'allow': expected 'checker:text'/);
  });
});

describe('hmmsim explore / replay --driver-module', () => {
  it("runs the module's driver, finds its bug, and the replay reproduces it with the same module", async () => {
    const r = await hmmsim(
      'explore',
      'fault-vs-dontneed',
      '--protocol',
      'seq',
      '--driver-module',
      MODULE,
      '--json',
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as { driver: string; violation: { checker: string; replay: string } };
    expect(doc.driver).toBe('tinymirror');
    expect(doc.violation.checker).toBe('coherence');
    expect(doc.violation.replay).toMatch(/^hmmx3:fault-vs-dontneed:tinymirror:seq:/);
    const again = await hmmsim('replay', doc.violation.replay, '--driver-module', MODULE, '--json');
    expect(again.code).toBe(1);
    expect((JSON.parse(again.stdout) as { violation: { checker: string } }).violation.checker).toBe(
      'coherence',
    );
    const without = await hmmsim('replay', doc.violation.replay);
    expect(without.code).toBe(2);
    expect(without.stderr).toMatch(/unknown driver 'tinymirror'/);
  });

  it('a file that does not load is a usage error', async () => {
    const r = await hmmsim('explore', 'fault-vs-dontneed', '--driver-module', '/nonexistent/driver.js');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^hmmsim: error: --driver-module: cannot load '\/nonexistent\/driver\.js'/);
  });
});

describe('hmmsim explore --generate', () => {
  it('explores n generated scenarios, one line each, exit 1 when one has a violation', async () => {
    const r = await hmmsim('explore', '--generate', '8', '--protocol', 'seq', '--schedules', '200');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.filter((l) => l.startsWith('gen-1-')).length).toBe(8);
    expect(lines.at(-1)).toBe('8 generated scenarios, 1 with a violation');
    expect(r.stdout).toMatch(
      /^gen-1-7 \(generated: .*\): \d+ schedules, VIOLATION \(coherence\): dev0 maps /m,
    );
    expect(r.stdout).toMatch(/^ {2}replay: hmmsim replay hmmx3:gen-1-7:correct:seq:1:/m);
  });

  it('refuses a scenario name beside it', async () => {
    const r = await hmmsim('explore', 'fault-vs-munmap', '--generate', '2');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--generate explores generated scenarios: name none/);
  });
});

describe('hmmsim explore --list', () => {
  it('names the lifecycle scenarios and the history variants', async () => {
    const r = await hmmsim('explore', '--list');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^lifecycle scenarios \(holes, repeated invalidations, close, exit, two devices, a KVM-like notifier\):$/m,
    );
    for (const name of [
      'close-vs-cpuread',
      'kvm-fault-vs-munmap',
      'close-unregister-first',
      'release-keeps-pt',
    ])
      expect(r.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
    const json = JSON.parse((await hmmsim('explore', '--list', '--json')).stdout) as {
      scenarios: { name: string }[];
    };
    expect(json.scenarios.map((s) => s.name)).toContain('migrate-vs-migrate');
  });
});
