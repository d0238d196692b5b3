/**
 * The `hmmsim` command: argument parsing and printing only, over the public API.
 *
 * Exit status: 0 ok; 1 a check failed; 2 bad usage; 3 deadlock or step limit; 70 internal error or
 * an unwritable report; 130 interrupted. The status does not depend on the reader of stdout.
 *
 * main(argv, io) runs one command against the streams of `io` and returns the exit status; it
 * never exits the process. runAsProcess() is the command itself (bin/hmmsim.js): the process's
 * streams, stdout's write errors, and the status as the process's exit code.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { ArgumentError } from '../core/errno.js';
import { HMMSIM_VERSION } from '../core/version.js';
import type { DEMO_DEFAULTS, DEMO_LIMITS } from '../demo/demo.js';
import { colorEnabled } from './color.js';
import type { DemoCliOptions } from './demo.js';
import { type CliIo, withCliIo } from './io.js';
import type { SelftestCliOptions } from './selftest.js';

/**
 * The modules of the command a run names, imported before its options are defined: the simulator,
 * the report's plots and linkedom, the explorer and the selftests load only for the command that uses
 * them, so `hmmsim --version` and `--help` start in a blink. A command that is not named is defined
 * with its flags only (the help lists it), never parsed.
 */
interface CommandModules {
  demo?: { cli: typeof import('./demo.js'); defaults: typeof DEMO_DEFAULTS };
  explore?: typeof import('./explore.js');
  selftest?: typeof import('./selftest.js');
  sweep?: typeof import('./sweep.js');
}

/** The command `args` name: commander's first operand, or the topic of `help <command>`. */
function namedCommand(args: readonly string[]): string | undefined {
  return args[0] === 'help' ? args[1] : args.find((a) => !a.startsWith('-'));
}

async function loadCommand(name: string | undefined): Promise<CommandModules> {
  switch (name) {
    case 'demo': {
      const [cli, demo] = await Promise.all([import('./demo.js'), import('../demo/demo.js')]);
      return { demo: { cli, defaults: demo.DEMO_DEFAULTS } };
    }
    case 'explore':
    case 'replay':
      return { explore: await import('./explore.js') };
    case 'selftest':
      return { selftest: await import('./selftest.js') };
    case 'sweep':
      return { sweep: await import('./sweep.js') };
    default:
      return {};
  }
}

/** An option parser of a loaded command; a command that is not loaded is never parsed. */
function parser<T>(parse: ((value: string) => T) | undefined): (value: string) => T {
  return parse ?? ((value) => loaded<(v: string) => T>(undefined)(value));
}

/** A loaded command's modules; a command that was not loaded cannot run (namedCommand chose). */
function loaded<T>(m: T | undefined): T {
  if (m === undefined) throw new Error('hmmsim: a command ran whose modules were not loaded');
  return m;
}

const EXIT_OK = 0;
const EXIT_USAGE = 2;
const EXIT_DEADLOCK = 3;
const EXIT_INTERNAL = 70; // EX_SOFTWARE

const EXIT_HELP = `
Exit status:
  0   ok
  1   a check failed (the simulator did not do what Linux does)
  2   bad usage (also: a replay string that does not check out)
  3   deadlock or step limit reached
  70  internal error, or the report could not be written (after the summary)
  130 interrupted (Ctrl-C)

The status does not depend on the reader of stdout: 'hmmsim explore ... | head -1' exits as
it would unpiped.

Bad usage (an unknown command or option, a missing argument, an invalid value) is one line
on stderr and exit 2; 'hmmsim' with no command prints this help on stderr and exits 2.
`;

/** Commander's collector of a repeatable option. */
function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** --driver-module's registry, or undefined without the option. */
async function userDriversOf(
  ex: CommandModules['explore'],
  file: string | undefined,
): Promise<import('./explore.js').UserDrivers | undefined> {
  return file === undefined ? undefined : loaded(ex).loadDriverModule(file);
}

/** The library's rule for seeds (Simulator's parseSeed): a non-negative safe integer. */
function parseSeed(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError('expected a non-negative integer up to 2^53-1.');
  }
  return n;
}

/** A commander error message on one line: its suggestion ("(Did you mean ...?)") joined on. */
function oneLine(message: string): string {
  return message.trim().replace(/\s*\n\s*/g, ' ');
}

