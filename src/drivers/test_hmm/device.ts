/**
 * struct dmirror_device of today's test_hmm: one simulated device and the memory it hot-plugs —
 * MEMORY_DEVICE_PRIVATE (the CPU cannot map it) or MEMORY_DEVICE_COHERENT (the CPU maps it with
 * ordinary PTEs) — with the free list, the allocation counters and the HMM_DMIRROR_FLAGS state.
 *
 * The skeleton: the hardware (SimDevice) and the device's kind. Its memory (memremap_pages, page
 * allocation, folio_free, migrate_to_ram) lands with the migration commands.
 *
 * @see lib/test_hmm.c (Linux v6.19: struct dmirror_device, dmirror_allocate_chunk)
 */

import { SimDevice, type SimDeviceOptions } from '../../device/device.js';
import type { Kernel } from '../../mm/kernel.js';
import type { DeviceMemoryKind } from './uapi.js';
import { HMM_DMIRROR_MEMORY_DEVICE_COHERENT, HMM_DMIRROR_MEMORY_DEVICE_PRIVATE } from './uapi.js';

/** One simulated device of today's test_hmm (struct dmirror_device): see the file comment. */
export class TestHmmDevice {
  /** The machine's kernel, whose memory the device's pages are added to. */
  readonly kernel: Kernel;
  /** The hardware: memory size, DMA engine, counters, cost clock. */
  readonly device: SimDevice;
  /** HMM_DMIRROR_MEMORY_DEVICE_PRIVATE or HMM_DMIRROR_MEMORY_DEVICE_COHERENT. */
  readonly zoneDeviceType: number;
  /** Contexts opened on this device, for ids. */
  private contexts = 0;

  constructor(
    kernel: Kernel,
    id: number,
    memoryPages: number,
    kind: DeviceMemoryKind,
    opts: SimDeviceOptions = {},
  ) {
    this.kernel = kernel;
    this.device = new SimDevice(id, memoryPages, kernel.mem, opts);
    this.zoneDeviceType =
      kind === 'private' ? HMM_DMIRROR_MEMORY_DEVICE_PRIVATE : HMM_DMIRROR_MEMORY_DEVICE_COHERENT;
  }

  /** dmirror_is_private_zone. */
  get isPrivateZone(): boolean {
    return this.zoneDeviceType === HMM_DMIRROR_MEMORY_DEVICE_PRIVATE;
  }

  /** An id for a new context (open file) on this device. */
  newContextId(): number {
    return this.contexts++;
  }

  /** True if pfn is a page of this device's memory. */
  owns(_pfn: number): boolean {
    return false;
  }
}
