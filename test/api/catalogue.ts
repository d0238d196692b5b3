/**
 * The data of the bad-input catalogue (bad-input.test.ts): the public calls, their arguments with a
 * good value and a kind, the bad values, and the allow-lists. Kept apart from the test so the
 * package issue (14) and later tests can import and extend it.
 */

import { checkAccounting } from '../../src/check/accounting.js';
import {
  ArgumentError,
  checkPolicy,
  DeviceFile,
  type DeviceKernelContext,
  HmmError,
  MADV_DONTNEED,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  MREMAP_MAYMOVE,
  type PinnedPages,
  PROT_READ,
  PROT_WRITE,
  Prng,
  Process,
  parsePolicy,
  parseSeed,
  policyBlock,
  RunToCompletion,
  type SimFile,
  Simulator,
  type Task,
} from '../../src/index.js';

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const PG = 4096;

/** The machine every call runs on, and a second one whose handles must be refused. */
export interface Fixture {
  sim: Simulator;
  p: Process;
  /** 16 pages, read-write, the first written. */
  a: number;
  file: SimFile;
  fd: DeviceFile;
  /** Today's test_hmm ({ api: 'modern' }) on device 1 for p, opened on first use. */
  readonly modern: DeviceFile;
  other: { sim: Simulator; p: Process; file: SimFile; fd: DeviceFile };
}

function machine(seed: number) {
  const sim = new Simulator({
    seed,
    ramPages: 512,
    sectionPages: 512,
    stepsMax: 200_000,
    devices: [
      { memoryPages: 64, tlbEntries: 64 },
      { memoryPages: 64, tlbEntries: 64 },
    ],
  });
  const p = sim.createProcess();
  const a = p.mmap(16 * PG, RW, ANON);
  p.write(a, new Uint8Array([1, 2, 3]));
  const file = sim.createFile(2 * PG);
  let modern: DeviceFile | undefined;
  return {
    sim,
    p,
    a,
    file,
    fd: sim.openDevice(0, p),
    get modern(): DeviceFile {
      modern ??= sim.openDevice(1, p, { api: 'modern' });
      return modern;
    },
  };
}

function fixture(): Fixture {
  const m = machine(1);
  const o = machine(2);
  return Object.assign(m, { other: { sim: o.sim, p: o.p, file: o.file, fd: o.fd } });
}

/** Values every argument is tried with. */
const COMMON: [string, unknown][] = [
  ['undefined', undefined],
  ['null', null],
  ['NaN', Number.NaN],
  ['+Infinity', Number.POSITIVE_INFINITY],
  ['-Infinity', Number.NEGATIVE_INFINITY],
  ['-1', -1],
  ['0.5', 0.5],
  ['2**53', 2 ** 53],
  ['2**64', 2 ** 64],
  ['bigint', 4096n],
  ['string', '4096'],
  ['object', { length: 1 }],
  ['array', [4096]],
  ['function', () => 4096],
];

export type Kind =
  | 'number'
  | 'string'
  | 'options'
  | 'process'
  | 'file'
  | 'memcg'
  | 'mm'
  | 'bytes'
  | 'pages'
  | 'words-out'
  | 'bytes-out'
  | 'kernel'
  | 'strategy'
  | 'task';

/** Buffers of the wrong type. */
const WRONG_BUFFERS: [string, unknown][] = [
  ['Uint16Array', new Uint16Array(4)],
  ['DataView', new DataView(new ArrayBuffer(4))],
];

