// Debian's Chromium (/usr/bin/chromium, installed by .ci/run when absent) driven by playwright-core,
// which downloads no browser of its own. The flags keep a closed network quiet: no background
// connections, no component updates, no QUIC; playwright gives each launch a fresh profile.
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

/** Where the browser is; HMMSIM_CHROMIUM overrides it. */
export const CHROMIUM = process.env.HMMSIM_CHROMIUM ?? '/usr/bin/chromium';

/** Launches headless Chromium; a clear error when it is not installed. */
export async function launchChromium() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y --no-install-recommends chromium (.ci/run does)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
