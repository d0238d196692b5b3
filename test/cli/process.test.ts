/**
 * The hmmsim process as a shell sees it: the bin starts, one exit status of each class, its exit
 * status with a reader that closes early, Ctrl-C in a terminal, a report that cannot be written or
 * is interrupted. Each of these spawns bin/hmmsim.js (seconds each); the usage errors at the end,
 * like the other files, run main() in process.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hmmsimIn } from './run.js';

const dir = mkdtempSync(join(tmpdir(), 'hmmsim-process-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HMMSIM = [process.execPath, 'bin/hmmsim.js'];
const ENV = { ...process.env, NO_COLOR: '', FORCE_COLOR: '', CI: '' };
const SMALL = ['--list-nodes', '2000', '--tree-nodes', '2000', '--lookups', '400'];

function hmmsim(...args: string[]) {
  const r = spawnSync(HMMSIM[0] as string, [...HMMSIM.slice(1), ...args], { encoding: 'utf8', env: ENV });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** CPU time (user + system) process `pid` has used so far, from /proc/<pid>/stat; Infinity once it is gone. */
function cpuSeconds(pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return Number.POSITIVE_INFINITY; // exited: stop waiting, the assertions below say how
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // from field 3, state
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in USER_HZ (100 on Linux)
}

/** hmmsim's own exit status in `hmmsim <args> | <reader>` (bash's PIPESTATUS), and the reader's output. */
function piped(args: string, reader: string): { status: number; out: string } {
  const cmd = `${HMMSIM.join(' ')} ${args} 2>/dev/null | ${reader}; echo "hmmsim-status=\${PIPESTATUS[0]}"`;
  const r = spawnSync('bash', ['-c', cmd], { encoding: 'utf8', env: ENV });
  const m = /hmmsim-status=(\d+)\n$/.exec(r.stdout);
  expect(m, r.stdout).not.toBeNull();
  return { status: Number(m?.[1]), out: r.stdout.slice(0, m?.index) };
}

describe('the bin', () => {
  it('starts: --version prints the package.json version, exit 0; a usage error is one line, exit 2', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect(hmmsim('--version')).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
    expect(hmmsim('explore', '--bogus')).toEqual({
      code: 2,
      stdout: '',
      stderr: "hmmsim: error: unknown option '--bogus'\n",
    });
  });
});

describe('the exit status does not depend on the reader', () => {
  it('explore fault-vs-dontneed exits 1 under | head -1 and under a reader that reads nothing', () => {
    const head = piped('explore fault-vs-dontneed', 'head -1');
    expect(head.out).toBe('SEED=1 scenario=fault-vs-dontneed driver=correct protocol=seed strategy=dfs\n');
    expect(head.status).toBe(1);
    // `true` exits before hmmsim writes: every write meets EPIPE
    expect(piped('explore fault-vs-dontneed', 'true').status).toBe(1);
  });

  it('selftest --upstream exits 1 under | head -1, and a passing run 0', () => {
    // the tests whose upstream asserts fail, and more after them: head is gone long before the end
    const r = piped(
      'selftest --upstream anon_read_prot mixedmap snapshot migrate_fault anon_write',
      'head -1',
    );
    expect(r.out).toBe('TAP version 13\n');
    expect(r.status).toBe(1);
    expect(piped('selftest anon_read', 'true').status).toBe(0);
  });
});

