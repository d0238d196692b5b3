/**
 * Writing the demo's report file so that an interrupted or failed run never costs the previous one.
 *
 * A regular file (or a name not yet taken) is written to a temporary file beside it, flushed, and
 * renamed over the target: rename(2) within a directory is atomic, so the target holds either the
 * old report or the whole new one, never a prefix. A target that exists and is not a regular file
 * (a device such as /dev/null or /dev/full, a FIFO) is written in place: renaming over it would
 * replace the device node itself. So is any name under /dev/ (`/dev/stdout` redirected to a file:
 * a rename would take the file from under the process's own stdout). A symlink elsewhere is
 * followed, so the file it names is replaced and the link stays.
 */

import {
  accessSync,
  closeSync,
  constants,
  fchmodSync,
  fsyncSync,
  lstatSync,
  openSync,
  realpathSync,
  renameSync,
  type Stats,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/** A report that cannot be written: `code` is the errno name (ENOSPC, EACCES, EISDIR, ...). */
export class ReportFileError extends Error {
  constructor(
    readonly path: string,
    readonly code: string,
  ) {
    super(`cannot write ${path} (${code})`);
    this.name = 'ReportFileError';
  }
}

function errnoName(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e));
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ReportFileError(path, errnoName(e));
  }
}

/** The file a report for `path` goes to: absolute, through a symlink to what it names. */
function targetOf(path: string): string {
  const abs = resolve(path);
  if (abs.startsWith('/dev/')) return abs; // written as named (see the file comment)
  try {
    return lstatSync(abs).isSymbolicLink() ? realpathSync(abs) : abs;
  } catch {
    return abs; // not there (or a dangling link): the name itself
  }
}

/**
 * Whether a report can go to `path`, checked before the run so a bad path costs no work:
 * ReportFileError if it is empty, a directory, or its directory (a non-regular target: itself)
 * is not writable.
 */
export function checkReportPath(path: string): string {
  if (path === '') throw new ReportFileError("''", 'an empty file name');
  const target = targetOf(path);
  const st = statOrNull(target);
  if (st?.isDirectory()) throw new ReportFileError(target, 'EISDIR');
  try {
    accessSync(st === null || st.isFile() ? dirname(target) : target, constants.W_OK);
  } catch (e) {
    throw new ReportFileError(target, errnoName(e));
  }
  return target;
}

/** Writes `text` to `path` (see the file comment); ReportFileError if it cannot. */
export function writeReportFile(path: string, text: string): void {
  const target = targetOf(path);
  const st = statOrNull(target);
  if (st !== null && (!st.isFile() || target.startsWith('/dev/'))) {
    if (st.isDirectory()) throw new ReportFileError(target, 'EISDIR');
    try {
      // appended: /dev/stdout redirected to a file keeps what was printed before the report
      writeFileSync(target, text, { flag: 'a' });
    } catch (e) {
      throw new ReportFileError(target, errnoName(e));
    }
    return;
  }
  const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'w', 0o666);
    if (st !== null) fchmodSync(fd, st.mode & 0o777); // the previous report's mode, umask or not
    writeFileSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, target);
  } catch (e) {
    if (fd !== null) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // never created, or already renamed
    }
    throw new ReportFileError(target, errnoName(e));
  }
}
