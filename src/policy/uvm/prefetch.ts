/**
 * UVM's tree-based density prefetcher, over one VA block: a bitmap of the pages resident on the
 * destination or faulted, grown to whole 64 KiB big pages around each fault (unless a page there is
 * thrashing), shifted so the tree's leaves align with big pages; then, for each faulted page, the
 * leaf-to-root walk of the binary tree over the bitmap picks the LARGEST enclosing subregion whose
 * set pages are strictly more than `threshold`% of it (`counter * 100 > pages * threshold`). The
 * union of those regions, minus the faulted and thrashing pages, is prefetched.
 *
 * Page indexes here are relative to the block's first page. The tree has `leafCount` leaves (the
 * block's pages plus the ghost leaves of the shift, as prefetch_info_get_create sizes it with 128 KiB
 * big pages) over a power-of-two span; a node's range is clamped to the leaves
 * (uvm_va_block_bitmap_tree_iter_get_range).
 *
 * @see kernel-open/nvidia-uvm/uvm_perf_prefetch.c (compute_prefetch_region, grow_fault_granularity,
 *      uvm_perf_prefetch_prenotify_fault_migrations) (open-gpu-kernel-modules 515.43.04, commit 1739a20e)
 */

/** 64 KiB big pages, in 4 KiB pages (UVM_PAGE_SIZE_64K). */
export const UVM_BIG_PAGE_PAGES = 16;
/** 128 KiB, the largest big page the tree's ghost leaves are sized for (UVM_PAGE_SIZE_128K). */
const UVM_BIG_PAGE_128K_PAGES = 32;
/** uvm_perf_prefetch_threshold's default: a region is prefetched when more than 51% of it is there. */
export const UVM_PREFETCH_THRESHOLD_DEFAULT = 51;

/** One VA block as the prefetcher sees it. */
export interface PrefetchBlock {
  /** Virtual page number of the block's first page (2 MiB aligned, or a VMA's start). */
  readonly firstVpn: number;
  /** Pages in the block (≤ 512). */
  readonly pages: number;
  /** Page indexes resident on the destination (the device). */
  readonly resident: ReadonlySet<number>;
  /** Page indexes faulted in this batch. */
  readonly faulted: ReadonlySet<number>;
  /** Page indexes the thrashing detector reports thrashing. */
  readonly thrashing: ReadonlySet<number>;
}

/** A prefetched region and why it was chosen. */
export interface PrefetchRegion {
  /** First page index of the region in the block (after clamping to the block). */
  readonly first: number;
  /** Page index past the region. */
  readonly outer: number;
  /** Set pages of the chosen subtree (resident or faulted, grown to big pages). */
  readonly count: number;
  /** Pages of the chosen subtree. */
  readonly size: number;
  /** The fault whose walk chose it (page index). */
  readonly fault: number;
}

/** What the prefetcher decided for one block. */
export interface PrefetchResult {
  /** Page indexes to prefetch (neither faulted nor thrashing), ascending. */
  readonly pages: number[];
  /** The regions the walks chose (before removing faulted and thrashing pages). */
  readonly regions: PrefetchRegion[];
}

/** Big-page-aligned span of the block for big pages of `big` pages: [first, outer) page indexes. */
function bigPageRegion(firstVpn: number, pages: number, big: number): { first: number; outer: number } {
  const first = Math.ceil(firstVpn / big) * big - firstVpn;
  const outer = Math.floor((firstVpn + pages) / big) * big - firstVpn;
  return outer > first ? { first, outer } : { first: 0, outer: 0 };
}

/** The tree's leaves: the block's pages plus ghost leaves so a 128 KiB big page starts at a leaf. */
function leafCount(b: PrefetchBlock): number {
  let big = UVM_BIG_PAGE_128K_PAGES;
  let r = bigPageRegion(b.firstVpn, b.pages, big);
  if (r.outer === 0) {
    big = UVM_BIG_PAGE_PAGES;
    r = bigPageRegion(b.firstVpn, b.pages, big);
  }
  return b.pages + (r.first > 0 ? big - r.first : 0);
}

