/**
 * The kernel's event counters (Linux's vm_event_item, /proc/vmstat): the names the mm core, HMM
 * and migrate_vma count under (`kernel.counters.inc(name)`), each with what it counts, for reports.
 * test/mm/vm_event.test.ts checks that every name counted anywhere in src/ is described here.
 *
 * @see include/linux/vm_event_item.h (Linux v5.3)
 */

export const VM_EVENT_DESCRIPTIONS: Readonly<Record<string, string>> = {
  cow: 'copy-on-write breaks on a write fault',
  device_private_fault: 'CPU faults on a device-private swap entry (migrate_to_ram)',
  exit_mmap: 'address spaces torn down at exit',
  fork: 'fork calls',
  hmm_create: 'struct hmm created for an mm',
  hmm_devmem_add: 'device memory regions hot-plugged (hmm_devmem_add)',
  hmm_devmem_fault: 'CPU faults handed to a device memory region (devmem fault callback)',
  hmm_fault: 'hmm_range_fault calls that faulted pages in',
  hmm_free: 'struct hmm freed',
  hmm_invalidate: 'invalidations HMM passed to its mirrors',
  hmm_invalidate_eagain: 'invalidations a mirror could not take without blocking (-EAGAIN)',
  hmm_migration_wait: 'HMM walks that waited on a migration entry',
  hmm_mirror_register: 'mirrors registered',
  hmm_mirror_unregister: 'mirrors unregistered',
  hmm_range_register: 'ranges registered for a snapshot or fault',
  hmm_range_unregister: 'ranges unregistered',
  hmm_release: 'mm teardowns HMM told its mirrors about (release)',
  madv_dontneed: 'madvise(MADV_DONTNEED) calls',
  migrate_vma: 'migrate_vma calls',
  migrate_vma_inserted: 'pages migrate_vma inserted where nothing was mapped',
  migrate_vma_moved: 'pages migrate_vma moved',
  migration_entry_wait: 'faults that waited on a migration entry',
  mmap: 'mmap calls',
  mprotect: 'mprotect calls',
  munmap: 'munmap calls',
  oom_reap: 'address spaces the OOM reaper reaped',
  oom_reap_retry: 'OOM reaper attempts that had to retry (mmap_sem busy)',
  pgfault: 'CPU page faults',
};
