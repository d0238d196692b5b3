/**
 * `hmmsim demo`: the foundation demo. A private anonymous mapping, written by a parent, shared with a
 * forked child, and split page by page by copy-on-write when the child writes.
 *
 * CLI layer: printing only, over the public API (src/index.ts).
 */
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, Simulator } from '../index.js';

const PAGE_SIZE = 4096;
const PAGES = 16;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function hex(addr: number): string {
  return `0x${addr.toString(16)}`;
}

/** The C string at the start of `bytes` (up to the first NUL). */
function cstr(bytes: Uint8Array): string {
  const nul = bytes.indexOf(0);
  return decoder.decode(nul < 0 ? bytes : bytes.subarray(0, nul));
}

function text(bytes: Uint8Array): string {
  return JSON.stringify(cstr(bytes));
}

/** rss as the facade reports it: a page count, or counters such as { anon, file, shmem }. */
function formatRss(rss: unknown): string {
  if (typeof rss === 'number') return `${rss} pages`;
  if (rss !== null && typeof rss === 'object') {
    return Object.entries(rss as Record<string, unknown>)
      .map(([k, v]) => `${k} ${String(v)}`)
      .join(', ');
  }
  return String(rss);
}

/** The nonzero counters of `sim.stats()`, sorted by name, on one line. */
function formatCounters(stats: unknown): string {
  const entries = Object.entries((stats ?? {}) as Record<string, unknown>)
    .filter(([, v]) => typeof v === 'number' && v !== 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries.length === 0 ? '(none)' : entries.map(([k, v]) => `${k}=${String(v)}`).join(' ');
}

/**
 * Runs the demo, printing about ten lines through `out`. Returns false if what the simulator did is
 * not what Linux does (the CLI then exits 1); simulator failures propagate as exceptions.
 */
export function runFoundationDemo(out: (line: string) => void, seed: number): boolean {
  const sim = new Simulator({ seed, devices: [] });
  const parent = sim.createProcess();
  const length = PAGES * PAGE_SIZE;
  const a = parent.mmap(length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  out(
    `parent: mmap(${length}, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS) = ${hex(a)} (${PAGES} pages)`,
  );

  // Touch every page so all of them are resident, with a recognisable string at the start of page 0.
  for (let i = 0; i < PAGES; i++) parent.write(a + i * PAGE_SIZE, encoder.encode(`parent page ${i}`));
  out(`parent: wrote "parent page N" at the start of each page; rss ${formatRss(parent.rss())}`);

  const child = parent.fork();
  out(`fork: child shares all ${PAGES} pages copy-on-write; child rss ${formatRss(child.rss())}`);

  const childText = encoder.encode('child wrote here');
  child.write(a, childText);
  out(`child: wrote ${text(childText)} to page 0 -> write fault, copy-on-write breaks the sharing of page 0`);

  const n = childText.length;
  const parentSees0 = parent.read(a, n);
  const childSees0 = child.read(a, n);
  const parentSees1 = parent.read(a + PAGE_SIZE, n);
  const childSees1 = child.read(a + PAGE_SIZE, n);
  out(`page 0: parent sees ${text(parentSees0)}, child sees ${text(childSees0)}`);
  out(`page 1: parent sees ${text(parentSees1)}, child sees ${text(childSees1)} (still shared)`);
  out(`rss: parent ${formatRss(parent.rss())}; child ${formatRss(child.rss())}`);
  out(`counters: ${formatCounters(sim.stats())}`);

  const ok =
    cstr(parentSees0) === 'parent page 0' &&
    cstr(childSees0) === 'child wrote here' &&
    cstr(parentSees1) === 'parent page 1' &&
    cstr(childSees1) === 'parent page 1';
  child.exit();
  parent.exit();
  out(ok ? 'check: ok (the child write was private to the child)' : 'check: FAILED (see the lines above)');
  return ok;
}
