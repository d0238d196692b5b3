/**
 * The demo's report is written to a temporary file renamed into place, so a failed or interrupted
 * write never truncates the previous report; a device or FIFO is written in place, never replaced.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkReportPath, ReportFileError, writeReportFile } from '../../src/cli/reportfile.js';

const dir = mkdtempSync(join(tmpdir(), 'hmmsim-reportfile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The ReportFileError `f` throws. */
function failure(f: () => unknown): ReportFileError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ReportFileError);
    return e as ReportFileError;
  }
  throw new Error('did not throw');
}

describe('writeReportFile', () => {
  it('creates, then replaces a regular file whole, keeping its mode and leaving no temporary file', () => {
    const d = mkdtempSync(join(dir, 'plain-'));
    const p = join(d, 'r.html');
    writeReportFile(p, 'first');
    expect(readFileSync(p, 'utf8')).toBe('first');
    writeFileSync(p, 'old report');
    chmodSync(p, 0o604); // a mode the umask (022) would not give a new file
    const ino = statSync(p).ino;
    writeReportFile(p, 'new report');
    expect(readFileSync(p, 'utf8')).toBe('new report');
    expect(statSync(p).mode & 0o777).toBe(0o604);
    expect(statSync(p).ino).not.toBe(ino); // renamed into place, not rewritten
    expect(readdirSync(d)).toEqual(['r.html']);
  });

  it('a write that fails keeps the previous report byte for byte', () => {
    const d = mkdtempSync(join(dir, 'fail-'));
    const p = join(d, 'keep.html');
    writeFileSync(p, 'the previous report');
    // the temporary file's name taken by a directory: the write fails before the rename
    mkdirSync(join(d, `.keep.html.${process.pid}.tmp`));
    const e = failure(() => writeReportFile(p, 'x'.repeat(100_000)));
    expect(e.code).toBe('EISDIR');
    expect(e.message).toBe(`cannot write ${p} (EISDIR)`);
    expect(readFileSync(p, 'utf8')).toBe('the previous report');
  });

  it('through a symlink: the file it names is replaced, the link stays', () => {
    const d = mkdtempSync(join(dir, 'link-'));
    writeFileSync(join(d, 'real.html'), 'old');
    symlinkSync('real.html', join(d, 'link.html'));
    writeReportFile(join(d, 'link.html'), 'new');
    expect(lstatSync(join(d, 'link.html')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(d, 'link.html'))).toBe('real.html');
    expect(readFileSync(join(d, 'real.html'), 'utf8')).toBe('new');
  });

  it('/dev/full: ENOSPC, and the device node is written in place, never renamed over', () => {
    const e = failure(() => writeReportFile('/dev/full', 'report'));
    expect(e.code).toBe('ENOSPC');
    expect(e.message).toBe('cannot write /dev/full (ENOSPC)');
    expect(statSync('/dev/full').isCharacterDevice()).toBe(true);
    writeReportFile('/dev/null', 'report');
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
    expect(readdirSync('/dev').filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('a FIFO is written in place: the reader gets the report, the FIFO stays', async () => {
    const fifo = join(dir, 'pipe');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const reader = spawn('cat', [fifo]);
    let got = '';
    reader.stdout.on('data', (b: Buffer) => {
      got += b.toString();
    });
    const done = new Promise<void>((res) => reader.on('close', () => res()));
    writeReportFile(fifo, 'report through a fifo');
    await done;
    expect(got).toBe('report through a fifo');
    expect(statSync(fifo).isFIFO()).toBe(true);
  });
});

it('/dev/stdout redirected to a file: appended to what was printed, the file not replaced', () => {
  const out = join(dir, 'stdout.txt');
  const fd = openSync(out, 'w');
  const code = `const m = await import('./src/cli/reportfile.ts'); process.stdout.write('summary\\n'); m.writeReportFile('/dev/stdout', 'report\\n');`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    stdio: ['ignore', fd, 'pipe'],
    encoding: 'utf8',
  });
  closeSync(fd);
  expect(r.stderr).toBe('');
  expect(readFileSync(out, 'utf8')).toBe('summary\nreport\n');
});

describe('checkReportPath (before the run)', () => {
  it('refuses an empty name, a directory and a missing directory; accepts a new name', () => {
    expect(failure(() => checkReportPath('')).message).toBe("cannot write '' (an empty file name)");
    expect(failure(() => checkReportPath(dir)).code).toBe('EISDIR');
    expect(failure(() => checkReportPath(join(dir, 'no', 'such', 'r.html'))).code).toBe('ENOENT');
    expect(checkReportPath(join(dir, 'new.html'))).toBe(join(dir, 'new.html'));
    expect(readdirSync(dir)).not.toContain('new.html'); // checking writes nothing
  });
});
