import { describe, expect, it } from 'vitest';
import { hmmsimIn } from './run.js';

const hmmsim = (...args: string[]) => hmmsimIn(args);

describe('hmmsim explore / replay (end to end, through main() in process)', () => {
  it('finds the seed race in fault-vs-dontneed (exit 1, one JSON document) and replays it exactly', async () => {
    const r = await hmmsim('explore', 'fault-vs-dontneed', '--json');
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as { violation: { checker: string; message: string; replay: string } };
    // the library's ExploreResult, field for field (docs/explorer.md)
    expect(Object.keys(doc)).toEqual([
      'scenario',
      'driver',
      'protocol',
      'strategy',
      'seed',
      'preemptions',
      'schedulesExplored',
      'complete',
      'schedulesPerSecond',
      'violation',
      'violations',
      'terminalStates',
      'sleepBlocked',
    ]);
    expect(doc).toMatchObject({ protocol: 'seed', preemptions: 2, complete: false, schedulesExplored: 6 });
    expect(doc.violation.checker).toBe('coherence');
    const again = await hmmsim('replay', doc.violation.replay, '--json');
    expect(again.code).toBe(1);
    const rep = JSON.parse(again.stdout) as { violation: { checker: string; message: string } };
    expect(rep.violation.checker).toBe(doc.violation.checker);
    expect(rep.violation.message).toBe(doc.violation.message);
  });

  it('--seed builds every machine with it: the replay string records it and the replay prints it', async () => {
    const r = await hmmsim('explore', 'fault-vs-dontneed', '--seed', '7', '--json');
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as { seed: number; violation: { replay: string } };
    expect(doc.seed).toBe(7);
    expect(doc.violation.replay).toMatch(/^hmmx3:fault-vs-dontneed:correct:seed:7:0\.1\.0:coherence:8:/);
    const json = await hmmsim('replay', doc.violation.replay, '--json');
    expect(JSON.parse(json.stdout)).toMatchObject({
      scenario: 'fault-vs-dontneed',
      protocol: 'seed',
      seed: 7,
    });
    const text = await hmmsim('replay', doc.violation.replay);
    expect(text.code).toBe(1);
    expect(text.stdout.split('\n')[0]).toBe(
      'scenario=fault-vs-dontneed driver=correct protocol=seed seed=7 recorded-with=hmmsim 0.1.0',
    );
  });

  it('passes with the sequence count (exit 0) and lists scenarios and variants', async () => {
    const r = await hmmsim('explore', 'fault-vs-dontneed', '--protocol', 'seq', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).violation).toBeNull();
    const list = await hmmsim('explore', '--list');
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/fault-vs-munmap/);
    expect(list.stdout).toMatch(/no-valid-check/);
    const listJson = await hmmsim('explore', '--list', '--json');
    expect(listJson.code).toBe(0);
    const doc = JSON.parse(listJson.stdout) as {
      scenarios: { name: string; description: string }[];
      drivers: { name: string; description: string }[];
    };
    expect(doc.scenarios.map((x) => x.name)).toContain('fault-vs-munmap');
    expect(doc.drivers[0]?.name).toBe('correct');
    expect(doc.drivers.map((x) => x.name)).toContain('no-valid-check');
  });

  it('the text report gives the rate and the wall time to the first schedule (start-up, issue 13)', async () => {
    const r = await hmmsim('explore', 'fault-vs-munmap', '--strategy', 'random', '--schedules', '3');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[1]).toMatch(
      /^3 schedules explored, \d+ per second, the first after \d+\.\d ms$/,
    );
  });

  it('a replay string that does not check out: one error line naming what did not match, exit 2', async () => {
    const old = await hmmsim('replay', 'hmmx1:fault-vs-munmap:correct:seed:hmm1:AAAAAAEBAQE');
    expect(old.code).toBe(2);
    expect(old.stdout).toBe('');
    expect(old.stderr).toBe(
      "hmmsim: error: invalid argument 'replay': 'hmmx1:' replay strings carry no length or checksum and are no longer accepted: re-record it with 'hmmsim explore'\n",
    );
    const cut = await hmmsim('replay', 'hmmx3:fault-vs-dontneed:correct:seed:1:0.1.0:coherence:8:hmm1:AAAA');
    expect(cut.code).toBe(2);
    expect(cut.stderr).toMatch(
      /^hmmsim: error: invalid argument 'replay': cut off or malformed: expected 'hmmx3:<scenario>:.*\n$/,
    );
  });

  it('bad input is one line on stderr and exit 2, never a stack trace', async () => {
    for (const args of [
      ['explore', 'nope'],
      ['explore', 'fault-vs-munmap', '--strategy', 'x'],
      ['replay', 'garbage'],
      ['explore', 'fault-vs-munmap', '--schedules', '0'],
      // past the library's limits: its ArgumentError is a usage error too
      ['explore', 'fault-vs-munmap', '--strategy', 'pct', '--preemptions', '9007199254740991'],
    ]) {
      const r = await hmmsim(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^hmmsim: error: [^\n]+\n$/);
    }
  });
});

describe('hmmsim explore --no-kasan', () => {
  it('KASAN catches close-keeps-owner by default; without it the use after free goes unseen', async () => {
    const args = [
      'explore',
      'close-vs-cpuread',
      '--driver',
      'close-keeps-owner',
      '--protocol',
      'seq',
      '--json',
    ];
    const on = await hmmsim(...args);
    expect(on.code).toBe(1);
    expect((JSON.parse(on.stdout) as { violation: { checker: string } }).violation.checker).toBe('kasan');
    const off = await hmmsim(...args, '--no-kasan');
    const doc = JSON.parse(off.stdout) as { violation: unknown; complete: boolean };
    expect([off.code, doc.violation, doc.complete]).toEqual([0, null, true]);
  });
});