/** Extra values by the kind of argument: another simulator's handle, a buffer of the wrong shape. */
const EXTRA_BY_KIND: Partial<Record<Kind, (fx: Fixture) => [string, unknown][]>> = {
  process: (fx) => [["other sim's Process", fx.other.p]],
  file: (fx) => [["other sim's SimFile", fx.other.file]],
  memcg: (fx) => [["other sim's memcg", fx.other.sim.createMemcg('cg', 8)]],
  mm: (fx) => [["other sim's mm", fx.other.p.mm]],
  bytes: () => WRONG_BUFFERS,
  // HMM_DMIRROR_WRITE's buffer: whole pages, at least one (lib/test_hmm.c copies npages * PAGE_SIZE)
  pages: () => [...WRONG_BUFFERS, ['empty', new Uint8Array(0)], ['partial page', new Uint8Array(PG + 1)]],
  'words-out': () => [
    ['too short', new Uint32Array(1)],
    ['Uint8Array', new Uint8Array(64)],
    ['Float64Array', new Float64Array(64)],
  ],
  'bytes-out': () => [
    ['too short', new Uint8Array(1)],
    ['Uint32Array', new Uint32Array(64)],
  ],
};

export interface Param {
  name: string;
  kind: Kind;
  good: (fx: Fixture) => unknown;
}

/** What a (param, value) may do instead of an ArgumentError naming it: 'accepted' or an errno code. */
export type Allow = Record<string, Record<string, { outcome: 'accepted' | string; why: string }>>;

export interface Entry {
  api: string;
  params: Param[];
  call: (fx: Fixture, args: unknown[]) => unknown;
  allow?: Allow;
}

const num = (name: string, good: (fx: Fixture) => unknown): Param => ({ name, kind: 'number', good });
const OPTIONAL = { outcome: 'accepted', why: 'optional: undefined means the default' } as const;
const optional = (...names: string[]): Allow =>
  Object.fromEntries(names.map((n) => [n, { undefined: OPTIONAL }]));
const addr = num('addr', (fx) => fx.a);
const npages = num('npages', () => 2);

/** Runs a device kernel whose body is `body` on fx's device file. */
function onDevice(fx: Fixture, body: (ctx: DeviceKernelContext) => Task<unknown>): unknown {
  return fx.fd.launch(function* (ctx: DeviceKernelContext): Task<unknown> {
    return yield* body(ctx);
  });
}

/** A device access at a bad address is a fatal MMU fault, the hardware's answer: DeviceKernelFault EINVAL. */
const DEVICE_ADDR_FAULTS: Allow = {
  addr: Object.fromEntries(
    ['-1', '2**53', '2**64'].map((l) => [
      l,
      {
        outcome: 'EINVAL',
        why: 'an integer the device cannot address: a fatal device fault (DeviceKernelFault)',
      },
    ]),
  ),
};

function deviceAccess(
  name: string,
  access: (ctx: DeviceKernelContext, args: unknown[]) => Task<unknown>,
  extra: Param[] = [],
): Entry {
  return {
    api: `DeviceKernelContext.${name}`,
    params: [addr, ...extra],
    call: (fx, args) => onDevice(fx, (ctx) => access(ctx, args)),
    allow: DEVICE_ADDR_FAULTS,
  };
}

type Method = (...args: unknown[]) => unknown;

/** Member `m` of `o`, bound to it. */
function methodOf(o: object, m: string): Method {
  return (o as Record<string, Method>)[m]?.bind(o) as Method;
}

/**
 * A method of the process (fx.p) or the device file (fx.fd) in both forms: called directly, and
 * through its generator form on `.task`, run to completion (the twin is named `<Class>.task.<method>`).
 */
function bothForms(
  on: 'p' | 'fd' | 'modern',
  method: string,
  params: Param[],
  allow?: Allow,
  after: (result: unknown) => unknown = (r) => r,
): Entry[] {
  const cls = on === 'p' ? 'Process' : 'DeviceFile';
  const sig = `${method}(${params.map((x) => x.name).join(', ')})`;
  return [
    { api: `${cls}.${sig}`, params, call: (fx, args) => after(methodOf(fx[on], method)(...args)), allow },
    {
      api: `${cls}.task.${sig}`,
      params,
      call: (fx, args) => after(fx.sim.run(method, methodOf(fx[on].task, method)(...args) as Task<unknown>)),
      allow,
    },
  ];
}

