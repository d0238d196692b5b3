/**
 * The reference model the mm and hmm property tests share: per process a map from virtual page to
 * what backs it (its protection, the shared object, a private copy after the first write), and how
 * a CPU access to it must end. It knows nothing of the simulator's internals.
 */

import { expect } from 'vitest';
import { SegvError } from '../../src/core/errno.js';
import { PROT_NONE, PROT_READ, PROT_WRITE } from '../../src/mm/mmap.js';
import type { Process } from '../../src/sim/process.js';

export const PAGE = 4096;
/** Where range commands land when a process maps nothing: a hole below mmap_base. */
export const HOLE_VPN = 0x7f00_0000_0000 / PAGE - 64;

export const ZEROS = new Uint8Array(PAGE);

export type Signal = 'SIGSEGV' | 'SIGBUS';

export type Kind = 'anon-private' | 'anon-shared' | 'file-private' | 'file-shared';

/** Shared backing: a file's page cache, or the object behind MAP_SHARED | MAP_ANONYMOUS. */
export class Obj {
  readonly name: string;
  /** Pages an access may touch; beyond them is SIGBUS. */
  readonly npages: number;
  readonly bytes: Uint8Array;

  constructor(name: string, sizeBytes: number) {
    this.name = name;
    this.npages = Math.ceil(sizeBytes / PAGE);
    this.bytes = new Uint8Array(this.npages * PAGE);
  }

  page(index: number): Uint8Array {
    return this.bytes.subarray(index * PAGE, (index + 1) * PAGE);
  }
}

export interface PageModel {
  prot: number;
  shared: boolean;
  /** The file or shmem object behind the page; null for private anonymous memory. */
  obj: Obj | null;
  /** Page index in obj. */
  index: number;
  /** This mapping's own copy, made by its first write (private mappings only). */
  priv: Uint8Array | null;
  /** MADV_FREE cleaned this mapping's PTE and nothing wrote through it since: reclaim may drop it. */
  lazy?: boolean;
  /** A reclaim ran while `lazy`: the page reads as `priv` or as zeros, until an access tells which. */
  maybeZero?: boolean;
}

export interface ProcModel {
  /** virtual page number -> page */
  pages: Map<number, PageModel>;
}

export function pick<T>(xs: readonly T[], sel: number): T {
  return xs[sel % xs.length] as T;
}

/** A mapped page of the process (or the hole when it maps nothing), moved by delta pages. */
export function targetVpn(pm: ProcModel, anchorSel: number, delta: number): number {
  if (pm.pages.size === 0) return HOLE_VPN + delta;
  const vpns = [...pm.pages.keys()].sort((a, b) => a - b);
  return pick(vpns, anchorSel) + delta;
}

export function beyondEof(pg: PageModel): boolean {
  return pg.obj !== null && pg.priv === null && pg.index >= pg.obj.npages;
}

export function faultOf(pg: PageModel | undefined, write: boolean): Signal | null {
  if (pg === undefined) return 'SIGSEGV';
  if (write ? !(pg.prot & PROT_WRITE) : pg.prot === PROT_NONE) return 'SIGSEGV';
  if (beyondEof(pg)) return 'SIGBUS';
  return null;
}

export function readable(pg: PageModel): Uint8Array {
  return pg.priv ?? (pg.obj !== null ? pg.obj.page(pg.index) : ZEROS);
}

export function writableBytes(pg: PageModel): Uint8Array {
  pg.lazy = false;
  if (pg.shared) return (pg.obj as Obj).page(pg.index);
  pg.priv ??= readable(pg).slice();
  return pg.priv;
}

/**
 * Walks [addr, addr+len) page by page as the CPU does, calling `chunk` for each accessible part,
 * and stops at the first page that faults: returns where and with which signal, or null.
 */
export function accessModel(
  pm: ProcModel,
  addr: number,
  len: number,
  write: boolean,
  chunk: (pg: PageModel, pageOff: number, bufOff: number, n: number) => void,
): { addr: number; signal: Signal } | null {
  for (let done = 0; done < len; ) {
    const a = addr + done;
    const pageOff = a % PAGE;
    const n = Math.min(PAGE - pageOff, len - done);
    const pg = pm.pages.get(Math.floor(a / PAGE));
    const signal = faultOf(pg, write);
    if (signal !== null) return { addr: a, signal };
    chunk(pg as PageModel, pageOff, done, n);
    done += n;
  }
  return null;
}

export function pattern(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = ((seed + i * 31) % 255) + 1;
  return b;
}

export function permsOf(prot: number, shared: boolean): string {
  return `${prot & PROT_READ ? 'r' : '-'}${prot & PROT_WRITE ? 'w' : '-'}-${shared ? 's' : 'p'}`;
}

export function expectSegv(fn: () => void, fault: { addr: number; signal: Signal }, write: boolean): void {
  let caught: unknown = null;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  if (!(caught instanceof SegvError))
    throw caught ?? new Error(`expected ${fault.signal}, the access succeeded`);
  expect({ addr: caught.addr, write: caught.write, signal: caught.signal }).toEqual({ ...fault, write });
}

/** Each page of each process: perms and backing name, as the VMAs say and as the model says. */
export function layoutOfReal(p: Process): string[] {
  const out: string[] = [];
  for (const v of p.vmas()) {
    for (let a = v.start; a < v.end; a += PAGE)
      out.push(`${(a / PAGE).toString(16)} ${v.perms} ${v.file ?? 'anon'}`);
  }
  return out;
}

export function layoutOfModel(pm: ProcModel): string[] {
  return [...pm.pages.entries()]
    .sort(([a], [b]) => a - b)
    .map(([vpn, pg]) => `${vpn.toString(16)} ${permsOf(pg.prot, pg.shared)} ${pg.obj?.name ?? 'anon'}`);
}