/** The tree's bitmap, shifted by `shift` leaves: resident ∪ faulted, grown to whole big pages. */
function treeBitmap(b: PrefetchBlock, shift: number, leaves: number): Uint8Array {
  const bits = new Uint8Array(leaves);
  for (const i of b.resident) if (i < b.pages) bits[i + shift] = 1;
  for (const i of b.faulted) bits[i + shift] = 1;
  const r = bigPageRegion(b.firstVpn, b.pages, UVM_BIG_PAGE_PAGES);
  const grow = (first: number, outer: number): void => {
    let faulted = false;
    for (let i = first; i < outer; i++) {
      if (b.thrashing.has(i)) return;
      if (b.faulted.has(i)) faulted = true;
    }
    if (faulted) bits.fill(1, first + shift, outer + shift);
  };
  if (r.outer === 0) grow(0, b.pages);
  else {
    if (r.first > 0) grow(0, r.first);
    for (let s = r.first; s < r.outer; s += UVM_BIG_PAGE_PAGES) grow(s, s + UVM_BIG_PAGE_PAGES);
    if (r.outer < b.pages) grow(r.outer, b.pages);
  }
  return bits;
}

/**
 * compute_prefetch_region: the walk from leaf `leaf` to the root; the largest subregion over the
 * threshold wins. Returns [first, outer) in leaves with its count, or null (none passed).
 */
export function computePrefetchRegion(
  bits: Uint8Array,
  leaf: number,
  threshold: number,
  prefix: Int32Array = prefixCounts(bits),
): { first: number; outer: number; count: number } | null {
  const leaves = bits.length;
  let best: { first: number; outer: number; count: number } | null = null;
  for (let span = 1; ; span *= 2) {
    const first = Math.floor(leaf / span) * span;
    const outer = Math.min(first + span, leaves);
    const count = (prefix[outer] as number) - (prefix[first] as number);
    if (count * 100 > (outer - first) * threshold) best = { first, outer, count };
    if (span >= leaves) return best;
  }
}

/**
 * prefix[i] = set bits among bits[0, i): a subregion's count in two reads, where the kernel keeps a
 * count per tree node (uvm_perf_prefetch_bitmap_tree_t); one walk per faulted page of a 2 MiB block
 * otherwise summed up to 1,023 leaves.
 */
function prefixCounts(bits: Uint8Array): Int32Array {
  const prefix = new Int32Array(bits.length + 1);
  for (let i = 0; i < bits.length; i++) prefix[i + 1] = (prefix[i] as number) + (bits[i] as number);
  return prefix;
}

/** What UVM prefetches in block `b` with the given threshold (see the file comment). */
export function uvmPrefetch(b: PrefetchBlock, threshold: number): PrefetchResult {
  const bigFirst = bigPageRegion(b.firstVpn, b.pages, UVM_BIG_PAGE_PAGES).first;
  const shift = bigFirst > 0 ? UVM_BIG_PAGE_PAGES - bigFirst : 0;
  const leaves = Math.max(leafCount(b), b.pages + shift);
  const bits = treeBitmap(b, shift, leaves);
  const prefix = prefixCounts(bits);
  const want = new Uint8Array(b.pages);
  const regions: PrefetchRegion[] = [];
  const faults = [...b.faulted].filter((i) => !b.thrashing.has(i)).sort((x, y) => x - y);
  for (const f of faults) {
    const r = computePrefetchRegion(bits, f + shift, threshold, prefix);
    if (r === null) continue;
    const first = Math.max(r.first, shift) - shift;
    const outer = Math.min(r.outer, shift + b.pages) - shift;
    want.fill(1, first, outer);
    regions.push({ first, outer, count: r.count, size: r.outer - r.first, fault: f });
    if (outer === b.pages) break;
  }
  const pages: number[] = [];
  for (let i = 0; i < b.pages; i++) if (want[i] && !b.faulted.has(i) && !b.thrashing.has(i)) pages.push(i);
  return { pages, regions };
}
