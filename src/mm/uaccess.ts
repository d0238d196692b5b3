/**
 * CPU accesses by user space: the hardware walks the page tables; if the entry does not allow the
 * access it raises a page fault, which the arch handler (do_user_addr_fault) resolves under
 * mmap_sem for read — checking the access against the VMA first (SIGSEGV), then calling
 * handle_mm_fault — and the instruction is retried. Each page touched is one scheduling point.
 *
 * @see arch/x86/mm/fault.c (do_user_addr_fault, access_error) (Linux v5.3)
 */

import { PAGE_SIZE, pageAlignDown } from '../core/addr.js';
import { KernelBug } from '../core/assert.js';
import type { Task } from '../sched/index.js';
import { sleepNs } from '../sched/index.js';
import {
  FAULT_FLAG_USER,
  FAULT_FLAG_WRITE,
  handleMmFault,
  VM_FAULT_ERROR,
  VM_FAULT_HWPOISON,
  VM_FAULT_OOM,
  VM_FAULT_SIGSEGV,
} from './fault.js';
import type { MmStruct } from './mm.js';
import { pmdSubpage } from './pagetable.js';
import { _PAGE_ACCESSED, _PAGE_DIRTY, pmdHuge, pteAccessible, ptePfn } from './pte.js';
import { VM_EXEC, VM_READ, VM_WRITE } from './vma.js';

/** A user fault that the kernel resolves by killing (SIGSEGV/SIGBUS) or by the OOM path. */
export type UserFaultResult = 'ok' | 'SIGSEGV' | 'SIGBUS' | 'OOM';

const FAULTS_PER_ACCESS_MAX = 64;
/**
 * A fault that returned without making the access possible (a device-private page whose driver
 * could not migrate it yet because a migration holds its lock) is retried after this much virtual
 * time. On SMP hardware the faulting CPU spins while the other CPU finishes; here the retry sleeps
 * so that the thread it waits for runs first, and a bounded-preemption search does not spend its
 * preemptions (and the livelock guard) on the spin.
 */
const FAULT_RETRY_NS = 1000;

/** Copies between `buf` and user memory at [addr, addr+buf.length); stops at the first failing page. */
export function* accessUser(
  mm: MmStruct,
  addr: number,
  buf: Uint8Array,
  write: boolean,
): Task<{
  /** 'ok' when every byte was copied, else why the failing access stopped (its signal, or OOM). */
  result: UserFaultResult;
  /** The end of the copy on success, else the first address that failed. */
  addr: number;
}> {
  let done = 0;
  while (done < buf.length) {
    const a = addr + done;
    const pageOff = a % PAGE_SIZE;
    const n = Math.min(PAGE_SIZE - pageOff, buf.length - done);
    yield write ? 'store' : 'load';
    // the common case, an entry that allows the access, without a generator
    const hit = accessibleFrame(mm, pageAlignDown(a), write);
    const pfn = hit >= 0 ? hit : yield* translate(mm, pageAlignDown(a), write);
    if (typeof pfn === 'string') return { result: pfn, addr: a };
    if (write) mm.kernel.mem.writeBytes(pfn, pageOff, buf, done, n);
    else mm.kernel.mem.readBytes(pfn, pageOff, buf, done, n);
    done += n;
  }
  return { result: 'ok', addr: addr + done };
}

/** The pfn the access goes to, faulting as the hardware and kernel would, or the signal it gets. */
function* translate(mm: MmStruct, addr: number, write: boolean): Task<number | UserFaultResult> {
  for (let i = 0; i < FAULTS_PER_ACCESS_MAX; i++) {
    const pfn = accessibleFrame(mm, addr, write);
    if (pfn >= 0) return pfn;
    if (i > 0) yield* sleepNs(FAULT_RETRY_NS);
    const r = yield* doUserAddrFault(mm, addr, write);
    if (r !== 'ok') return r;
  }
  throw new KernelBug(
    `user access at 0x${addr.toString(16)} still faulting after ${FAULTS_PER_ACCESS_MAX} faults`,
  );
}

/**
 * The hardware's walk: the frame of `addr` if its entry allows the access (setting accessed, and
 * dirty for a write), else -1 (a page fault).
 */
function accessibleFrame(mm: MmStruct, addr: number, write: boolean): number {
  const { pt } = mm.kernel;
  const slot = pt.leafSlot(mm.pgd, addr);
  if (slot < 0) return -1;
  const lo = pt.lo[slot] as number;
  if (!pteAccessible(lo, write)) return -1;
  pt.lo[slot] = (lo | _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0)) >>> 0;
  const pfn = ptePfn(lo, pt.hi[slot] as number);
  return pmdHuge(lo) ? pfn + pmdSubpage(addr) : pfn;
}

/** do_user_addr_fault: find the VMA, check the access (access_error), handle_mm_fault. */
export function* doUserAddrFault(mm: MmStruct, addr: number, write: boolean): Task<UserFaultResult> {
  yield* mm.mmapSem.downRead();
  try {
    const vma = mm.vmaAt(addr);
    if (vma === null) return 'SIGSEGV';
    const allowed = write ? vma.flags & VM_WRITE : vma.flags & (VM_READ | VM_EXEC | VM_WRITE);
    if (!allowed) return 'SIGSEGV';
    const ret = yield* handleMmFault(mm, vma, addr, FAULT_FLAG_USER | (write ? FAULT_FLAG_WRITE : 0));
    if (!(ret & VM_FAULT_ERROR)) return 'ok';
    if (ret & VM_FAULT_OOM) return 'OOM';
    return ret & (VM_FAULT_SIGSEGV | VM_FAULT_HWPOISON) && !(ret & VM_FAULT_HWPOISON) ? 'SIGSEGV' : 'SIGBUS';
  } finally {
    mm.mmapSem.upRead();
  }
}
