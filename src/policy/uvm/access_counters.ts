/**
 * UVM's access counters: the GPU counts its accesses to memory it maps remotely (system memory, on
 * x86 + PCIe) per tracked region of `granularity` bytes, 2 MiB by default; when a region's count
 * reaches `threshold` (256) the GPU posts a notification, and the driver's notification service
 * migrates the region's accessed pages to the GPU and clears the region's counter.
 *
 * What is counted: every device access whose translation lands in system memory, TLB hit or walk
 * alike (DeviceMmu.onRemoteAccess), since the hub counts the requests that leave for the link, not
 * the walks. Pages the device has in its own memory are never counted.
 *
 * Servicing (service_notifications_in_block → expand_notification_block → service_va_block_locked):
 * a notification carries a mask of UVM_SUB_GRANULARITY_REGIONS sub-regions that saw accesses; the
 * pages of those sub-regions still in system memory migrate (access type PREFETCH: no write needed),
 * pages already on the GPU are stale and skipped, pages the thrashing detector holds (throttled or
 * pinned) stay. The counters of serviced notifications are then cleared (BATCH_CLEAR). Which pages
 * of a region with 4 KiB system pages the driver takes differs (docs/fidelity.md).
 *
 * Off by default (uvm_perf_access_counter_migration_enable = -1: on only with ATS, which x86 + PCIe
 * lacks).
 *
 * @see kernel-open/nvidia-uvm/uvm_gpu_access_counters.c (open-gpu-kernel-modules, 2025 tree: commit
 *      06d0b2031d29; is_migration_enabled, config_granularity_to_bytes, expand_notification_block,
 *      service_va_block_locked, access_counter_clear_notifications)
 */

import { PAGE_SIZE } from '../../core/addr.js';

/** uvm_perf_access_counter_threshold's default (valid 1..65535). */
export const UVM_ACCESS_COUNTER_THRESHOLD_DEFAULT = 256;
/** UVM_PERF_ACCESS_COUNTER_THRESHOLD_MAX. */
export const UVM_ACCESS_COUNTER_THRESHOLD_MAX = 65_535;
/** The tracking granularities the hardware supports, in bytes: 64K, 2M, 16M, 16G. */
export const UVM_ACCESS_COUNTER_GRANULARITIES: readonly number[] = [2 ** 16, 2 ** 21, 2 ** 24, 2 ** 34];
/** UVM_PERF_ACCESS_COUNTER_GRANULARITY: 2 MiB. */
export const UVM_ACCESS_COUNTER_GRANULARITY_DEFAULT = 2 ** 21;
/** UVM_SUB_GRANULARITY_REGIONS: a notification says which 32nds of its region were accessed. */
export const UVM_SUB_GRANULARITY_REGIONS = 32;

/** One notification: a tracked region, its count when it reached the threshold, its accessed pages. */
export interface AccessCounterNotification {
  /** The region [start, end), granularity aligned. */
  readonly start: number;
  /** End of the region (exclusive). */
  readonly end: number;
  /** Accesses counted when the notification was posted (the threshold). */
  readonly count: number;
  /** The accessed sub-regions' pages, ascending vpns (a sub-region smaller than a page counts its page). */
  readonly vpns: readonly number[];
}

/** One tracked region's counter and the sub-regions it saw. */
interface Region {
  count: number;
  sub: number;
  notified: boolean;
}

/** The access counters of one GPU address space (see the file comment). */
export class UvmAccessCounters {
  /** Bytes one counter tracks. */
  readonly granularity: number;
  /** Accesses that post a notification. */
  readonly threshold: number;
  /** Notifications posted so far. */
  notifications = 0;
  private readonly regionPages: number;
  private readonly subPages: number;
  private readonly regions = new Map<number, Region>();
  private pending: number[] = [];

  constructor(granularity: number, threshold: number) {
    this.granularity = granularity;
    this.threshold = threshold;
    this.regionPages = granularity / PAGE_SIZE;
    this.subPages = Math.max(1, this.regionPages / UVM_SUB_GRANULARITY_REGIONS);
  }

  /** One device access to the system-memory page `vpn`; true when it posted a notification. */
  access(vpn: number): boolean {
    const key = Math.floor(vpn / this.regionPages);
    let r = this.regions.get(key);
    if (r === undefined) {
      r = { count: 0, sub: 0, notified: false };
      this.regions.set(key, r);
    }
    // The hardware counter saturates at the threshold while its notification waits.
    if (r.notified) return false;
    r.count++;
    r.sub = (r.sub | (1 << Math.floor((vpn - key * this.regionPages) / this.subPages))) >>> 0;
    if (r.count < this.threshold) return false;
    r.notified = true;
    this.notifications++;
    this.pending.push(key);
    return true;
  }

  /** The accesses counted in the region holding `vpn` since its last clear. */
  count(vpn: number): number {
    return this.regions.get(Math.floor(vpn / this.regionPages))?.count ?? 0;
  }

  /** The pending notifications, by address; their counters are cleared (the service's BATCH_CLEAR). */
  take(): AccessCounterNotification[] {
    const keys = [...this.pending].sort((a, b) => a - b);
    this.pending = [];
    return keys.map((key) => {
      const r = this.regions.get(key) as Region;
      this.regions.delete(key);
      return this.notification(key, r);
    });
  }

  private notification(key: number, r: Region): AccessCounterNotification {
    const first = key * this.regionPages;
    const vpns: number[] = [];
    for (let s = 0; s * this.subPages < this.regionPages; s++)
      if (((r.sub >>> s) & 1) === 1)
        for (let i = s * this.subPages; i < (s + 1) * this.subPages; i++) vpns.push(first + i);
    return { start: first * PAGE_SIZE, end: (first + this.regionPages) * PAGE_SIZE, count: r.count, vpns };
  }
}
