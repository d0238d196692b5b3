/**
 * The data-integrity checker: a shadow model of what every address space should contain.
 *
 * Every byte a CPU or a device reads must equal the last byte written at that address in that
 * address space, across faults, copy-on-write, migration both ways and fork. The scenario layer
 * (src/explore) wraps every access and every call that changes contents in begin/end pairs:
 *
 *   write (CPU store, device write)        the new bytes, applied when the write completes
 *   discard (MADV_DONTNEED, private anon)  zeros, applied when it completes
 *   unmap (munmap)                         the pages are gone when it completes
 *   fork                                   the child gets a copy of the parent's private pages and
 *                                          shares the parent's shared ones (the same shadow page)
 *   exit                                   nothing yet: the task drops its mm_users reference, and
 *                                          the address space lives on while a driver holds one
 *                                          (mmget_not_zero in a device fault); exit_mmap runs at
 *                                          the last mmput, and from then the pages are unmapped
 *   read (CPU load, device read)           compared when it completes
 *
 * Concurrency: a read is compared page by page, and only for pages that no write, discard or unmap
 * touched while the read was in progress (their value is then one of several, all correct). A write
 * that failed part-way leaves its pages unknown until the next complete write. A fork that overlaps
 * a write gives the child unknown pages for what that write touched.
 *
 * It observes the scenario's own calls and, of the simulator's state, only whether exit_mmap has
 * run (MmStruct.dead, which any thread's last mmput may set) and the VMA kind at fork, so it is a
 * check of results: the device page table, the CPU page table and the copies the migrations made
 * must together give each reader what the program last wrote.
 *
 * @see kernel/fork.c mmput, mm/mmap.c exit_mmap (Linux v6.19): the task's exit only drops
 * mm_users; the address space is torn down by whoever drops the last reference.
 */

import { hex, PAGE_SIZE } from '../core/addr.js';
import type { MmStruct } from '../mm/mm.js';
import { VM_SHARED } from '../mm/vma.js';

/** What one page of one address space should contain, as the shadow model tracks it. */
export interface ShadowPage {
  /** The page's contents; null = every byte is `fill`. */
  bytes: Uint8Array | null;
  /** The value of every byte while `bytes` is null (0 for a page never written). */
  fill: number;
  /** Bumped by every change and by the start of every write. */
  version: number;
  /** Writes, discards and unmaps in progress. */
  busy: number;
  /** A failed or forked-over write left the value uncertain. */
  unknown: boolean;
  /** The page was unmapped (munmap): a read that returns data there is a violation. */
  unmapped: boolean;
}

/** An access in progress, from begin* to end*: the pages it covers and their state when it began. */
export interface ShadowToken {
  /** The address space accessed. */
  readonly mm: MmStruct;
  /** First user virtual address of the access. */
  readonly addr: number;
  /** Length of the access in bytes. */
  readonly length: number;
  /** The shadow pages the access covers, in address order. */
  readonly pages: ShadowPage[];
  /** Each page's version when the access began; a change means something overlapped it. */
  readonly versions: number[];
  /** Whether another write, discard or unmap was in progress on each page when the access began. */
  readonly busy: boolean[];
  /** The thread or device making the access, for violation messages. */
  readonly who: string;
}

/** The data-integrity checker's shadow of every address space (see the file comment). */
export class ShadowMemory {
  /** Every violation found, in order. */
  readonly violations: string[] = [];
  private readonly spaces = new Map<MmStruct, Map<number, ShadowPage>>();
  /** Address spaces whose task exited while a driver still held mm_users: torn down later. */
  private readonly exiting = new Set<MmStruct>();
  /** Address spaces exit_mmap tore down: a page first touched afterwards is unmapped too. */
  private readonly gone = new Set<MmStruct>();
  private pending: string | null = null;

  /** The first violation not yet taken, or null (the explorer's step hook). */
  takePending(): string | null {
    const p = this.pending;
    this.pending = null;
    return p;
  }

  private space(mm: MmStruct): Map<number, ShadowPage> {
    let s = this.spaces.get(mm);
    if (s === undefined) {
      s = new Map();
      this.spaces.set(mm, s);
    }
    return s;
  }

  private page(mm: MmStruct, vpn: number): ShadowPage {
    const s = this.space(mm);
    let p = s.get(vpn);
    if (p === undefined) {
      p = { bytes: null, fill: 0, version: 0, busy: 0, unknown: false, unmapped: this.gone.has(mm) };
      s.set(vpn, p);
    }
    return p;
  }

