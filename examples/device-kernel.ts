/**
 * A device kernel on the CPU's own pointers: the programming model HMM exists for ("any valid
 * pointer on the CPU is also a valid pointer for the device", hmm.rst).
 *
 *   npx tsx examples/device-kernel.ts
 *
 * What it shows, in order:
 *  1. a process builds a small linked list with plain CPU stores (`p.write`), one node per page,
 *     linked in a shuffled order;
 *  2. it opens device 0 with a migration policy and launches a kernel on 4 device threads that
 *     follows the `next` pointers and sums the values; every first touch of a page is a replayable
 *     device fault that the driver services through HMM (migrating the page, as the policy says);
 *     each thread stores its partial sum into process memory;
 *  3. the CPU reads the sums back: the result page is in device memory, so the CPU faults and the
 *     page migrates back;
 *  4. a custom MigrationPolicy (migrate list nodes, only mirror everything else) for a second launch
 *     after the CPU changed every value;
 *  5. a kernel that follows a pointer into unmapped memory is killed with a DeviceKernelFault.
 *
 * `main(log)` returns the facts it printed, so test/examples.test.ts keeps this file honest.
 */

import { pathToFileURL } from 'node:url';
import {
  type DeviceCounters,
  type DeviceKernel,
  type DeviceKernelContext,
  DeviceKernelFault,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  type MigrationPolicy,
  PROT_READ,
  PROT_WRITE,
  type Process,
  Simulator,
  type Task,
} from 'hmmsim';

const PAGE_SIZE = 4096;

/*
 * struct node {      16 bytes, 8-byte aligned (device accesses must be naturally aligned)
 *   u64 next;  @0    the next node's address, 0 ends the list
 *   u32 value; @8
 * };
 */
const NEXT = 0;
const VALUE = 8;
const NODES = 8;
const THREADS = 4;
/** The order the nodes are linked in: node k lives on page k, the list visits pages in this order. */
const LINK_ORDER = [3, 0, 6, 2, 7, 5, 1, 4];

/**
 * Every thread walks the whole list (the pointers are the CPU's) and adds up the values of the
 * nodes whose position is its own modulo the thread count; it stores its sum at out[threadId].
 */
function sumList(head: number, out: number): DeviceKernel<number> {
  return function* (ctx: DeviceKernelContext): Task<number> {
    let sum = 0;
    let i = 0;
    for (let node = head; node !== 0; node = yield* ctx.loadPtr(node + NEXT), i++)
      if (i % ctx.threads === ctx.threadId) sum += yield* ctx.load32(node + VALUE);
    yield* ctx.store32(out + 4 * ctx.threadId, sum);
    return sum;
  };
}

/** The node bytes a C program would store: little-endian u64 next, u32 value. */
function nodeBytes(next: number, value: number): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setBigUint64(NEXT, BigInt(next), true);
  v.setUint32(VALUE, value, true);
  return b;
}

function u32s(p: Process, addr: number, n: number): number[] {
  const b = p.read(addr, 4 * n);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return Array.from({ length: n }, (_, i) => v.getUint32(4 * i, true));
}

/** Where each page of [a, a + n pages) is: D device memory, S system memory, - not mapped. */
function placement(p: Process, a: number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) {
    const kind = p.pte(a + i * PAGE_SIZE).kind;
    s += kind === 'device-private' ? 'D' : kind === 'present' ? 'S' : '-';
  }
  return s;
}

function delta(after: DeviceCounters, before: DeviceCounters, k: keyof DeviceCounters): number {
  return after[k] - before[k];
}

export interface Facts {
  /** Step 2: the threads' return values, what they stored, and the expected total. */
  partialSums: number[];
  stored: number[];
  expected: number;
  /** Step 2: device faults raised, batches, duplicates dropped, pages migrated, TLB hits/misses. */
  pass1: { faults: number; batches: number; duplicates: number; migrated: number; tlbMisses: number };
  /** Placement of the list pages and the result page after the first launch (and after the CPU read). */
  listAfterLaunch: string;
  outAfterLaunch: string;
  outAfterCpuRead: string;
  cpuFaults: number;
  /** Step 4: placement after the CPU's writes; sums and placements under the custom policy. */
  listAfterCpuWrites: string;
  pass2Total: number;
  pass2Expected: number;
  listAfterPass2: string;
  outAfterPass2: string;
  /** Step 5. */
  fatal: { name: string; code: string; reason: string; addr: number } | null;
  costUs: number;
}