function createProgram(io: CliIo, setExit: (code: number) => void, mods: CommandModules): Command {
  const println = (line: string): void => {
    io.stdout.write(`${line}\n`);
  };
  const usage = (action: () => void): void => usageErrors(io, setExit, action);
  /** An async step whose usage error is reported as usage() does; null then. */
  const usageAsync = async <T>(step: () => Promise<T>): Promise<T | null> => {
    try {
      return await step();
    } catch (e) {
      usage(() => {
        throw e;
      });
      return null;
    }
  };
  const program = new Command();
  program.exitOverride(); // before the subcommands, which inherit it
  program
    .name('hmmsim')
    .description(
      "Linux HMM made executable, the v5.3 API and today's (v6.19): a simulated mm core, device, reference drivers and race explorer",
    )
    .version(HMMSIM_VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'print this help')
    // Set before the subcommands, which copy these settings: every usage error is one line.
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (str) => io.stdout.write(str),
      writeErr: (str) => io.stderr.write(str),
      outputError: (str, write) => write(`hmmsim: ${oneLine(str)}\n`),
      getOutHelpWidth: () => (io.stdout.isTTY ? io.stdout.columns : undefined) ?? 80,
      getErrHelpWidth: () => (io.stderr.isTTY ? io.stderr.columns : undefined) ?? 80,
      getOutHasColors: () => colorEnabled(io.stdout, io.env),
      getErrHasColors: () => colorEnabled(io.stderr, io.env),
    })
    .addHelpText(
      'after',
      `
Examples:
  $ hmmsim demo                                            list + tree shared with a device; writes hmmsim-report.html
  $ hmmsim demo --policy none                              mirroring only: nothing migrates
  $ hmmsim demo --device-pages 512                         device memory below the working set: eviction
  $ hmmsim demo --json --no-report                         one JSON document: the summary, settings and checks
  $ hmmsim explore --list                                  scenarios and driver variants
  $ hmmsim explore fault-vs-dontneed                       the seed design's race (exit 1)
  $ hmmsim explore fault-vs-dontneed --protocol seq        closed by the sequence count (exit 0)
  $ hmmsim explore fault-vs-munmap --driver no-lock-in-sync --json
  $ hmmsim replay hmmx3:fault-vs-dontneed:correct:seed:1:0.1.0:coherence:8:hmm1:AAAAAAEBAQE:daefdc44
  $ hmmsim replay <string> --html race.html                the run in the interactive viewer
  $ hmmsim sweep --workload hotspot --footprint 64MiB      five policies x eight oversubscription levels
  $ hmmsim selftest                                        hmm-tests.c on both API generations, kselftest TAP
  $ hmmsim selftest --api modern anon_read hmm.migrate --seed 3
  $ hmmsim help demo        help for one command
${EXIT_HELP}`,
    );

  const d = mods.demo?.defaults;
  const demo = mods.demo?.cli;
  /** A size option's parser (its DEMO_LIMITS bounds) and default. */
  const size = (key: keyof typeof DEMO_LIMITS): [(value: string) => number, number | undefined] => [
    parser(demo?.sizeOption(key)),
    d?.[key],
  ];
  program
    .command('demo')
    .description(
      'the main job: a process builds a linked list and a binary search tree, a device walks them through the same pointers, the CPU changes the tree, the device walks again; writes an HTML report',
    )
    .option('-s, --seed <n>', 'seed of the run', parseSeed, d?.seed)
    .option('--list-nodes <n>', 'linked-list nodes (16 bytes each)', ...size('listNodes'))
    .option('--tree-nodes <n>', 'tree nodes (32 bytes each)', ...size('treeNodes'))
    .option('--lookups <n>', 'keys the lookup kernel searches', ...size('lookups'))
    .option('--threads <n>', 'device threads of the lookup kernel', ...size('threads'))
    .option(
      '--policy <p>',
      "what a device fault migrates: 'none', 'page', 'block:k' (2^k pages), 'uvm', 'kfd', 'nouveau' (docs/policies.md)",
      parser(demo?.policyOption),
      d?.policy,
    )
    .option(
      '--device-pages <n>',
      'device memory in pages (below the working set: eviction)',
      ...size('devicePages'),
    )
    .option(
      '--cost-profile <p>',
      'pcie4-a100, pcie3-v100 or pcie5-h100',
      parser(demo?.costProfileOption),
      d?.costProfile,
    )
    .option(
      '--api <api>',
      "the driver's HMM API: 'seed' (v5.3 dmirror) or 'modern' (today's test_hmm on a v6.19 mm)",
      parser(demo?.apiOption),
      d?.api,
    )
    .option('--report <file>', 'where to write the HTML report', demo?.DEMO_REPORT_DEFAULT)
    .option('--no-report', 'do not write the report')
    .option('--html <file>', 'also write the interactive viewer page of the run (docs/viewer.md)')
    .option(
      '--json',
      'print one JSON document: ok, seed, counters, costs, report, version, command, settings, checks, warnings, traceDropped, schema',
    )
    .action((opts: DemoCliOptions) => {
      usage(() => setExit(loaded(demo).runDemoCli(opts, println)));
    });

  const ex = mods.explore;
  program
    .command('explore')
    .description('run a scenario under many schedules with the checkers on; exit 1 if a violation is found')
    .argument('[scenario]', 'a built-in scenario (see --list)')
    .option('--list', 'name the built-in scenarios and driver variants')
    .option('--driver <variant>', 'the dmirror variant to run', 'correct')
    .option(
      '--protocol <p>',
      "range validity: 'seed' (v5.3 range->valid) or 'seq' (v5.5 sequence count)",
      'seed',
    )
    .option(
      '--strategy <s>',
      "'random', 'pct', 'dfs' (bounded preemption, exhaustive) or 'dpor' (dfs with partial-order reduction)",
      'dfs',
    )
    .option(
      '--schedules <n>',
      'budget of schedules (default: all for dfs, 1000 otherwise)',
      parser(ex?.positiveInt),
    )
    .option(
      '--preemptions <k>',
      "dfs/dpor preemption bound, or 'unbounded'; pct depth - 1",
      parser(ex?.preemptionsArg),
      2,
    )
    .option('--shard <i/n>', 'run part i of n of the search (0-based), to --merge later')
    .option('--jobs <n>', 'split the search over n worker threads', parser(ex?.positiveInt))
    .option('--merge <files...>', "join the --json documents of every '--shard i/n' run")
    .option('-s, --seed <n>', 'seed of every machine built, and of random and pct', parseSeed, 1)
    .option('--json', 'print one JSON document')
    .option('--html <file>', 'write the viewer page of the violation found (docs/viewer.md)')
    .option(
      '--allow <checker:text>',
      "a known violation to go past ('seed-race', or e.g. 'kernel:livelock'); repeatable",
      collect,
      [],
    )
    .option('--no-kasan', 'explore without KASAN (use after free unseen; 10-20% more schedules per second)')
    .option(
      '--generate <n>',
      'explore n scenarios generated under --seed (gen-<seed>-<i>)',
      parser(ex?.positiveInt),
    )
    .option(
      '--driver-module <file>',
      'a module exporting a ScenarioDriverFactory (docs/writing-a-driver.md): its driver runs',
    )
    .action(async (scenario: string | undefined, opts) => {
      // dpor with --jobs, even 1, runs the split search (src/explore/dpor_shard.ts)
      const jobs = opts.jobs > 1 || (opts.jobs === 1 && opts.strategy === 'dpor');
      if (jobs && !opts.list && !opts.merge && scenario !== undefined) {
        // workers rebuild the search from plain options: a module's driver or a page cannot cross
        if (opts.driverModule !== undefined || opts.html !== undefined || opts.generate !== undefined)
          return usage(() => {
            throw new InvalidArgumentError('--jobs: not with --driver-module, --html or --generate');
          });
        return loaded(ex)
          .runExploreJobs(scenario, opts, opts.jobs, println)
          .then(setExit, (e: unknown) =>
            usage(() => {
              throw e;
            }),
          );
      }
      const userDrivers = await usageAsync(() => userDriversOf(ex, opts.driverModule));
      if (userDrivers === null) return;
      usage(() => {
        if (opts.list) return loaded(ex).listScenarios(println, opts.json === true);
        if (opts.merge) return setExit(loaded(ex).runExploreMerge(opts.merge, opts.json === true, println));
        if (!['seed', 'seq'].includes(opts.protocol))
          throw new InvalidArgumentError(`--protocol: expected seed or seq`);
        if (!['random', 'pct', 'dfs', 'dpor'].includes(opts.strategy))
          throw new InvalidArgumentError(`--strategy: expected random, pct, dfs or dpor`);
        if (opts.generate !== undefined) {
          if (scenario !== undefined)
            throw new InvalidArgumentError('--generate explores generated scenarios: name none');
          return setExit(loaded(ex).runGenerate(opts.generate, { ...opts, userDrivers }, println));
        }
        if (scenario === undefined)
          throw new InvalidArgumentError('a scenario is required (or --list, or --generate <n>)');
        setExit(loaded(ex).runExplore(scenario, { ...opts, userDrivers }, println));
      });
    });

  program
    .command('replay')
    .description(
      're-run the schedule of a replay string: the same violation, exactly (exit 1 if it reproduces one)',
    )
    .argument('<replay>', "a string printed by 'hmmsim explore' (hmmx3:..., or an older hmmx2:...)")
    .option('--json', 'print one JSON document')
    .option('--html <file>', 'write the viewer page of the run (docs/viewer.md)')
    .option('--driver-module <file>', "the module of the user's driver the string recorded")
    .action(async (replayString: string, opts: { json?: boolean; html?: string; driverModule?: string }) => {
      const user = await usageAsync(() => userDriversOf(ex, opts.driverModule));
      if (user === null) return;
      usage(() => setExit(loaded(ex).runReplay(replayString, opts.json === true, println, opts.html, user)));
    });

  program
    .command('selftest')
    .description(
      "run the kernel selftests (hmm-tests.c) on the seed API and on today's test_hmm, with kselftest's TAP output",
    )
    .argument('[name...]', 'tests to run (default: all); see Names below')
    .option('--list', 'name the tests of each run, the ones it skips with why, and its expected failures')
    .option('--api <api>', "one run only: 'seed' (the v5.3 API) or 'modern' (today's test_hmm)")
    .option('-s, --seed <n>', 'seed of every test machine', parseSeed, 1)
    .option(
      '--upstream',
      "run the kernel's own asserts where hmmsim's diverge (--list marks them; they fail)",
    )
    .option('--json', 'print one JSON document')
    .addHelpText('after', mods.selftest?.SELFTEST_HELP ?? '')
    .action((names: string[], opts: SelftestCliOptions) => {
      usage(() => setExit(loaded(mods.selftest).runSelftestCli(names, opts, println)));
    });

  program
    .command('sweep')
    .description(
      'a workload (generator or trace) under each migration policy at each oversubscription level: simulated time, faults, migrations',
    )
    .option(
      '--workload <w>',
      'a generator (stream, hotspot, srad, nw, pathfinder, gemm, backprop, bfs, random) or a trace file',
      'stream',
    )
    .option('--trace-format <f>', "a trace file's format: 'hmmsim' or 'nvbit' (default: told by its content)")
    .option('--footprint <size>', "the generator's shared memory (1GiB, 256MiB, bytes)", '1GiB')
    .option('--oversubscription <list>', 'footprint / device memory levels', '0.5,0.75,1,1.1,1.25,1.5,2,3')
    .option('--policy <list>', 'policies (parsePolicy names)', 'uvm,kfd,nouveau,page,block:4')
    .option('--cost-profile <p>', 'pcie4-a100, pcie3-v100 or pcie5-h100')
    .option('--api <api>', "'seed' (v5.3 dmirror) or 'modern' (today's test_hmm)")
    .option('--iterations <n>', "the generator's main-loop iterations (a trace's repeats)")
    .option('--threads <n>', 'device threads per launch of a generator')
    .option('-s, --seed <n>', 'seed of the machines and the generator')
    .option('--jobs <n>', 'worker threads (default: the core count)')
    .option('--shard <i/n>', 'run only configurations i, i + n, ... (0-based)')
    .option('--merge <files...>', "join shards' --json records instead of running")
    .option('--json', 'print the sweep record (docs/policies.md, "Sweeps")')
    .option('--report <file>', 'write the HTML report there')
    .option('--html <file>', "write the viewer page of one configuration's run (docs/viewer.md)")
    .option('--html-config <policy@level>', 'the configuration --html shows (default: the first)')
    .addHelpText('after', mods.sweep?.SWEEP_HELP ?? '')
    .action(async (opts) => {
      setExit(await loaded(mods.sweep).runSweepCli(opts, println));
    });

  return program;
}