  private begin(mm: MmStruct, addr: number, length: number, who: string, mutate: boolean): ShadowToken {
    this.settle(mm);
    const pages: ShadowPage[] = [];
    const versions: number[] = [];
    const busy: boolean[] = [];
    const first = Math.floor(addr / PAGE_SIZE);
    const last = Math.floor((addr + Math.max(length, 1) - 1) / PAGE_SIZE);
    for (let vpn = first; vpn <= last; vpn++) {
      const p = this.page(mm, vpn);
      if (mutate) {
        p.busy++;
        p.version++;
      }
      pages.push(p);
      versions.push(p.version);
      busy.push(p.busy > (mutate ? 1 : 0));
    }
    return { mm, addr, length, pages, versions, busy, who };
  }

  /** A write of `bytes` at addr begins. */
  beginWrite(mm: MmStruct, addr: number, bytes: Uint8Array, who: string): ShadowToken {
    return this.begin(mm, addr, bytes.length, who, true);
  }

  /** The write ends: `ok` if every byte was written (false: the pages become unknown). */
  endWrite(tok: ShadowToken, bytes: Uint8Array, ok: boolean): void {
    for (let i = 0; i < tok.pages.length; i++) {
      const p = tok.pages[i] as ShadowPage;
      p.busy--;
      p.version++;
      if (!ok) {
        p.unknown = true;
        continue;
      }
      const pageStart = (Math.floor(tok.addr / PAGE_SIZE) + i) * PAGE_SIZE;
      const from = Math.max(tok.addr, pageStart);
      const to = Math.min(tok.addr + bytes.length, pageStart + PAGE_SIZE);
      const part = bytes.subarray(from - tok.addr, to - tok.addr);
      if (to - from === PAGE_SIZE && uniform(part)) {
        // a whole page of one value (most scenario writes): no copy
        p.bytes = null;
        p.fill = part[0] as number;
      } else {
        p.bytes ??= new Uint8Array(PAGE_SIZE).fill(p.fill);
        p.bytes.set(part, from - pageStart);
      }
      if (from === pageStart && to === pageStart + PAGE_SIZE) p.unknown = false;
      p.unmapped = false;
    }
  }

  /** MADV_DONTNEED (private anonymous) or munmap of [addr, addr + length) begins. */
  beginDrop(mm: MmStruct, addr: number, length: number, who: string): ShadowToken {
    return this.begin(mm, addr, length, who, true);
  }

  /** The drop ends: contents are zeros (`unmap` false) or the pages are gone (`unmap` true). */
  endDrop(tok: ShadowToken, ok: boolean, unmap: boolean): void {
    for (const p of tok.pages) {
      p.busy--;
      p.version++;
      if (!ok) {
        p.unknown = true;
        continue;
      }
      p.bytes = null;
      p.fill = 0;
      p.unknown = false;
      p.unmapped = unmap;
    }
  }

  /** A CPU or device read of [addr, addr + length) begins; endRead compares what it got. */
  beginRead(mm: MmStruct, addr: number, length: number, who: string): ShadowToken {
    return this.begin(mm, addr, length, who, false);
  }

  /** The read returned `data` (the bytes read from tok.addr on); compares the undisturbed pages. */
  endRead(tok: ShadowToken, data: Uint8Array): void {
    this.settle(tok.mm);
    for (let i = 0; i < tok.pages.length; i++) {
      const p = tok.pages[i] as ShadowPage;
      if (tok.busy[i] || p.busy > 0 || p.version !== tok.versions[i] || p.unknown) continue;
      const pageStart = (Math.floor(tok.addr / PAGE_SIZE) + i) * PAGE_SIZE;
      const from = Math.max(tok.addr, pageStart);
      const to = Math.min(tok.addr + Math.min(tok.length, data.length), pageStart + PAGE_SIZE);
      if (to <= from) continue;
      if (p.unmapped) {
        this.report(`${tok.who} read ${hex(from)} (mm ${tok.mm.id}) after it was unmapped, and got data`);
        return;
      }
      const off = firstDifference(data, from - tok.addr, p.bytes, from - pageStart, p.fill, to - from);
      if (off >= 0) {
        const a = from + off;
        const got = data[a - tok.addr] as number;
        const want = p.bytes === null ? p.fill : (p.bytes[a - pageStart] as number);
        this.report(
          `${tok.who} read 0x${got.toString(16).padStart(2, '0')} at ${hex(a)} (mm ${tok.mm.id}), ` +
            `but the last write there stored 0x${want.toString(16).padStart(2, '0')}`,
        );
        return;
      }
    }
  }