export function main(log: (line: string) => void = console.log): Facts {
  const sim = new Simulator({ seed: 1 });
  const p = sim.createProcess();

  // 1. The list: NODES pages of nodes, plus one page for the results.
  const list = p.mmap(NODES * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  const out = p.mmap(PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  const nodeAddr = (k: number): number => list + k * PAGE_SIZE + 64;
  const values = LINK_ORDER.map((k) => 100 + k);
  LINK_ORDER.forEach((k, i) => {
    const next = i + 1 < NODES ? nodeAddr(LINK_ORDER[i + 1] as number) : 0;
    p.write(nodeAddr(k), nodeBytes(next, values[i] as number));
  });
  p.write(out, new Uint8Array(4 * THREADS));
  const head = nodeAddr(LINK_ORDER[0] as number);
  const expected = values.reduce((s, v) => s + v, 0);
  log(`1. the CPU built a list of ${NODES} nodes, one per page; head 0x${head.toString(16)}`);
  log(`   pages (list, results): ${placement(p, list, NODES)} ${placement(p, out, 1)}`);

  // 2. Device 0, migrating the faulting page to device memory on each device fault.
  const fd = sim.openDevice(0, p, { policy: 'page' });
  const c0 = sim.deviceCounters(0);
  const partialSums = fd.launch(sumList(head, out), { threads: THREADS });
  const c1 = sim.deviceCounters(0);
  const listAfterLaunch = placement(p, list, NODES);
  const outAfterLaunch = placement(p, out, 1);
  // The result page is in device memory: this CPU read is a CPU fault that migrates it back.
  const stored = u32s(p, out, THREADS);
  const outAfterCpuRead = placement(p, out, 1);
  const c2 = sim.deviceCounters(0);
  const pass1 = {
    faults: delta(c1, c0, 'faults'),
    batches: delta(c1, c0, 'faultBatches'),
    duplicates: delta(c1, c0, 'faultsDuplicate'),
    migrated: delta(c1, c0, 'migratedToDevice'),
    tlbMisses: delta(c1, c0, 'tlbMisses'),
  };
  log(`2. launch on ${THREADS} device threads, policy '${fd.policy.name}'`);
  log(`   partial sums returned: ${partialSums.join(' + ')} = ${sum(partialSums)} (expected ${expected})`);
  log(
    `   device faults: ${pass1.faults} in ${pass1.batches} batches (${pass1.duplicates} duplicates); ` +
      `pages migrated: ${pass1.migrated}; TLB misses: ${pass1.tlbMisses}`,
  );
  log(`   list pages now: ${listAfterLaunch} (D: device memory)`);

  // 3. The CPU reads what the device stored.
  const cpuFaults = delta(c2, c1, 'cpuFaults');
  log(`3. the CPU reads the stored sums: ${stored.join(' ')}`);
  log(
    `   result page: ${outAfterLaunch} -> ${outAfterCpuRead} (${cpuFaults} CPU fault on a device page migrated it back)`,
  );

  // 4. The CPU changes every value (CPU faults bring the list back), then a custom policy.
  LINK_ORDER.forEach((k, i) => {
    values[i] = (values[i] as number) * 2;
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, values[i] as number, true);
    p.write(nodeAddr(k) + VALUE, b);
  });
  const listAfterCpuWrites = placement(p, list, NODES);
  const listOnly: MigrationPolicy = {
    name: 'list-only',
    onDeviceFault: ({ addr }) =>
      addr >= list && addr < list + NODES * PAGE_SIZE ? { start: addr, end: addr + PAGE_SIZE } : null,
  };
  fd.setPolicy(listOnly);
  const pass2Total = sum(fd.launch(sumList(head, out), { threads: THREADS }));
  const pass2Expected = values.reduce((s, v) => s + v, 0);
  const listAfterPass2 = placement(p, list, NODES);
  const outAfterPass2 = placement(p, out, 1);
  log(`4. the CPU doubled every value: list pages ${listAfterCpuWrites} (its writes faulted them back)`);
  log(`   launch again with a custom policy, '${fd.policy.name}': migrate list pages, mirror the rest`);
  log(`   total ${pass2Total} (expected ${pass2Expected}); list ${listAfterPass2}, results ${outAfterPass2}`);

  // 5. A pointer to nowhere: the driver cannot map it, the launch dies.
  p.write(nodeAddr(LINK_ORDER[NODES - 1] as number) + NEXT, nodeBytes(0x1000, 0).subarray(0, 8));
  log('5. the last node now points to 0x1000, where the process maps nothing');
  let fatal: Facts['fatal'] = null;
  try {
    fd.launch(sumList(head, out), { threads: THREADS });
  } catch (e) {
    if (!(e instanceof DeviceKernelFault)) throw e;
    fatal = { name: e.name, code: e.code, reason: e.reason, addr: e.addr };
    log(`   ${e.name} (${e.code}, ${e.reason}): ${e.message}`);
  }

  const costUs = sim.deviceCosts(0).total;
  const c = sim.deviceCounters(0);
  log(
    `counters: ${c.faults} device faults, ${c.pagesMirrored} pages mirrored, ${c.migratedToDevice} migrated ` +
      `to the device, ${c.cpuFaults} CPU faults back, ${c.invalidations} invalidations; ` +
      `simulated cost ${costUs.toFixed(1)} µs`,
  );
  fd.close();
  p.exit();
  return {
    partialSums,
    stored,
    expected,
    pass1,
    listAfterLaunch,
    outAfterLaunch,
    outAfterCpuRead,
    cpuFaults,
    listAfterCpuWrites,
    pass2Total,
    pass2Expected,
    listAfterPass2,
    outAfterPass2,
    fatal,
    costUs,
  };
}

function sum(xs: readonly number[]): number {
  return xs.reduce((s, x) => s + x, 0);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