/** Every option of the Simulator, tried alone. */
function simulatorOption(name: string, allow: Record<string, { outcome: string; why: string }> = {}): Entry {
  return {
    api: `new Simulator({ ${name} })`,
    params: [num(name, () => undefined)],
    call: (_fx, [v]) => new Simulator({ [name]: v, devices: name === 'devices' ? v : [] } as never),
    allow: { [name]: { undefined: OPTIONAL, ...allow } },
  };
}

function deviceOption(name: string): Entry {
  return {
    api: `new Simulator({ devices: [{ ${name} }] })`,
    params: [num(name, () => undefined)],
    call: (_fx, [v]) => new Simulator({ ramPages: 64, devices: [{ [name]: v }] } as never),
    allow: optional(name),
  };
}

export const API: Entry[] = [
  {
    api: 'new Simulator(options)',
    params: [{ name: 'options', kind: 'options', good: () => ({}) }],
    call: (_fx, [o]) => new Simulator(o as never),
    allow: optional('options'),
  },
  simulatorOption('seed', {
    string: { outcome: 'accepted', why: "a decimal string seed, as parseSeed('4096')" },
  }),
  simulatorOption('ramPages'),
  simulatorOption('contents'),
  simulatorOption('logEvents'),
  simulatorOption('stepsMax'),
  simulatorOption('devices'),
  simulatorOption('protocol'),
  simulatorOption('sectionPages'),
  deviceOption('memoryPages'),
  deviceOption('tlbEntries'),
  deviceOption('costProfile'),
  {
    api: 'Simulator.createProcess(options)',
    params: [{ name: 'options', kind: 'options', good: () => ({}) }],
    call: (fx, [o]) => fx.sim.createProcess(o as never),
    allow: optional('options'),
  },
  {
    api: 'Simulator.createProcess({ memcg })',
    params: [{ name: 'memcg', kind: 'memcg', good: (fx) => fx.sim.createMemcg('cg', 8) }],
    call: (fx, [memcg]) => fx.sim.createProcess({ memcg } as never),
    allow: optional('memcg'),
  },
  {
    api: 'Simulator.adoptProcess(mm)',
    params: [{ name: 'mm', kind: 'mm', good: (fx) => fx.p.mm }],
    call: (fx, [mm]) => fx.sim.adoptProcess(mm as never),
  },
  {
    api: 'Simulator.createFile(size)',
    params: [num('size', () => PG)],
    call: (fx, [size]) => fx.sim.createFile(size as number),
  },
  {
    api: 'Simulator.createMemcg(name, limitPages)',
    params: [{ name: 'name', kind: 'string', good: () => 'jobs' }, num('limitPages', () => 8)],
    call: (fx, [name, limit]) => fx.sim.createMemcg(name as string, limit as number),
    allow: { name: { string: { outcome: 'accepted', why: "any non-empty unused name, '4096' too" } } },
  },
  {
    api: 'Simulator.openDevice(n, p, options)',
    params: [
      num('n', () => 0),
      { name: 'p', kind: 'process', good: (fx) => fx.p },
      { name: 'options', kind: 'options', good: () => ({}) },
    ],
    call: (fx, [n, p, o]) => fx.sim.openDevice(n as number, p as Process, o as never),
    allow: optional('options'),
  },
  {
    api: 'Simulator.openDevice(0, p, { variant, policy })',
    params: [
      { name: 'variant', kind: 'string', good: () => 'correct' },
      { name: 'policy', kind: 'string', good: () => 'page' },
    ],
    call: (fx, [variant, policy]) => fx.sim.openDevice(0, fx.p, { variant, policy } as never),
    allow: optional('variant', 'policy'),
  },
  ...(['device', 'deviceCounters', 'deviceCosts'] as const).map(
    (m): Entry => ({
      api: `Simulator.${m}(n)`,
      params: [num('n', () => 0)],
      call: (fx, [n]) => fx.sim[m](n as number),
    }),
  ),
  {
    api: 'Simulator.page(pfn)',
    params: [num('pfn', () => 1)],
    call: (fx, [pfn]) => fx.sim.page(pfn as number),
  },
  {
    api: 'Simulator.executor(strategy)',
    params: [{ name: 'strategy', kind: 'strategy', good: () => new RunToCompletion() }],
    call: (fx, [s]) => fx.sim.executor(s as never),
    allow: optional('strategy'),
  },
  {
    api: 'Simulator.run(name, task)',
    params: [
      { name: 'name', kind: 'string', good: () => 'munmap' },
      { name: 'body', kind: 'task', good: (fx) => fx.p.task.munmap(fx.a, PG) },
    ],
    call: (fx, [name, task]) => fx.sim.run(name as string, task as never),
    allow: { name: { string: { outcome: 'accepted', why: 'a task name is any string' } } },
  },
  ...bothForms(
    'p',
    'mmap',
    [
      num('length', () => PG),
      num('prot', () => RW),
      num('flags', () => MAP_SHARED),
      { name: 'file', kind: 'file', good: (fx) => fx.file },
      num('offset', () => 0),
    ],
    // MAP_SHARED | MAP_ANONYMOUS (33 = 0x21) is not in the catalogue; -1 etc. all have unknown bits.
    { offset: { undefined: OPTIONAL } },
  ),
  {
    api: 'Process.task.mmapAt(addr, length, prot, flags, file, offset)',
    params: [
      num('addr', () => 0),
      num('length', () => PG),
      num('prot', () => RW),
      num('flags', () => ANON),
      { name: 'file', kind: 'file', good: () => undefined },
      num('offset', () => 0),
    ],
    call: (fx, [a, len, prot, flags, file, off]) =>
      fx.sim.run(
        'mmapAt',
        fx.p.task.mmapAt(
          a as number,
          len as number,
          prot as number,
          flags as number,
          file as SimFile,
          off as number,
        ),
      ),
    allow: {
      file: { undefined: { outcome: 'accepted', why: 'the good call is anonymous: no file' } },
      offset: { undefined: OPTIONAL },
    },
  },
  ...bothForms('p', 'munmap', [addr, num('length', () => PG)]),
  ...bothForms('p', 'mprotect', [addr, num('length', () => PG), num('prot', () => PROT_READ)]),
  ...bothForms('p', 'madvise', [addr, num('length', () => PG), num('advice', () => MADV_DONTNEED)]),
  ...bothForms(
    'p',
    'mremap',
    [
      num('oldAddr', (fx) => fx.a),
      num('oldLen', () => PG),
      num('newLen', () => 2 * PG),
      num('flags', () => MREMAP_MAYMOVE),
      num('newAddr', () => undefined),
    ],
    { newAddr: { undefined: OPTIONAL } },
  ),
  ...bothForms(
    'p',
    'pin',
    [addr, num('npages', () => 1), { name: 'opts', kind: 'options', good: () => ({ write: true }) }],
    { opts: { undefined: OPTIONAL } },
    // a pin the call took is a reference until unpinned: the accounting check would count it a leak
    (pinned) => (pinned as PinnedPages).unpin(),
  ),
  ...bothForms('p', 'write', [addr, { name: 'bytes', kind: 'bytes', good: () => new Uint8Array([9]) }]),
  ...bothForms('p', 'read', [addr, num('length', () => 3)]),
  ...bothForms('p', 'mmapSpecial', [
    num('length', () => PG),
    num('prot', () => PROT_READ),
    { name: 'kind', kind: 'string', good: () => 'pfnmap' },
  ]),
  {
    api: 'Process.pagemap(addr, npages, out)',
    params: [addr, npages, { name: 'out', kind: 'words-out', good: () => new Uint32Array(4) }],
    call: (fx, [a, n, out]) => fx.p.pagemap(a as number, n as number, out as never),
    allow: optional('out'),
  },
  {
    api: 'Process.walkPtes(addr, npages, out)',
    params: [addr, npages, { name: 'out', kind: 'words-out', good: () => new Uint32Array(4) }],
    call: (fx, [a, n, out]) => fx.p.walkPtes(a as number, n as number, out as never),
    allow: optional('out'),
  },
  {
    api: 'Process.mincore(addr, length, vec)',
    params: [
      addr,
      num('length', () => 2 * PG),
      { name: 'vec', kind: 'bytes-out', good: () => new Uint8Array(2) },
    ],
    call: (fx, [a, len, vec]) => fx.p.mincore(a as number, len as number, vec as never),
    allow: optional('vec'),
  },
  {
    api: 'Process.pte(addr)',
    params: [addr],
    call: (fx, [a]) => fx.p.pte(a as number),
  },
  {
    api: 'SimFile.pwrite(bytes, offset)',
    params: [{ name: 'bytes', kind: 'bytes', good: () => new Uint8Array([1]) }, num('offset', () => 0)],
    call: (fx, [b, off]) => fx.file.pwrite(b as Uint8Array, off as number),
  },
  {
    api: 'SimFile.pread(length, offset)',
    params: [num('length', () => 4), num('offset', () => 0)],
    call: (fx, [len, off]) => fx.file.pread(len as number, off as number),
  },
  ...(['read', 'migrate', 'snapshot'] as const).flatMap((m) => bothForms('fd', m, [addr, npages])),
  // today's test_hmm commands, on its own device file
  ...(['migrateToSys', 'release', 'exclusive', 'checkExclusive'] as const).flatMap((m) =>
    bothForms('modern', m, [addr, npages]),
  ),
  ...bothForms('modern', 'setFlags', [num('flags', () => 0)]),
  ...bothForms('fd', 'write', [addr, { name: 'bytes', kind: 'pages', good: () => new Uint8Array(PG) }]),
  ...bothForms(
    'fd',
    'launch',
    [
      {
        name: 'kernel',
        kind: 'kernel',
        good: (fx) =>
          function* (ctx: DeviceKernelContext): Task<number> {
            return yield* ctx.load8(fx.a);
          },
      },
      { name: 'options', kind: 'options', good: () => ({}) },
    ],
    optional('options'),
  ),
  {
    api: 'DeviceFile.launch(kernel, { threads })',
    params: [num('threads', () => 2)],
    call: (fx, [threads]) =>
      fx.fd.launch(
        function* (ctx: DeviceKernelContext): Task<number> {
          return yield* ctx.load8(fx.a);
        },
        { threads } as never,
      ),
    allow: optional('threads'),
  },
  {
    api: 'DeviceFile.setPolicy(policy)',
    params: [{ name: 'policy', kind: 'string', good: () => 'page' }],
    call: (fx, [pol]) => fx.fd.setPolicy(pol as never),
  },
  deviceAccess('load8', (ctx, [a]) => ctx.load8(a as number)),
  deviceAccess('load32', (ctx, [a]) => ctx.load32(a as number)),
  deviceAccess('load64', (ctx, [a]) => ctx.load64(a as number)),
  deviceAccess('loadPtr', (ctx, [a]) => ctx.loadPtr(a as number)),
  deviceAccess('store8', (ctx, [a, v]) => ctx.store8(a as number, v as number), [num('value', () => 7)]),
  deviceAccess('store32', (ctx, [a, v]) => ctx.store32(a as number, v as number), [num('value', () => 7)]),
  {
    ...deviceAccess('store64', (ctx, [a, v]) => ctx.store64(a as number, v as bigint), [
      num('value', () => 7n),
    ]),
    allow: {
      ...DEVICE_ADDR_FAULTS,
      value: { bigint: { outcome: 'accepted', why: "a bigint is store64's value type" } },
    },
  },
  deviceAccess('storePtr', (ctx, [a, v]) => ctx.storePtr(a as number, v as number), [num('value', () => 8)]),
  deviceAccess('loadBytes', (ctx, [a, n]) => ctx.loadBytes(a as number, n as number), [
    num('length', () => 3),
  ]),
  deviceAccess('storeBytes', (ctx, [a, b]) => ctx.storeBytes(a as number, b as Uint8Array), [
    { name: 'bytes', kind: 'bytes', good: () => new Uint8Array(3) },
  ]),
  {
    api: 'parseSeed(seed)',
    params: [num('seed', () => 1)],
    call: (_fx, [s]) => parseSeed(s as number),
    allow: { seed: { string: { outcome: 'accepted', why: 'a decimal string seed' } } },
  },
  {
    api: 'new Prng(seed)',
    params: [num('seed', () => 1)],
    call: (_fx, [s]) => new Prng(s as number),
    allow: { seed: { undefined: OPTIONAL, string: { outcome: 'accepted', why: 'a decimal string seed' } } },
  },
  {
    api: 'Prng.below(n)',
    params: [num('n', () => 6)],
    call: (_fx, [n]) => new Prng(1).below(n as number),
  },
  {
    api: 'Prng.range(lo, hi)',
    params: [num('lo', () => 1), num('hi', () => 6)],
    call: (_fx, [lo, hi]) => new Prng(1).range(lo as number, hi as number),
    allow: {
      lo: {
        '-1': { outcome: 'accepted', why: 'a range may start below 0' },
      },
    },
  },
  {
    api: 'Prng.chance(num, den)',
    params: [num('num', () => 1), num('den', () => 6)],
    call: (_fx, [n, d]) => new Prng(1).chance(n as number, d as number),
  },
  {
    api: 'new Process(sim, pid, mm)',
    params: [{ name: 'mm', kind: 'mm', good: (fx) => fx.p.mm }],
    call: (fx, [mm]) => new Process(fx.sim, 99, mm as never),
  },
  {
    api: 'new DeviceFile(sim, process, dmirror)',
    params: [{ name: 'process', kind: 'process', good: (fx) => fx.p }],
    call: (fx, [p]) => new DeviceFile(fx.sim, p as never, fx.fd.dmirror),
  },
  {
    api: 'Prng.pick(items)',
    params: [{ name: 'items', kind: 'bytes', good: () => [1, 2] }],
    call: (_fx, [items]) => new Prng(1).pick(items as never),
    allow: { items: { array: { outcome: 'accepted', why: 'a one-element list, [4096], is a list' } } },
  },
  {
    api: 'policyBlock(order)',
    params: [num('order', () => 2)],
    call: (_fx, [o]) => policyBlock(o as number),
  },
  {
    api: 'parsePolicy(text)',
    params: [{ name: 'policy', kind: 'string', good: () => 'page' }],
    call: (_fx, [t]) => parsePolicy(t as string),
  },
  {
    api: 'checkPolicy(policy)',
    params: [{ name: 'policy', kind: 'string', good: () => 'page' }],
    call: (_fx, [t]) => checkPolicy(t as string),
  },
];

