/**
 * errno values (x86-64 Linux) and the errors the user-facing facade throws.
 *
 * Kernel-facing functions return numbers: >= 0 on success, -errno on failure, exactly as the
 * kernel does (DESIGN decision 5). Only the facade turns a -errno into a thrown HmmError.
 *
 * @see include/uapi/asm-generic/errno-base.h, errno.h
 */

export const EPERM = 1;
/** No such file or directory. */
export const ENOENT = 2;
/** No such process: the process has exited. */
export const ESRCH = 3;
/** Interrupted system call. */
export const EINTR = 4;
/** I/O error. */
export const EIO = 5;
/** No such device or address. */
export const ENXIO = 6;
/** Argument list too long. */
export const E2BIG = 7;
/** Bad file descriptor. */
export const EBADF = 9;
/** Try again (the call may succeed if repeated). */
export const EAGAIN = 11;
/** Out of memory. */
export const ENOMEM = 12;
/** Permission denied. */
export const EACCES = 13;
/** Bad address: nothing mapped, or not accessible. */
export const EFAULT = 14;
/** Device or resource busy. */
export const EBUSY = 16;
/** Already exists. */
export const EEXIST = 17;
/** No such device. */
export const ENODEV = 19;
/** Invalid argument. */
export const EINVAL = 22;
/** Inappropriate ioctl for device: the driver has no such command. */
export const ENOTTY = 25;
/** No space left on device. */
export const ENOSPC = 28;
/** Result out of range. */
export const ERANGE = 34;
/** Resource deadlock would occur. */
export const EDEADLK = 35;
/** Function not implemented. */
export const ENOSYS = 38;
/** Value too large for the defined data type. */
export const EOVERFLOW = 75;
/** Operation not supported (make_device_exclusive on a page that is not anonymous). */
export const EOPNOTSUPP = 95;
/** Timed out. */
export const ETIMEDOUT = 110;

const NAMES: Readonly<Record<number, string>> = {
  [EPERM]: 'EPERM',
  [ENOENT]: 'ENOENT',
  [ESRCH]: 'ESRCH',
  [EINTR]: 'EINTR',
  [EIO]: 'EIO',
  [ENXIO]: 'ENXIO',
  [E2BIG]: 'E2BIG',
  [EBADF]: 'EBADF',
  [EAGAIN]: 'EAGAIN',
  [ENOMEM]: 'ENOMEM',
  [EACCES]: 'EACCES',
  [EFAULT]: 'EFAULT',
  [EBUSY]: 'EBUSY',
  [EEXIST]: 'EEXIST',
  [ENODEV]: 'ENODEV',
  [EINVAL]: 'EINVAL',
  [ENOTTY]: 'ENOTTY',
  [ENOSPC]: 'ENOSPC',
  [ERANGE]: 'ERANGE',
  [EDEADLK]: 'EDEADLK',
  [ENOSYS]: 'ENOSYS',
  [EOVERFLOW]: 'EOVERFLOW',
  [EOPNOTSUPP]: 'EOPNOTSUPP',
  [ETIMEDOUT]: 'ETIMEDOUT',
};

const MESSAGES: Readonly<Record<number, string>> = {
  [EPERM]: 'Operation not permitted',
  [ENOENT]: 'No such file or directory',
  [ESRCH]: 'No such process',
  [EAGAIN]: 'Resource temporarily unavailable',
  [ENOMEM]: 'Cannot allocate memory',
  [EFAULT]: 'Bad address',
  [EBUSY]: 'Device or resource busy',
  [EINVAL]: 'Invalid argument',
  [ERANGE]: 'Numerical result out of range',
  [ENODEV]: 'No such device',
  [EBADF]: 'Bad file descriptor',
  [ENOTTY]: 'Inappropriate ioctl for device',
};

/** 'EFAULT' for 14 (or -14). */
export function errnoName(errno: number): string {
  const e = Math.abs(errno);
  return NAMES[e] ?? `E${e}`;
}

/** True for a kernel return value that encodes an error (-4095 .. -1, IS_ERR_VALUE). */
export function isErr(ret: number): boolean {
  return ret < 0 && ret >= -4095;
}

/** A failed kernel call seen from user space: `code` is 'EFAULT', `errno` is 14. */
export class HmmError extends Error {
  /** The errno's name, as Node's system errors carry it ('EFAULT'). */
  readonly code: string;
  /** The positive errno value (14 for EFAULT). */
  readonly errno: number;
  constructor(errno: number, syscall: string) {
    const e = Math.abs(errno);
    super(`${errnoName(e)}: ${MESSAGES[e] ?? 'error'}, ${syscall}`);
    this.name = 'HmmError';
    this.code = errnoName(e);
    this.errno = e;
  }
}

/** Throws HmmError if `ret` is a -errno; returns it otherwise. */
export function check(ret: number, syscall: string): number {
  if (ret < 0) throw new HmmError(ret, syscall);
  return ret;
}

/** A CPU access the process may not make (the kernel would deliver SIGSEGV, or SIGBUS with `signal`). */
export class SegvError extends Error {
  /** The faulting address. */
  readonly addr: number;
  /** True for a store, false for a load. */
  readonly write: boolean;
  /** The signal the kernel would deliver. */
  readonly signal: 'SIGSEGV' | 'SIGBUS';
  constructor(addr: number, write: boolean, signal: 'SIGSEGV' | 'SIGBUS' = 'SIGSEGV') {
    super(`${signal}: ${write ? 'write' : 'read'} at 0x${addr.toString(16)}`);
    this.name = 'SegvError';
    this.addr = addr;
    this.write = write;
    this.signal = signal;
  }
}

/**
 * A bad argument to a public call: names the argument and what was wrong with it. It is also an
 * HmmError with code 'EINVAL', the errno the kernel would have returned.
 */
export class ArgumentError extends HmmError {
  /** The name of the argument that was wrong. */
  readonly argument: string;
  constructor(argument: string, problem: string) {
    super(EINVAL, 'argument check');
    this.message = `invalid argument '${argument}': ${problem}`;
    this.name = 'ArgumentError';
    this.argument = argument;
  }
}

/**
 * The most pages one call may ask for when it fills a host buffer per page or per byte (pagemap,
 * walkPtes, mincore, SNAPSHOT, a CPU or device read, pread, dmirror's bounce buffer): 2^18 pages,
 * 1 GiB of data. Beyond it the facade throws ArgumentError naming the argument (the driver's bounce
 * buffer fails with -ENOMEM, as its vmalloc would), instead of allocating without bound.
 */
export const CALL_PAGES_MAX = 2 ** 18;

/** A short description of any value for an error message; never throws. */
export function describeValue(x: unknown): string {
  switch (typeof x) {
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(x);
    case 'bigint':
      return `${x}n (a bigint)`;
    case 'string':
      return `'${x.length > 40 ? `${x.slice(0, 40)}...` : x}' (a string)`;
    case 'symbol':
      return 'a symbol';
    case 'function':
      return 'a function';
  }
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  const ctor = (Object.getPrototypeOf(x) as { constructor?: { name?: unknown } } | null)?.constructor;
  const name = typeof ctor?.name === 'string' ? ctor.name : '';
  if (name === '' || name === 'Object') return 'an object';
  return `${/^[AEIO]/.test(name) ? 'an' : 'a'} ${name}`;
}