/**
 * Runs an action; an InvalidArgumentError it throws, or an ArgumentError from the library (a value
 * the option parsers let through but the library refuses), is a usage error: one line, exit 2.
 */
function usageErrors(io: CliIo, setExit: (code: number) => void, action: () => void): void {
  try {
    action();
  } catch (e) {
    if (!(e instanceof InvalidArgumentError) && !(e instanceof ArgumentError)) throw e;
    io.stderr.write(`hmmsim: error: ${oneLine(e.message)}\n`);
    setExit(EXIT_USAGE);
  }
}

/** Errors the scheduler raises when no thread can run or the step budget is spent (see src/sched). */
function isDeadlockOrStepLimit(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const kind = (e as { kind?: unknown }).kind;
  return (
    e.name === 'DeadlockError' || e.name === 'StepLimitError' || kind === 'DEADLOCK' || kind === 'LIVELOCK'
  );
}

/** `hmmsim help <command>` for a command that does not exist: commander would print the whole help. */
function unknownHelpTopic(program: Command, args: readonly string[]): string | null {
  if (args[0] !== 'help' || args[1] === undefined) return null;
  const topic = args[1];
  const known = program.commands.some((c) => c.name() === topic || c.aliases().includes(topic));
  return known ? null : topic;
}

/** Runs the command `argv` (process.argv's shape: node, script, args...) on `io`; returns the exit status. */
export function main(argv: readonly string[], io: CliIo): Promise<number> {
  return withCliIo(io, () => run(argv, io));
}

