import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

function hmmsim(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('hmmsim explore / replay (end to end, as a child process)', () => {
  it('finds the seed race in fault-vs-dontneed (exit 1, one JSON document) and replays it exactly', () => {
    const r = hmmsim('explore', 'fault-vs-dontneed', '--json');
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as { violation: { checker: string; message: string; replay: string } };
    expect(Object.keys(doc)).toEqual([
      'scenario',
      'driver',
      'strategy',
      'seed',
      'schedulesExplored',
      'schedulesPerSecond',
      'violation',
    ]);
    expect(doc.violation.checker).toBe('coherence');
    const again = hmmsim('replay', doc.violation.replay, '--json');
    expect(again.code).toBe(1);
    const rep = JSON.parse(again.stdout) as { violation: { checker: string; message: string } };
    expect(rep.violation.checker).toBe(doc.violation.checker);
    expect(rep.violation.message).toBe(doc.violation.message);
  });

  it('passes with the sequence count (exit 0) and lists scenarios and variants', () => {
    const r = hmmsim('explore', 'fault-vs-dontneed', '--protocol', 'seq', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).violation).toBeNull();
    const list = hmmsim('explore', '--list');
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/fault-vs-munmap/);
    expect(list.stdout).toMatch(/no-valid-check/);
  });

  it('bad input is one line on stderr and exit 2, never a stack trace', () => {
    for (const args of [
      ['explore', 'nope'],
      ['explore', 'fault-vs-munmap', '--strategy', 'x'],
      ['replay', 'garbage'],
      ['explore', 'fault-vs-munmap', '--schedules', '0'],
    ]) {
      const r = hmmsim(...args);
      expect(r.code).toBe(2);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
