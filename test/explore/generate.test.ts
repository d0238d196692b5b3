/** Generated scenarios: the name is the recipe, the same seed gives the same scenarios, replays work. */

import { describe, expect, it } from 'vitest';
import {
  ArgumentError,
  explore,
  generateScenario,
  generateScenarios,
  replay,
  scenarioByName,
} from '../../src/index.js';

describe('generated scenarios', () => {
  it('are the same for the same seed, and found again by name', () => {
    const a = generateScenarios(1, 4).map((s) => `${s.name}: ${s.description}`);
    expect(a).toEqual([
      'gen-1-0: generated: 1 of 2 pages written; dev0 migrate+migrate vs cpu mprotect+munmap',
      'gen-1-1: generated: 2 of 2 pages written; dev0 read vs cpu mprotect+mprotect',
      'gen-1-2: generated: 2 of 2 pages written; dev0 write vs cpu mprotect@1',
      'gen-1-3: generated: 1 of 2 pages written, migrated to device 0; dev0 write vs cpu write@1+read@1',
    ]);
    expect(scenarioByName('gen-1-3')?.description).toBe(generateScenario(1, 3).description);
    expect(scenarioByName('gen-1-x')).toBeUndefined();
    expect(() => generateScenario(1, -1)).toThrow(ArgumentError);
  });

  it("finds a window in the reference dmirror under 'seq' (gen-1-7: a migration vs MADV_DONTNEED of its written page), and replays it", () => {
    const r = explore('gen-1-7', { protocol: 'seq', schedules: 300 });
    const v = r.violation!;
    expect(v.checker).toBe('coherence');
    expect(v.message).toMatch(
      /^dev0 maps 0x[0-9a-f]+ \(mm 1\) to pfn \d+ writable, a device page that is free/,
    );
    expect(v.replay).toMatch(/^hmmx3:gen-1-7:correct:seq:1:/);
    expect(replay(v.replay).violation?.message).toBe(v.message);
  });
});