export interface Outcome {
  api: string;
  param: string;
  value: string;
  /** 'argument' (an ArgumentError naming the parameter), 'accepted', an errno code, or what went wrong. */
  got: string;
  ok: boolean;
}

/**
 * The names an ArgumentError for `value` in `param` may give: the parameter's, an element's
 * (`devices[0]`), or for an options bag one of its unknown keys (the option is named, not the bag).
 */
function names(param: Param, value: unknown): string[] {
  const keys =
    param.kind === 'options' && value !== null && typeof value === 'object' ? Object.keys(value) : [];
  return [param.name, `${param.name}[0]`, ...keys];
}

/** Runs one call with one bad argument on a fresh fixture and says how it ended. */
function tryOne(e: Entry, i: number, label: string, value: (fx: Fixture) => unknown): Outcome {
  const fx = fixture();
  const param = e.params[i] as Param;
  const args = e.params.map((p, j) => (j === i ? value(fx) : p.good(fx)));
  const allowed = e.allow?.[param.name]?.[label]?.outcome;
  let got: string;
  try {
    e.call(fx, args);
    got = 'accepted';
  } catch (err) {
    if (err instanceof ArgumentError)
      got =
        names(param, args[i]).includes(err.argument) || err.argument.endsWith(`.${param.name}`)
          ? 'argument'
          : `ArgumentError(${err.argument})`;
    else if (err instanceof HmmError) got = err.code;
    else got = String(err);
  }
  // The machines are still consistent: the call was refused whole or did what the kernel does.
  const broken = [...checkAccounting(fx.sim.kernel), ...checkAccounting(fx.other.sim.kernel)];
  if (broken.length > 0) got = `${got}, then accounting: ${broken.join('; ')}`;
  const ok = got === 'argument' || got === allowed;
  return { api: e.api, param: param.name, value: label, got, ok };
}

