/**
 * The `--html <file>` option of `hmmsim replay`, `explore` and `demo`: the viewer page of the run,
 * written through reportfile.ts (a temporary file renamed into place). The path is checked before
 * the run, so a bad one costs no work. Nothing here loads the explorer (explore.ts records its runs),
 * so `hmmsim demo` loads only what it uses.
 */

import { InvalidArgumentError } from 'commander';
import type { ViewerRun } from '../schema/viewer.js';
import type { DeviceFile } from '../sim/devicefile.js';
import type { Simulator } from '../sim/simulator.js';
import { VIEWER_EVENTS_MAX } from '../viewer/columns.js';
import { viewerHtml } from '../viewer/page.js';
import { deviceFileSource, recordSimulator, type ViewerRecorder } from '../viewer/recorder.js';
import { cliIo } from './io.js';
import { checkReportPath, ReportFileError, writeReportFile } from './reportfile.js';

/** Exit status of a run whose page could not be written (as the demo's report: EX_SOFTWARE). */
const EXIT_HTML_WRITE = 70;

export { VIEWER_EVENTS_MAX } from '../viewer/columns.js';

/** `--html`'s path, checked before the run: a usage error if it cannot be written. */
export function htmlTarget(path: string): string {
  try {
    return checkReportPath(path);
  } catch (e) {
    if (e instanceof ReportFileError) throw new InvalidArgumentError(`--html: ${e.message}`);
    throw e;
  }
}

/** Writes the page and names it on `out` (null: --json, whose stdout is one document); 0, or EXIT_HTML_WRITE with one line on stderr. */
export function writeViewerPage(
  target: string,
  run: ViewerRun,
  out: ((line: string) => void) | null,
): number {
  try {
    writeReportFile(target, viewerHtml(run));
  } catch (e) {
    if (!(e instanceof ReportFileError)) throw e;
    cliIo().stderr.write(`hmmsim: error: --html: ${e.message}\n`);
    return EXIT_HTML_WRITE;
  }
  out?.(`viewer: ${target}`);
  return 0;
}

/** A recorder for the demo, started once its device is open (DemoOptions.onBuilt). */
export class DemoRecording {
  private recorder: ViewerRecorder | null = null;

  /** The demo's onBuilt hook. */
  readonly onBuilt = (sim: Simulator, fd: DeviceFile): void => {
    this.recorder = recordSimulator(sim, [deviceFileSource(fd)], { source: 'demo', title: 'hmmsim demo' });
  };

  /** The record (sampled beyond VIEWER_EVENTS_MAX events). */
  finish(title: string): ViewerRun {
    if (this.recorder === null) throw new Error('hmmsim: the demo ended before its device opened');
    const run = this.recorder.finish({ maxEvents: VIEWER_EVENTS_MAX });
    run.title = title;
    return run;
  }
}
