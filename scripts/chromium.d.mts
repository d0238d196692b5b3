import type { Browser } from 'playwright-core';

/** Where the browser is; HMMSIM_CHROMIUM overrides it. */
export declare const CHROMIUM: string;
/** Launches headless Chromium; a clear error when it is not installed. */
export declare function launchChromium(): Promise<Browser>;