/** The k-th extra bad value of a kind, made for fixture fx (handles must be fx.other's). */
function extraValue(kind: Kind, fx: Fixture, k: number): unknown {
  const values = EXTRA_BY_KIND[kind]?.(fx) ?? [];
  return (values[k] as [string, unknown])[1];
}

export function runCatalogue(): Outcome[] {
  const out: Outcome[] = [];
  const probe = fixture();
  for (const e of API)
    e.params.forEach((p, i) => {
      const extra = EXTRA_BY_KIND[p.kind]?.(probe) ?? [];
      for (const [label, v] of COMMON) out.push(tryOne(e, i, label, () => v));
      extra.forEach(([label], k) => {
        out.push(tryOne(e, i, label, (fx) => extraValue(p.kind, fx, k)));
      });
    });
  return out;
}

// -- handles that are no longer usable -------------------------------------------------------------

/** One public call with good arguments, for the handle states below. */
export interface HandleCall {
  /** `<Class>.<member>` or `<Class>.task.<member>`, the member's own name. */
  api: string;
  call: (fx: Fixture) => unknown;
}

const kernelOn = (fx: Fixture) =>
  function* (ctx: DeviceKernelContext): Task<number> {
    return yield* ctx.load8(fx.a);
  };

/** Both forms of member `m` of the process (fx.p) or a device file (fx.fd, fx.modern), with good arguments. */
function handleCall(on: 'p' | 'fd' | 'modern', m: string, args: (fx: Fixture) => unknown[]): HandleCall[] {
  const cls = on === 'p' ? 'Process' : 'DeviceFile';
  return [
    { api: `${cls}.${m}`, call: (fx) => methodOf(fx[on], m)(...args(fx)) },
    {
      api: `${cls}.task.${m}`,
      call: (fx) => fx.sim.run(m, methodOf(fx[on].task, m)(...args(fx)) as Task<unknown>),
    },
  ];
}

