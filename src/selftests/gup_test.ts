/**
 * The gup_test debugfs module (/sys/kernel/debug/gup_test, CONFIG_GUP_TEST) as hmm-tests.c's
 * hmm_gup_test drives it: the four ioctls that test issues, each getting or pinning the pages of a
 * range on the mm core's GUP (src/mm/gup.ts) and putting them back at once, as the module does.
 *
 *   GUP_BASIC_TEST          get_user_pages(addr, nr, gup_flags), mmap_lock held; put_page each
 *   GUP_FAST_BENCHMARK      get_user_pages_fast: its lockless walk misses any page that is not
 *                           present, so it falls back to the locked slow path, which is what runs
 *                           here (there is no lockless walk in the model); put_page each
 *   PIN_FAST_BENCHMARK      pin_user_pages_fast(addr, nr, gup_flags): likewise; unpin_user_pages
 *   PIN_LONGTERM_BENCHMARK  pin_user_pages(addr, nr, gup_flags | FOLL_LONGTERM); unpin_user_pages
 *
 * Between the two, verify_dma_pinned checks that every page a PIN_* command returned holds a pin,
 * and that no page PIN_LONGTERM_BENCHMARK pinned is device-coherent (a WARN otherwise), as the
 * module does. Timings (get_delta_usec, put_delta_usec) are not kept.
 *
 * @see mm/gup_test.c (Linux v6.19: __gup_test_ioctl, verify_dma_pinned, put_back_pages)
 * @see mm/gup_test.h (struct gup_test, the command numbers)
 */

import { PAGE_SIZE } from '../core/addr.js';
import { KernelWarning } from '../core/assert.js';
import { EINVAL } from '../core/errno.js';
import { FOLL_LONGTERM, FOLL_WRITE, getUserPages, pinUserPages, unpinUserPages } from '../mm/gup.js';
import type { MmStruct } from '../mm/mm.js';
import { GUP_PIN_COUNTING_BIAS, ZERO_PFN } from '../mm/page.js';
import type { Task } from '../sched/index.js';

/** _IOWR('g', 1, struct gup_test): get_user_pages_fast. */
export const GUP_FAST_BENCHMARK = 1;
/** _IOWR('g', 2, struct gup_test): pin_user_pages_fast. */
export const PIN_FAST_BENCHMARK = 2;
/** _IOWR('g', 3, struct gup_test): pin_user_pages with FOLL_LONGTERM. */
export const PIN_LONGTERM_BENCHMARK = 3;
/** _IOWR('g', 4, struct gup_test): get_user_pages. */
export const GUP_BASIC_TEST = 4;

/**
 * The FOLL_* bits user space puts in gup_test.gup_flags, in today's numbering (include/linux/
 * mm_types.h, v6.19: FOLL_WRITE 1 << 0, FOLL_LONGTERM 1 << 8, as hmm-tests.c defines them). The
 * model's src/mm/gup.ts keeps v5.3's numbers, so the module translates.
 */
export const GUP_TEST_FOLL_WRITE = 0x01;
export const GUP_TEST_FOLL_LONGTERM = 0x100;

/** struct gup_test, the fields hmm_gup_test sets. */
export interface GupTest {
  /** Start of the range. */
  addr: number;
  /** Its length in bytes. */
  size: number;
  /** Pages each get/pin call asks for. */
  nrPagesPerCall: number;
  /** GUP_TEST_FOLL_* bits. */
  gupFlags: number;
}

const COMMANDS = [GUP_FAST_BENCHMARK, PIN_FAST_BENCHMARK, PIN_LONGTERM_BENCHMARK, GUP_BASIC_TEST];

/**
 * gup_test_ioctl for one of the four commands on mm (the caller's, current->mm): 0, or -EINVAL for
 * another command, flags outside FOLL_WRITE | FOLL_LONGTERM, or a bad range. As in the module, a
 * get or pin that fails part way ends the walk without failing the ioctl.
 */
export function* gupTestIoctl(mm: MmStruct, cmd: number, gup: GupTest): Task<number> {
  if (!COMMANDS.includes(cmd)) return -EINVAL;
  if (gup.gupFlags & ~(GUP_TEST_FOLL_WRITE | GUP_TEST_FOLL_LONGTERM)) return -EINVAL;
  if (gup.size <= 0 || gup.nrPagesPerCall <= 0 || gup.addr % PAGE_SIZE !== 0) return -EINVAL;
  const flags =
    (gup.gupFlags & GUP_TEST_FOLL_WRITE ? FOLL_WRITE : 0) |
    (gup.gupFlags & GUP_TEST_FOLL_LONGTERM ? FOLL_LONGTERM : 0);
  const pages: number[] = [];
  yield* mm.mmapSem.downRead();
  try {
    yield* gupRange(mm, cmd, gup, flags, pages);
  } finally {
    mm.mmapSem.upRead();
  }
  verifyDmaPinned(mm, cmd, pages);
  putBackPages(mm, cmd, pages);
  return 0;
}

/** __gup_test_ioctl's loop: nr_pages_per_call pages a call until the range ends or a call falls short. */
function* gupRange(mm: MmStruct, cmd: number, gup: GupTest, flags: number, pages: number[]): Task {
  const end = gup.addr + Math.floor(gup.size / PAGE_SIZE) * PAGE_SIZE;
  let nr = gup.nrPagesPerCall;
  for (let addr = gup.addr; addr < end; addr += nr * PAGE_SIZE) {
    if (nr !== gup.nrPagesPerCall) break;
    nr = Math.min(nr, (end - addr) / PAGE_SIZE);
    if (cmd === PIN_FAST_BENCHMARK) nr = yield* pinUserPages(mm, addr, nr, flags, pages);
    else if (cmd === PIN_LONGTERM_BENCHMARK)
      nr = yield* pinUserPages(mm, addr, nr, flags | FOLL_LONGTERM, pages);
    else nr = yield* getUserPages(mm, addr, nr, flags, pages);
    if (nr <= 0) break;
  }
}

/** verify_dma_pinned: every page a PIN_* command returned must be folio_maybe_dma_pinned. */
function verifyDmaPinned(mm: MmStruct, cmd: number, pages: readonly number[]): void {
  if (cmd !== PIN_FAST_BENCHMARK && cmd !== PIN_LONGTERM_BENCHMARK) return;
  if (!mm.kernel.behaviour.pinCounting) return;
  const store = mm.kernel.mem.store;
  for (const pfn of pages) {
    // a pin of the zero page takes no reference (v6.5): nothing to see
    if (pfn === ZERO_PFN) continue;
    const ref = store.refcount[store.compoundHead(pfn)] as number;
    if (ref < GUP_PIN_COUNTING_BIAS)
      throw new KernelWarning(`gup_test: pfn ${pfn} is not dma-pinned (refcount ${ref})`);
    // folio_is_longterm_pinnable: no device-coherent page (the model has no CMA or ZONE_MOVABLE)
    if (cmd === PIN_LONGTERM_BENCHMARK && store.isDeviceCoherent(pfn))
      throw new KernelWarning(`gup_test: pfn ${pfn} is not longterm-pinnable but pinned`);
  }
}

/** put_back_pages: put_page after a get, unpin_user_pages after a pin. */
function putBackPages(mm: MmStruct, cmd: number, pages: readonly number[]): void {
  if (cmd === PIN_FAST_BENCHMARK || cmd === PIN_LONGTERM_BENCHMARK) {
    unpinUserPages(mm.kernel, pages);
    return;
  }
  for (const pfn of pages) mm.kernel.mem.putPage(pfn);
}
