export * from './device.js';
export * from './device_pagetable.js';
export * from './dma.js';
