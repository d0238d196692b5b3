export * from './addr.js';
export * from './assert.js';
export * from './counters.js';
export * from './crc32.js';
export * from './errno.js';
export * from './eventlog.js';
export * from './prng.js';
export * from './version.js';
