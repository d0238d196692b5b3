/**
 * UVM's thrashing detection and mitigation, for the two processors hmmsim has (the CPU and one
 * device; PCIe, so neither has fast access to the other's memory, and the CPU cannot map device-private
 * memory). Per VA block, per page: a migration caused by a fault or a prefetch is an event; an event
 * within `lapse` of the page's previous one counts, and the page is thrashing once `threshold` events
 * counted in a row (phase 0). Per-page tracking starts only after two events on the block from
 * different processors within one lapse. On a later device fault on a thrashing page the hint is
 * (phase 1) THROTTLE: one processor at a time may work on the page, the others' faults are not
 * serviced for `nap` × lapse; after `pinThreshold` throttling periods (phase 2) PIN: the page stays
 * where all thrashing processors can reach it (system memory when the preferred location is the CPU,
 * else the requester) and the others map it remotely; a pin lasts `pin` × lapse. A block whose pages
 * stop thrashing for `epoch` × lapse is reset (at most `maxResets` times). Eviction migrations are not
 * events. Times are the device clock in µs (UVM uses ns).
 *
 * Divergence: UVM throttles CPU faults too (the faulting thread sleeps); here the kernel services a
 * CPU fault on a device page itself (migrate_to_ram), so CPU faults are events only, and a CPU
 * fault that moves a pinned page unpins it. The adaptive lapse is not modelled (the lapse is fixed).
 *
 * @see kernel-open/nvidia-uvm/uvm_perf_thrashing.c (thrashing_event_cb, uvm_perf_thrashing_get_hint,
 *      get_hint_for_migration_thrashing, thrashing_throttle_update, thrashing_pin_page)
 *      (open-gpu-kernel-modules, commit 10d538df)
 */

/** A processor: the CPU or the (one) device. */
export type Processor = 'cpu' | 'gpu';

/** The module parameters (µs instead of ns; nap, epoch and pin are multiples of the lapse). */
export interface ThrashingParams {
  /** uvm_perf_thrashing_enable (1). */
  enable: boolean;
  /** uvm_perf_thrashing_threshold (3, max 7): consecutive events within the lapse. */
  thrashingThreshold: number;
  /** uvm_perf_thrashing_pin_threshold (10, max 255): throttling periods before pinning. */
  pinThreshold: number;
  /** uvm_perf_thrashing_lapse_usec (500). */
  lapseUs: number;
  /** uvm_perf_thrashing_nap (1, max 100) × lapse: how long a throttled processor waits. */
  nap: number;
  /** uvm_perf_thrashing_epoch (2000) × lapse: quiet time after which a block is reset. */
  epoch: number;
  /** uvm_perf_thrashing_pin (300) × lapse: how long a page stays pinned (0: forever). */
  pin: number;
  /** uvm_perf_thrashing_max_resets (4). */
  maxResets: number;
  /** The range's preferred location (cudaMemAdviseSetPreferredLocation), or none. */
  preferred: Processor | null;
}

/** The defaults of uvm_perf_thrashing.c. */
export const UVM_THRASHING_DEFAULTS: Readonly<ThrashingParams> = {
  enable: true,
  thrashingThreshold: 3,
  pinThreshold: 10,
  lapseUs: 500,
  nap: 1,
  epoch: 2000,
  pin: 300,
  maxResets: 4,
  preferred: null,
};

/** PAGE_THRASHING_NUM_EVENTS_BITS = 3: the event counter saturates at 7. */
const EVENTS_MAX = 7;
/** PAGE_THRASHING_THROTTLING_COUNT_BITS = 8. */
const THROTTLING_MAX = 255;

/** page_thrashing_info_t. */
interface PageThrashing {
  ts: number;
  events: number;
  processors: Set<Processor>;
  throttled: Set<Processor>;
  throttlingEndUs: number;
  doNotThrottle: Processor | null;
  throttlingCount: number;
  pinned: boolean;
  pinnedResidency: Processor | null;
  pinDeadlineUs: number;
}

/** block_thrashing_info_t. */
interface BlockThrashing {
  lastTs: number;
  lastProcessor: Processor | null;
  pages: Map<number, PageThrashing> | null;
  lastThrashingTs: number;
  resets: number;
  pinned: number;
  thrashing: Set<number>;
}