async function run(argv: readonly string[], io: CliIo): Promise<number> {
  let code = EXIT_OK;
  const mods = await loadCommand(namedCommand(argv.slice(2)));
  const program = createProgram(
    io,
    (c) => {
      code = c;
    },
    mods,
  );
  const topic = unknownHelpTopic(program, argv.slice(2));
  if (topic !== null) {
    io.stderr.write(`hmmsim: error: unknown command '${topic}' (hmmsim --help lists them)\n`);
    return EXIT_USAGE;
  }
  try {
    await program.parseAsync([...argv], { from: 'node' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end with exitCode 0; every other commander error is a usage error
      // (unknown option or command, missing or invalid argument, no command given).
      return e.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    if (isDeadlockOrStepLimit(e)) {
      io.stderr.write(`hmmsim: ${(e as Error).message}\n`);
      return EXIT_DEADLOCK;
    }
    io.stderr.write(`hmmsim: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return EXIT_INTERNAL;
  }
}

/**
 * The process's streams as main()'s io. A reader that stops early (`hmmsim explore ... | head -1`)
 * is not an error, and does not change the exit status either: the output is dropped from then on
 * and the run ends with the status it computed, as it would unpiped. Another write error on stdout
 * is one line on stderr, exit 70 (set on the process: the error may arrive after main() returned).
 */
function processIo(): CliIo {
  let stdoutOpen = true;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (!stdoutOpen) return;
    stdoutOpen = false;
    if (e.code === 'EPIPE') return;
    process.stderr.write(`hmmsim: error: cannot write to stdout (${e.code ?? e.message})\n`);
    process.exitCode = EXIT_INTERNAL;
  });
  const stdout = {
    write: (text: string) => stdoutOpen && process.stdout.write(text),
    get isTTY() {
      return process.stdout.isTTY;
    },
    get columns() {
      return process.stdout.columns;
    },
  };
  return { stdout, stderr: process.stderr, env: process.env };
}

/** The `hmmsim` command in its own process: process.argv in, the status as the exit code. */
export async function runAsProcess(): Promise<void> {
  const status = await main(process.argv, processIo());
  // A write error on stdout (see processIo) may already have set 70; it is not lowered.
  process.exitCode = Math.max(status, Number(process.exitCode ?? 0));
}
