/**
 * The kernel's event counters (Linux's vm_event_item, /proc/vmstat): the names the mm core, HMM
 * and migrate_vma count under (`kernel.counters.inc(name)`), each with what it counts, for reports.
 * test/mm/vm_event.test.ts checks that every name counted anywhere in src/ is described here.
 *
 * @see include/linux/vm_event_item.h (Linux v5.3; THP, pin and lazyfree names as of v6.19)
 */

export const VM_EVENT_DESCRIPTIONS: Readonly<Record<string, string>> = {
  cow: 'copy-on-write breaks on a write fault',
  device_exclusive: 'pages made device-exclusive for device atomics (make_device_exclusive, v6.19)',
  device_exclusive_restore:
    'CPU faults that restored a device-exclusive entry (remove_device_exclusive_entry)',
  device_private_fault: 'CPU faults on a device-private swap entry (migrate_to_ram)',
  exit_mmap: 'address spaces torn down at exit',
  foll_pin_acquired: 'pages pinned with FOLL_PIN (pin_user_pages)',
  foll_pin_released: 'FOLL_PIN pins released (unpin_user_page)',
  gup_longterm_migrate_coherent: 'device-coherent pages a FOLL_LONGTERM pin moved to system memory first',
  fork: 'fork calls',
  fork_cow_pinned: 'maybe-pinned anonymous pages fork copied for the child instead of sharing (v6.19)',
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
  hugetlb_cow: 'copy-on-write breaks of a hugetlb page',
  madv_dontneed: 'madvise(MADV_DONTNEED) calls',
  madv_free: 'madvise(MADV_FREE) calls',
  memremap_pages: 'device memory regions hot-plugged (memremap_pages)',
  memunmap_pages: 'device memory regions removed (memunmap_pages)',
  migrate_device_moved: 'pages migrate_vma_finalize / migrate_device_finalize moved',
  migrate_vma: 'migrate_vma calls',
  migrate_vma_inserted: 'pages migrate_vma inserted where nothing was mapped',
  migrate_vma_inserted_pmd:
    'device-private or huge PMDs migrate_vma inserted over a whole empty 2 MiB (v6.19 THP)',
  migrate_vma_moved: 'pages migrate_vma moved',
  migrate_vma_setup: 'migrate_vma_setup calls',
  migration_entry_wait: 'faults that waited on a migration entry',
  mmap: 'mmap calls',
  mprotect: 'mprotect calls',
  mremap: 'mremap calls that succeeded',
  mremap_move: 'mremap calls that moved the mapping to a new address',
  munmap: 'munmap calls',
  oom_reap: 'address spaces the OOM reaper reaped',
  oom_reap_retry: 'OOM reaper attempts that had to retry (mmap_sem busy)',
  pgfault: 'CPU page faults',
  pglazyfreed: 'lazyfree (MADV_FREE) pages reclaim freed',
  thp_collapse_alloc: 'huge pages MADV_COLLAPSE allocated',
  thp_fault_alloc: 'huge pages allocated by a fault',
  thp_fault_fallback: 'THP faults that fell back to small pages (no free aligned block)',
  thp_fault_fallback_charge: 'THP faults that fell back to small pages (memcg charge failed)',
  thp_split_page: 'huge pages split into small pages (split_huge_page)',
  thp_split_pmd: 'huge PMD mappings split into PTE mappings',
  thp_zero_page_alloc: 'huge zero pages allocated',
};
