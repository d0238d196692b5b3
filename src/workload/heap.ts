/**
 * A small user-space allocator over a simulated process, the way a C program's malloc sits on
 * mmap: arenas come from private anonymous mappings, blocks are carved off the current arena by
 * bumping a pointer, and freed blocks go on a free list per size to be handed out again. `trim`
 * gives wholly free pages back with MADV_DONTNEED, as glibc's malloc_trim does; in a process with a
 * device mirror that madvise is an mmu_notifier invalidation, so the device loses its mappings of
 * those pages even when nothing was migrated.
 *
 * The bookkeeping lives on the host (live blocks by address, live blocks per page) rather than in
 * headers inside process memory, like an out-of-band slab allocator: every byte a device kernel
 * reads is then part of the data structures the demo checks.
 *
 * CPU stores go through a write buffer (staging.ts): build with `stage`, then `flush` once.
 */

import { PAGE_SIZE, pageAlignUp } from '../core/addr.js';
import { ArgumentError } from '../core/errno.js';
import { MADV_DONTNEED } from '../mm/madvise.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../mm/mmap.js';
import type { Process } from '../sim/process.js';
import { WriteBuffer } from './staging.js';

/** Every block size is a multiple of this, so any block can hold a pointer at offset 0. */
export const HEAP_GRANULE = 8;
export const HEAP_ARENA_DEFAULT = 1 << 20;
/** Largest single allocation (a sanity bound for a workload, not a simulator limit). */
export const HEAP_BLOCK_MAX = 1 << 30;
const PAGE = PAGE_SIZE;
/** Free-list entries examined for an alignment stricter than the granule before bumping instead. */
const FREE_SCAN_MAX = 16;

export interface HeapOptions {
  /** Bytes per arena mapping (default 1 MiB); a positive multiple of the page size. */
  arenaSize?: number;
}

/** One arena of a heap, as the report plots it: [start, end). */
export interface HeapRegion {
  name: string;
  start: number;
  end: number;
}

export interface TrimResult {
  /** Pages given back. */
  pages: number;
  /** madvise(MADV_DONTNEED) calls, one per run of adjacent free pages. */
  calls: number;
  ranges: { start: number; end: number }[];
}

export interface HeapStats {
  arenas: number;
  /** Live blocks and their bytes (rounded up to the granule). */
  blocks: number;
  bytes: number;
  /** Arena pages holding at least one live block. */
  pagesInUse: number;
  /** Totals over the heap's life. */
  pagesTrimmed: number;
  madvises: number;
  writes: number;
}

class Arena {
  readonly start: number;
  readonly end: number;
  /** Next free byte of the bump region. */
  top: number;
  /** Live blocks overlapping each page. */
  readonly live: Uint32Array;
  /** 1 if a block has covered the page since it was last trimmed: it may hold memory. */
  readonly touched: Uint8Array;
  /**
   * Size of the block starting at each granule (0: none). A typed array rather than a map keyed by
   * address: malloc runs 10^5 times per structure, and this is the hot part of it. An arena made
   * for one large block keeps just that block's size.
   */
  private readonly sizes: Uint32Array | null;
  private single = 0;

  constructor(start: number, length: number, dedicated: boolean) {
    this.start = start;
    this.end = start + length;
    this.top = start;
    this.live = new Uint32Array(length / PAGE);
    this.touched = new Uint8Array(length / PAGE);
    this.sizes = dedicated ? null : new Uint32Array(length / HEAP_GRANULE);
  }

  contains(addr: number): boolean {
    return addr >= this.start && addr < this.end;
  }

  /** Size of the live block at addr, 0 if no block starts there. */
  sizeAt(addr: number): number {
    const off = addr - this.start;
    if (this.sizes === null) return off === 0 ? this.single : 0;
    return off % HEAP_GRANULE === 0 ? (this.sizes[off / HEAP_GRANULE] as number) : 0;
  }