describe('Ctrl-C during a progress bar', () => {
  it('in a pseudo-terminal: the process ends at once with status 130 and the terminal as it was', () => {
    // python3's pty: hmmsim on a terminal (so it draws its bar), ^C typed once the bar shows.
    const script = `
import json, os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execvpe(sys.argv[1], sys.argv[1:], dict(os.environ, COLUMNS="100"))
out = b""
sent = None
start = time.time()
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
    if sent is None and b"explore [" in out:
        os.write(fd, b"\\x03")
        sent = time.time()
    if time.time() - start > 40:
        os.kill(pid, 9)
_, status = os.waitpid(pid, 0)
code = 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
print(json.dumps({"status": code, "sent": sent is not None, "after": (time.time() - sent) if sent else None, "out": out.decode("latin-1")}))
`;
    const r = spawnSync(
      'python3',
      [
        '-c',
        script,
        ...HMMSIM,
        'explore',
        'fault-vs-munmap',
        '--strategy',
        'random',
        '--schedules',
        '100000000',
      ],
      { encoding: 'utf8', env: ENV },
    );
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { status: number; sent: boolean; after: number; out: string };
    expect(doc.sent).toBe(true); // the bar was drawn
    expect(doc.status).toBe(130); // 128 + SIGINT, as a shell reports it
    expect(doc.after).toBeLessThan(5); // at once, not when the 10^8 schedules are done
    // cursor visible and line wrap on: no mode set, or every one set back
    const last = (s: string) => doc.out.lastIndexOf(s);
    expect(last('\x1b[?25l')).toBeLessThanOrEqual(last('\x1b[?25h'));
    expect(last('\x1b[?7l')).toBeLessThanOrEqual(last('\x1b[?7h'));
  });
});

describe('the report file', () => {
  it('--report /dev/full: the summary, then one error line, exit 70, no stack trace', () => {
    const r = hmmsim('demo', ...SMALL, '--report', '/dev/full');
    expect(r.stdout).toMatch(/check: ok \(\d+ checks/);
    expect(r.stdout).not.toMatch(/^report: /m);
    expect(r.stderr).toBe('hmmsim: error: --report: cannot write /dev/full (ENOSPC)\n');
    expect(r.code).toBe(70);
  });

  it('an interrupted run keeps the previous report byte for byte and leaves no temporary file', async () => {
    const d = mkdtempSync(join(dir, 'keep-'));
    const keep = join(d, 'keep.html');
    writeFileSync(keep, 'the previous report');
    // a run of ~25 CPU-seconds, interrupted once it has used 3 (starting node takes about 1): mid-run
    // however loaded the machine is (a fixed 6 s wait let a smaller run finish first on a quiet one)
    const child = spawn(
      HMMSIM[0] as string,
      [...HMMSIM.slice(1), 'demo', '--list-nodes', '2000000', '--report', keep],
      {
        env: ENV,
        stdio: 'ignore',
      },
    );
    const exited = new Promise<NodeJS.Signals | null>((res) => child.on('exit', (_code, sig) => res(sig)));
    while (cpuSeconds(child.pid as number) < 3) await new Promise((res) => setTimeout(res, 100));
    child.kill('SIGINT');
    expect(await exited).toBe('SIGINT'); // interrupted mid-run, not finished
    expect(readFileSync(keep, 'utf8')).toBe('the previous report');
    expect(readdirSync(d)).toEqual(['keep.html']);
  }, 30_000);
});

describe('usage errors: one line, exit 2 (in process)', () => {
  it('help for an unknown command, an empty --report, a seed past 2^53-1', async () => {
    const help = await hmmsimIn(['help', 'nosuch'], ENV);
    expect(help).toEqual({
      code: 2,
      stdout: '',
      stderr: "hmmsim: error: unknown command 'nosuch' (hmmsim --help lists them)\n",
    });
    const empty = await hmmsimIn(['demo', '--report', ''], ENV);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toBe(
      "hmmsim: error: --report: expected a file name, got '' (--no-report writes no report)\n",
    );
    const big = await hmmsimIn(['explore', 'fault-vs-munmap', '--seed', '9007199254740992'], ENV);
    expect(big.code).toBe(2);
    expect(big.stderr).toBe(
      "hmmsim: error: option '-s, --seed <n>' argument '9007199254740992' is invalid. expected a non-negative integer up to 2^53-1.\n",
    );
  });

  it('demo --seed 4294967296: never exit 70, a stack trace or a 0-byte report', async () => {
    const report = join(dir, 'seed.html');
    const r = await hmmsimIn(['demo', ...SMALL, '--seed', '4294967296', '--json', '--report', report], ENV);
    // The demo, the CLI and the Simulator share one rule: any non-negative safe integer.
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).seed).toBe(4294967296);
    expect(readFileSync(report, 'utf8').length).toBeGreaterThan(1000);
  });
});