/** A hint for one fault: nothing, throttle until a time, or pin at a processor. */
export type ThrashingHint =
  | { type: 'none' }
  | { type: 'throttle'; untilUs: number; throttlingCount: number }
  | { type: 'pin'; residency: Processor; local: boolean };

function newPage(): PageThrashing {
  return {
    ts: -1,
    events: 0,
    processors: new Set(),
    throttled: new Set(),
    throttlingEndUs: 0,
    doNotThrottle: null,
    throttlingCount: 0,
    pinned: false,
    pinnedResidency: null,
    pinDeadlineUs: 0,
  };
}

/** accessible_from[to] ⊇ procs: the CPU cannot map device-private memory; the device can map RAM. */
function allCanAccess(procs: ReadonlySet<Processor>, to: Processor | null): boolean {
  if (to === null) return false;
  return to === 'cpu' || [...procs].every((p) => p === 'gpu');
}

/** The per-VA-space thrashing state of one policy object (see the file comment). */
export class UvmThrashing {
  readonly params: ThrashingParams;
  private readonly blocks = new Map<number, BlockThrashing>();

  constructor(params: ThrashingParams) {
    this.params = params;
  }

  private block(key: number): BlockThrashing {
    let b = this.blocks.get(key);
    if (b === undefined) {
      b = {
        lastTs: -1,
        lastProcessor: null,
        pages: null,
        lastThrashingTs: -1,
        resets: 0,
        pinned: 0,
        thrashing: new Set(),
      };
      this.blocks.set(key, b);
    }
    return b;
  }

  private page(b: BlockThrashing, i: number): PageThrashing {
    const pages = b.pages as Map<number, PageThrashing>;
    let p = pages.get(i);
    if (p === undefined) {
      p = newPage();
      pages.set(i, p);
    }
    return p;
  }

  /** Page indexes of block `key` now thrashing. */
  thrashingPages(key: number): ReadonlySet<number> {
    return this.blocks.get(key)?.thrashing ?? new Set();
  }

  /** The page's state, for tests and reasons: events, throttling periods, pinned. */
  pageState(key: number, i: number): { events: number; throttlingCount: number; pinned: boolean } | null {
    const p = this.blocks.get(key)?.pages?.get(i);
    return p === undefined
      ? null
      : { events: p.events, throttlingCount: p.throttlingCount, pinned: p.pinned };
  }

  /**
   * thrashing_event_cb for a migration of pages `idx` of block `key` to `dst` at `nowUs`, caused by a
   * fault or a prefetch (eviction migrations are not events). Returns the pages detected thrashing.
   */
  onMigration(key: number, idx: readonly number[], dst: Processor, nowUs: number): number[] {
    if (!this.params.enable) return [];
    const b = this.block(key);
    const detected: number[] = [];
    if (b.pages === null) {
      const differentRecent =
        b.lastTs >= 0 && b.lastProcessor !== dst && nowUs - b.lastTs <= this.params.lapseUs;
      if (!differentRecent) {
        b.lastTs = nowUs;
        b.lastProcessor = dst;
        return detected;
      }
      b.pages = new Map();
    }
    for (const i of idx) {
      const p = this.page(b, i);
      if (p.pinned) this.resetPage(b, i); // a CPU fault moved a pinned page: see the file comment
      const last = p.ts;
      p.processors.add(dst);
      p.ts = nowUs;
      if (last < 0) continue;
      if (nowUs - last <= this.params.lapseUs) {
        if (p.events < EVENTS_MAX) p.events++;
        if (p.events === this.params.thrashingThreshold) {
          b.thrashing.add(i);
          detected.push(i);
        }
        if (p.events >= this.params.thrashingThreshold) b.lastThrashingTs = nowUs;
      } else if (p.events >= this.params.thrashingThreshold && !p.pinned) this.resetPage(b, i);
    }
    b.lastTs = nowUs;
    b.lastProcessor = dst;
    return detected;
  }

  /** thrashing_reset_page: the page starts over (unpinned, not thrashing). */
  private resetPage(b: BlockThrashing, i: number): void {
    const p = b.pages?.get(i);
    if (p === undefined) return;
    if (p.pinned) b.pinned--;
    b.thrashing.delete(i);
    b.pages?.set(i, newPage());
  }