  setSize(addr: number, size: number): void {
    if (this.sizes === null) this.single = size;
    else this.sizes[(addr - this.start) / HEAP_GRANULE] = size;
  }
}

export class Heap {
  readonly process: Process;
  readonly name: string;
  readonly arenaSize: number;
  private readonly arenas: Arena[] = [];
  private current: Arena | null = null;
  private blocks = 0;
  private readonly freeLists = new Map<number, number[]>();
  private readonly buffer: WriteBuffer;
  private liveBytes = 0;
  private pagesTrimmed = 0;
  private madvises = 0;

  constructor(p: Process, name: string, opts: HeapOptions = {}) {
    const arenaSize = opts.arenaSize ?? HEAP_ARENA_DEFAULT;
    if (!Number.isInteger(arenaSize) || arenaSize <= 0 || arenaSize % PAGE_SIZE !== 0)
      throw new ArgumentError('arenaSize', `expected a positive multiple of ${PAGE_SIZE}, got ${arenaSize}`);
    if (typeof name !== 'string' || name === '') throw new ArgumentError('name', 'expected a region name');
    this.process = p;
    this.name = name;
    this.arenaSize = arenaSize;
    this.buffer = new WriteBuffer((addr, bytes) => p.write(addr, bytes));
  }

  /** A block of at least `size` bytes aligned to `align` (a power of two up to the page size). */
  malloc(size: number, align = HEAP_GRANULE): number {
    if (!Number.isInteger(size) || size <= 0 || size > HEAP_BLOCK_MAX)
      throw new ArgumentError('size', `expected 1..${HEAP_BLOCK_MAX}, got ${size}`);
    if (!Number.isInteger(align) || align <= 0 || align > PAGE_SIZE || (align & (align - 1)) !== 0)
      throw new ArgumentError('align', `expected a power of two up to ${PAGE_SIZE}, got ${align}`);
    const rounded = alignUp(size, HEAP_GRANULE);
    const addr = this.takeFree(rounded, align) ?? this.bump(rounded, align);
    const arena = this.arenaOf(addr) as Arena;
    arena.setSize(addr, rounded);
    this.blocks++;
    this.liveBytes += rounded;
    account(arena, addr, rounded, 1);
    return addr;
  }

  /** Returns a block from malloc to its free list. Its pages go back to the kernel only on trim. */
  free(addr: number): void {
    const arena = this.arenaOf(addr);
    const size = this.liveSize(arena, addr);
    (arena as Arena).setSize(addr, 0);
    this.blocks--;
    this.liveBytes -= size;
    account(arena as Arena, addr, size, -1);
    let list = this.freeLists.get(size);
    if (list === undefined) {
      list = [];
      this.freeLists.set(size, list);
    }
    list.push(addr);
  }

  /** Usable bytes of a live block. */
  sizeOf(addr: number): number {
    return this.liveSize(this.arenaOf(addr), addr);
  }

  /** Stages a CPU store (see staging.ts); nothing reaches process memory before `flush`. */
  stage(addr: number, bytes: Uint8Array): void {
    this.buffer.stage(addr, bytes);
  }

  /** Writes everything staged; returns the number of p.write calls it took. */
  flush(): number {
    return this.buffer.flush();
  }

  /** Stores staged and not yet flushed. */
  get pending(): number {
    return this.buffer.pending;
  }

  /**
   * malloc_trim: gives every touched page that holds no live block back to the kernel with
   * MADV_DONTNEED, one call per run of adjacent pages. Staged stores are flushed first, so none
   * lands on a page after it was given back.
   */
  trim(): TrimResult {
    this.flush();
    const result: TrimResult = { pages: 0, calls: 0, ranges: [] };
    for (const a of this.arenas) {
      const used = (pageAlignUp(a.top) - a.start) / PAGE;
      for (let i = 0; i < used; ) {
        if (a.live[i] !== 0 || a.touched[i] === 0) {
          i++;
          continue;
        }
        let j = i;
        while (j < used && a.live[j] === 0 && a.touched[j] === 1) a.touched[j++] = 0;
        const start = a.start + i * PAGE_SIZE;
        this.process.madvise(start, (j - i) * PAGE_SIZE, MADV_DONTNEED);
        result.ranges.push({ start, end: a.start + j * PAGE_SIZE });
        result.pages += j - i;
        result.calls++;
        i = j;
      }
    }
    this.pagesTrimmed += result.pages;
    this.madvises += result.calls;
    return result;
  }

