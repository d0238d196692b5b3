/** The page's colours: CPU states, device states, event kinds. One place, used by the legend too. */

/** CPU states (legend.cpu names). */
export const CPU_COLORS: Record<string, string> = {
  none: '#f0f0f0',
  ro: '#9ecae1',
  rw: '#3182bd',
  zero: '#d0d0d0',
  protnone: '#fdae6b',
  migration: '#e6550d',
  'device-private': '#31a354',
  'device-exclusive': '#756bb1',
  'huge-ro': '#6baed6',
  'huge-rw': '#08519c',
  swap: '#969696',
};

/** Device page-table and TLB states (legend.device names). */
export const DEVICE_COLORS: Record<string, string> = {
  none: '#f0f0f0',
  ro: '#a1d99b',
  rw: '#31a354',
  atomic: '#756bb1',
};

/** Event kinds (legend.events names). */
export const EVENT_COLORS: Record<string, string> = {
  step: '#9e9e9e',
  fault: '#e6550d',
  lock: '#636363',
  unlock: '#bdbdbd',
  migrate: '#31a354',
  dma: '#3182bd',
  switch: '#ffffff',
  preempt: '#d62728',
  'invalidate-start': '#9467bd',
  'invalidate-end': '#c5b0d5',
  'interval-invalidate': '#7b4173',
  'mirror-callback': '#8c564b',
  'range-valid': '#17becf',
  'device-store': '#2ca02c',
  'device-erase': '#ff7f0e',
  'device-clear': '#ff7f0e',
  kernel: '#7f7f7f',
  violation: '#d62728',
};