/** Every public call of a Process, both forms (members without a generator form once). */
export const PROCESS_CALLS: HandleCall[] = [
  ...handleCall('p', 'mmap', () => [PG, RW, ANON]),
  ...handleCall('p', 'munmap', (fx) => [fx.a, PG]),
  ...handleCall('p', 'mprotect', (fx) => [fx.a, PG, PROT_READ]),
  ...handleCall('p', 'madvise', (fx) => [fx.a, PG, MADV_DONTNEED]),
  ...handleCall('p', 'mremap', (fx) => [fx.a, PG, 2 * PG, MREMAP_MAYMOVE]),
  ...handleCall('p', 'pin', (fx) => [fx.a, 1]),
  ...handleCall('p', 'write', (fx) => [fx.a, new Uint8Array([1])]),
  ...handleCall('p', 'read', (fx) => [fx.a, 1]),
  ...handleCall('p', 'fork', () => []),
  ...handleCall('p', 'exit', () => []),
  ...handleCall('p', 'mmapSpecial', () => [PG, PROT_READ, 'pfnmap']),
  { api: 'Process.task.mmapAt', call: (fx) => fx.sim.run('mmapAt', fx.p.task.mmapAt(0, PG, RW, ANON)) },
  { api: 'Process.pagemap', call: (fx) => fx.p.pagemap(fx.a, 1) },
  { api: 'Process.walkPtes', call: (fx) => fx.p.walkPtes(fx.a, 1) },
  { api: 'Process.mincore', call: (fx) => fx.p.mincore(fx.a, PG) },
  { api: 'Process.pte', call: (fx) => fx.p.pte(fx.a) },
  { api: 'Process.rss', call: (fx) => fx.p.rss() },
  { api: 'Process.vmas', call: (fx) => fx.p.vmas() },
  { api: 'Process.alive', call: (fx) => fx.p.alive() },
];