  /**
   * uvm_perf_thrashing_get_hint for a device fault on page `i` of block `key` at `nowUs`;
   * `residentOnGpu` says where the page is (the closest resident copy).
   */
  hint(key: number, i: number, nowUs: number, residentOnGpu: boolean): ThrashingHint {
    const none: ThrashingHint = { type: 'none' };
    const P = this.params;
    const b = this.blocks.get(key);
    if (!P.enable || b === undefined || b.pages === null) return none;
    if (
      b.lastThrashingTs >= 0 &&
      nowUs - b.lastThrashingTs > P.epoch * P.lapseUs &&
      b.pinned === 0 &&
      b.resets < P.maxResets
    ) {
      b.resets++;
      b.pages = null;
      b.thrashing.clear();
      b.lastProcessor = null;
      b.lastTs = -1;
      b.lastThrashingTs = -1;
      return none;
    }
    const p = this.page(b, i);
    if (p.pinned && P.pin > 0 && p.pinDeadlineUs <= nowUs) this.resetPage(b, i); // thrashing_unpin_pages
    const page = this.page(b, i);
    if (page.events < P.thrashingThreshold) return none;
    if (page.throttled.has('gpu')) {
      if (nowUs < page.throttlingEndUs && page.doNotThrottle !== 'gpu')
        return { type: 'throttle', untilUs: page.throttlingEndUs, throttlingCount: page.throttlingCount };
      page.throttled.delete('gpu');
      if (page.throttled.size === 0) page.throttlingEndUs = 0;
    }
    if (nowUs - page.ts > P.lapseUs && !page.pinned) return none;
    page.processors.add('gpu');
    this.throttleUpdate(page, nowUs);
    const h = this.migrationHint(page, residentOnGpu ? 'gpu' : 'cpu');
    if (h === 'throttle') {
      if (!page.throttled.has('gpu')) {
        page.throttled.add('gpu');
        if (!page.pinned && page.throttlingCount < THROTTLING_MAX) page.throttlingCount++;
      }
      return { type: 'throttle', untilUs: page.throttlingEndUs, throttlingCount: page.throttlingCount };
    }
    if (h === null) return none;
    this.pin(b, page, h, nowUs);
    return { type: 'pin', residency: h, local: h === 'gpu' };
  }

  /** thrashing_throttle_update: a new throttling period alternates who may work on the page. */
  private throttleUpdate(p: PageThrashing, nowUs: number): void {
    if (nowUs > p.throttlingEndUs) {
      p.throttlingEndUs = nowUs + this.params.nap * this.params.lapseUs;
      p.doNotThrottle = p.doNotThrottle === 'gpu' ? null : 'gpu';
    } else if (p.doNotThrottle === null) p.doNotThrottle = 'gpu';
  }

  /** get_hint_for_migration_thrashing for the device as requester: a pin residency, 'throttle' or null. */
  private migrationHint(p: PageThrashing, closest: Processor): Processor | 'throttle' | null {
    const pref = this.params.preferred;
    const req: Processor = 'gpu';
    if (allCanAccess(p.processors, pref)) return pref;
    const prefThrashing = pref !== null && p.processors.has(pref);
    if (!prefThrashing && [...p.processors].every((x) => x === closest)) return req;
    if (req === pref) {
      if (p.pinned) return pref === p.pinnedResidency || pref === p.doNotThrottle ? pref : 'throttle';
      if (pref !== p.doNotThrottle) return 'throttle';
      return p.throttlingCount >= this.params.pinThreshold ? pref : null;
    }
    if (p.pinned) {
      if (req === p.doNotThrottle)
        return allCanAccess(p.processors, req) ? req : p.processors.has('cpu') ? 'cpu' : req;
      if (p.pinnedResidency === 'cpu') return 'cpu';
      return 'throttle';
    }
    if (req !== p.doNotThrottle) return 'throttle';
    return p.throttlingCount >= this.params.pinThreshold ? req : null;
  }

  /** thrashing_pin_page. */
  private pin(b: BlockThrashing, p: PageThrashing, at: Processor, nowUs: number): void {
    p.throttled.clear();
    p.throttlingEndUs = 0;
    if (!p.pinned) {
      p.pinned = true;
      b.pinned++;
      p.pinDeadlineUs = nowUs + this.params.pin * this.params.lapseUs;
    }
    p.pinnedResidency = at;
    p.throttlingCount = 0;
  }
}
