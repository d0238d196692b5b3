/**
 * A simulated device: its memory (a ZONE_DEVICE region the driver hot-plugs through hmm_devmem),
 * its DMA engine and counters. The device page table belongs to each driver context (one per open
 * file, as in dmirror), so it lives with the driver.
 */

import type { PhysMem } from '../mm/page_alloc.js';
import { DmaEngine } from './dma.js';

export class SimDevice {
  readonly id: number;
  readonly name: string;
  /** Device memory in pages. */
  readonly memoryPages: number;
  readonly dma: DmaEngine;

  constructor(id: number, memoryPages: number, mem: PhysMem) {
    this.id = id;
    this.name = `hmm_dmirror${id}`;
    this.memoryPages = memoryPages;
    this.dma = new DmaEngine(mem);
  }
}