  /** The arenas as [start, end) ranges, lowest address first. */
  regions(): HeapRegion[] {
    return this.arenas
      .map((a) => ({ name: this.name, start: a.start, end: a.end }))
      .sort((x, y) => x.start - y.start);
  }

  stats(): HeapStats {
    let pagesInUse = 0;
    for (const a of this.arenas) for (const n of a.live) if (n !== 0) pagesInUse++;
    return {
      arenas: this.arenas.length,
      blocks: this.blocks,
      bytes: this.liveBytes,
      pagesInUse,
      pagesTrimmed: this.pagesTrimmed,
      madvises: this.madvises,
      writes: this.buffer.writes,
    };
  }

  /** munmaps every arena: all blocks die, staged stores are dropped. */
  destroy(): void {
    this.buffer.discard();
    for (const a of this.arenas) this.process.munmap(a.start, a.end - a.start);
    this.arenas.length = 0;
    this.current = null;
    this.blocks = 0;
    this.freeLists.clear();
    this.liveBytes = 0;
  }

  /** Reuses the most recently freed block of this size that meets the alignment, if any. */
  private takeFree(size: number, align: number): number | undefined {
    const list = this.freeLists.get(size);
    if (list === undefined) return undefined;
    const last = list.length - 1;
    for (let i = last; i >= 0 && i > last - FREE_SCAN_MAX; i--) {
      const addr = list[i] as number;
      if (addr % align !== 0) continue;
      list[i] = list[last] as number;
      list.pop();
      return addr;
    }
    return undefined;
  }

  private bump(size: number, align: number): number {
    const a = this.current;
    if (a !== null) {
      const at = alignUp(a.top, align);
      if (at + size <= a.end) {
        a.top = at + size;
        return at;
      }
    }
    // An arena starts page aligned, which satisfies any alignment malloc accepts. A block larger
    // than an arena gets one of its own and leaves the current arena's tail for smaller blocks.
    const big = size > this.arenaSize;
    const arena = this.map(big ? pageAlignUp(size) : this.arenaSize, big);
    if (!big) this.current = arena;
    arena.top = arena.start + size;
    return arena.start;
  }

  private map(length: number, dedicated: boolean): Arena {
    const start = this.process.mmap(length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    const arena = new Arena(start, length, dedicated);
    this.arenas.push(arena);
    return arena;
  }

  private liveSize(arena: Arena | undefined, addr: number): number {
    const size = arena?.sizeAt(addr) ?? 0;
    if (size === 0)
      throw new ArgumentError('addr', `${String(addr)} is not a live block of heap '${this.name}'`);
    return size;
  }

  private arenaOf(addr: number): Arena | undefined {
    if (this.current?.contains(addr)) return this.current;
    return this.arenas.find((a) => a.contains(addr));
  }
}

/** Adds `delta` to the live count of every page [addr, addr + size) overlaps. */
function account(a: Arena, addr: number, size: number, delta: 1 | -1): void {
  const first = Math.floor((addr - a.start) / PAGE);
  const last = Math.floor((addr + size - 1 - a.start) / PAGE);
  for (let i = first; i <= last; i++) {
    a.live[i] = (a.live[i] as number) + delta;
    if (delta > 0) a.touched[i] = 1;
  }
}

function alignUp(x: number, align: number): number {
  return Math.ceil(x / align) * align;
}
