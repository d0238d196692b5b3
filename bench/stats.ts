/** One measured operation: the median of `samplesNs` (after warm-up), per page. */
export interface Measurement {
  pages: number;
  reps: number;
  warmup: number;
  medianNs: number;
  nsPerPage: number;
  samplesNs: number[];
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of no samples');
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function measurement(pages: number, warmup: number, samplesNs: number[]): Measurement {
  const m = median(samplesNs);
  return { pages, reps: samplesNs.length, warmup, medianNs: m, nsPerPage: m / pages, samplesNs };
}

/** The ns `f` takes, by process.hrtime.bigint() around the call only. */
export function time(f: () => void): number {
  const t0 = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t0);
}

/** Runs `rep` warmup + reps times; `rep` returns the ns it measured. */
export function repeat(
  pages: number,
  opts: { warmup: number; reps: number },
  rep: () => number,
): Measurement {
  const samples: number[] = [];
  for (let i = 0; i < opts.warmup + opts.reps; i++) {
    const ns = rep();
    if (i >= opts.warmup) samples.push(ns);
  }
  return measurement(pages, opts.warmup, samples);
}