  /** Before fork: the version of every page of the parent (see fork). */
  markFork(parent: MmStruct): Map<ShadowPage, number> {
    const mark = new Map<ShadowPage, number>();
    for (const p of this.space(parent).values()) mark.set(p, p.busy > 0 ? -1 : p.version);
    return mark;
  }

  /**
   * After fork: the child's shadow. Private pages are copies, unknown if a write touched them
   * while the fork was in progress (the child may have either value); pages of VM_SHARED mappings
   * are the parent's own shadow pages.
   */
  fork(parent: MmStruct, child: MmStruct, mark: ReadonlyMap<ShadowPage, number>): void {
    const src = this.space(parent);
    const dst = this.space(child);
    for (const [vpn, p] of src) {
      // A checker reads the VMA list without the lock (vmaAt: find_vma would assert mmap_lock).
      const vma = parent.vmaAt(vpn * PAGE_SIZE);
      if (vma !== null && (vma.flags & VM_SHARED) !== 0) {
        dst.set(vpn, p);
        continue;
      }
      const raced = p.busy > 0 || mark.get(p) !== p.version;
      dst.set(vpn, {
        bytes: p.bytes === null ? null : p.bytes.slice(),
        fill: p.fill,
        version: 0,
        busy: 0,
        unknown: p.unknown || raced,
        unmapped: p.unmapped || vma === null,
      });
    }
  }

  /**
   * The task owning mm exited (its mmput returned). If that mmput was the last, exit_mmap ran and
   * every page is unmapped now; otherwise a driver's reference keeps the address space, contents
   * and all, until its own mmput (settle() notices).
   */
  exit(mm: MmStruct): void {
    this.exiting.add(mm);
    this.settle(mm);
  }

  /** An exited task's address space whose exit_mmap has run since: all its pages are gone. */
  private settle(mm: MmStruct): void {
    if (!mm.dead || !this.exiting.delete(mm)) return;
    this.gone.add(mm);
    for (const p of this.space(mm).values()) {
      p.version++;
      p.bytes = null;
      p.fill = 0;
      p.unknown = false;
      p.unmapped = true;
    }
  }

  private report(message: string): void {
    this.violations.push(message);
    this.pending ??= message;
  }
}

/**
 * The offset in [0, len) of the first byte of `data` from `dOff` on that differs from `want` from
 * `wOff` on (from `fill` when want is null: a page of one value), or -1. Four bytes at a time where
 * both views are aligned: every read of every schedule is compared with the shadow.
 */
function firstDifference(
  data: Uint8Array,
  dOff: number,
  want: Uint8Array | null,
  wOff: number,
  fill: number,
  len: number,
): number {
  let i = 0;
  const dAt = data.byteOffset + dOff;
  const wAt = want === null ? 0 : want.byteOffset + wOff;
  if (dAt % 4 === 0 && wAt % 4 === 0 && len >= 4) {
    const words = len >>> 2;
    const d32 = new Int32Array(data.buffer, dAt, words);
    if (want === null) {
      const f = Math.imul(fill, 0x01010101);
      while (i < words && d32[i] === f) i++;
    } else {
      const w32 = new Int32Array(want.buffer, wAt, words);
      while (i < words && d32[i] === w32[i]) i++;
    }
    i <<= 2; // the first byte of the first word that differs, or of the tail
  }
  for (; i < len; i++) {
    const expected = want === null ? fill : (want[wOff + i] as number);
    if (data[dOff + i] !== expected) return i;
  }
  return -1;
}

/** Eight bytes of one value, read as a double (uniform's wide compare). */
const octet = new Uint8Array(8);
const octetAsDouble = new Float64Array(octet.buffer);

function uniform(b: Uint8Array): boolean {
  const v = b[0] as number;
  // Eight bytes at a time where the view allows it: every setup write of the explorer's thousands
  // of machines a second comes through here with a whole page. Not for 0x00 (a double -0 equals
  // +0, so a stray 0x80 byte would pass) nor 0xff (eight of them are a NaN, which equals nothing).
  if (v !== 0 && v !== 0xff && b.byteOffset % 8 === 0 && b.length % 8 === 0) {
    octet.fill(v);
    const x = octetAsDouble[0] as number;
    const w = new Float64Array(b.buffer, b.byteOffset, b.length / 8);
    for (let i = 0; i < w.length; i++) if (w[i] !== x) return false;
    return true;
  }
  return firstDifference(b, 0, null, 0, v, b.length) < 0;
}