/** The calls that take a Process (or its mm) as an argument. */
export const CALLS_TAKING_A_PROCESS: HandleCall[] = [
  { api: 'Simulator.openDevice', call: (fx) => fx.sim.openDevice(0, fx.p) },
  { api: 'Simulator.adoptProcess', call: (fx) => fx.sim.adoptProcess(fx.p.mm) },
  { api: 'new Process', call: (fx) => new Process(fx.sim, 99, fx.p.mm) },
  { api: 'new DeviceFile', call: (fx) => new DeviceFile(fx.sim, fx.p, fx.fd.driver) },
];

/** Every public member of a DeviceFile, both forms (members without a generator form once). */
export const DEVICE_FILE_CALLS: HandleCall[] = [
  ...handleCall('fd', 'read', (fx) => [fx.a, 1]),
  ...handleCall('fd', 'write', (fx) => [fx.a, new Uint8Array(PG)]),
  ...handleCall('fd', 'migrate', (fx) => [fx.a, 1]),
  ...handleCall('fd', 'snapshot', (fx) => [fx.a, 1]),
  ...handleCall('fd', 'launch', (fx) => [kernelOn(fx)]),
  ...handleCall('fd', 'close', () => []),
  ...handleCall('modern', 'migrateToSys', (fx) => [fx.a, 1]),
  ...handleCall('modern', 'release', (fx) => [fx.a, 1]),
  ...handleCall('modern', 'exclusive', (fx) => [fx.a, 1]),
  ...handleCall('modern', 'checkExclusive', (fx) => [fx.a, 1]),
  ...handleCall('modern', 'setFlags', () => [0]),
  { api: 'DeviceFile.setPolicy', call: (fx) => fx.fd.setPolicy('page') },
  { api: 'DeviceFile.policy', call: (fx) => fx.fd.policy },
  { api: 'DeviceFile.dmirror', call: (fx) => fx.fd.dmirror },
];

/** A fixture whose handles are in `state`. */
export function fixtureIn(state: 'exited Process' | 'closed DeviceFile'): Fixture {
  const fx = fixture();
  const files = [fx.fd, fx.modern];
  if (state === 'exited Process') fx.p.exit();
  else for (const f of files) f.close();
  return fx;
}

/**
 * How a call on a handle in a state ended: 'argument(<name>)' for an ArgumentError, the errno
 * code and message for any other HmmError ('ESRCH: ...'), 'accepted', or what else was thrown.
 */
export function outcomeOf(call: () => unknown): string {
  try {
    call();
    return 'accepted';
  } catch (e) {
    if (e instanceof ArgumentError) return `argument(${e.argument})`;
    if (e instanceof HmmError) return `${e.code}: ${e.message}`;
    return `not typed: ${String(e)}`;
  }
}
