/**
 * The bad-input catalogue (issue 15; issue 14 reuses it for the package): every public call of the
 * facade and of the exported helpers, each argument in turn replaced by each value of a catalogue
 * of bad values while the others stay good. Each call must
 *   - throw an ArgumentError naming that argument, or
 *   - end as ALLOWED says for that argument and value (accepted, or a kernel errno), with the reason,
 * and never throw anything else (TypeError, RangeError, KernelBug, StepLimitError) or hang: every
 * size is bounded (CALL_PAGES_MAX) and every machine has a small step budget. After each call the
 * machine, and the other machine whose handles were passed, still pass the accounting check.
 *
 * To extend it: add an entry to API in catalogue.ts (a name, its parameters with a good value and
 * a kind, and the call), and list in `allow` what the kernel accepts. The kinds pick the extra bad values of
 * EXTRA_BY_KIND (handles of another simulator, short or wrongly typed buffers).
 *
 * Scope: the facade (Simulator, Process, SimFile, DeviceFile, the device-kernel context; Process and
 * DeviceFile in both forms, the call and its generator on `.task`, run to completion) and the
 * exported helpers that take user values (parseSeed, Prng, the policy helpers). The layers exported
 * for driver authors (mm, hmm, sched, device) are kernel-facing: they return -errno and trust
 * their callers as kernel code does, and core's address arithmetic (pageAlignUp, pgdIndex...) is
 * on every hot path, so it is unchecked too. The explorer's entry points (explore, replay,
 * parseReplay, ExploreDrivers.register) are covered by its own tests. Handles past their life (an
 * exited Process, a closed DeviceFile) are walked by dead-handles.test.ts.
 */

import { describe, expect, it } from 'vitest';
import { API, runCatalogue } from './catalogue.js';

describe('api: the bad-input catalogue', () => {
  it('every call with a bad argument throws an ArgumentError naming it, or ends as its allow-list says', () => {
    const outcomes = runCatalogue();
    const bad = outcomes.filter((o) => !o.ok).map((o) => `${o.api} ${o.param}=${o.value}: ${o.got}`);
    expect(bad).toEqual([]);
    // Every allow-list entry is used, so none outlives the behaviour it excuses.
    const used = new Set(
      outcomes.filter((o) => o.got !== 'argument').map((o) => `${o.api}|${o.param}|${o.value}`),
    );
    const listed = API.flatMap((e) =>
      Object.entries(e.allow ?? {}).flatMap(([p, byValue]) =>
        Object.keys(byValue).map((v) => `${e.api}|${p}|${v}`),
      ),
    );
    expect(listed.filter((k) => !used.has(k))).toEqual([]);
    if (process.env.HMMSIM_CATALOGUE_SUMMARY) {
      const typed = outcomes.filter((o) => o.got === 'argument').length;
      for (const o of outcomes)
        if (o.got !== 'argument') console.log(`  ${o.api} ${o.param}=${o.value}: ${o.got}`);
      console.log(
        `catalogue: ${API.length} calls, ${outcomes.length} tried, ${typed} ArgumentErrors, ${outcomes.length - typed} allowed`,
      );
    }
  });
});
