/**
 * hmmsim's version, the one in package.json (test/core/version.test.ts keeps them equal). Replay
 * strings record it, so a schedule that no longer reproduces can say which simulator recorded it.
 */
export const HMMSIM_VERSION = '0.1.0';
