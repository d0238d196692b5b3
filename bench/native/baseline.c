/*
 * Native baselines for the hmmsim benchmarks (bench/run.ts compiles this with `cc -O2` into bench/.build/).
 *
 * Each operation is the kernel doing the analogous work to one simulator benchmark, without the cost of a
 * trap per page: on a virtualised guest a first-touch page fault costs ~10 us, ~20x the in-kernel work,
 * so we compare against syscalls that do the per-page work in one kernel entry.
 *
 *   populate-write  madvise(MADV_POPULATE_WRITE) of N missing anonymous pages (fresh mmap each rep)
 *   populate-write-thp  the same on a 2 MiB-aligned MADV_HUGEPAGE mapping (THP faults when enabled)
 *   pagemap         pread() of N 8-byte entries of /proc/self/pagemap over N resident pages
 *   mincore         mincore() of N resident pages
 *   mprotect        mprotect(PROT_READ) of N resident pages (fresh populated mapping each rep)
 *   munmap          munmap() of N resident pages (fresh populated mapping each rep)
 *   mremap          mremap(MREMAP_MAYMOVE|MREMAP_FIXED) of N resident pages to a free range (fresh
 *                   populated mapping each rep). Source and destination sit at different offsets from
 *                   a 2 MiB boundary, so the kernel moves PTE by PTE (move_ptes) as the simulator
 *                   does, not whole PMD tables (move_normal_pmd)
 *   populate-read   madvise(MADV_POPULATE_READ) of N pages that are already resident (one mapping,
 *                   populated once): the kernel walks and finds nothing to fault
 *   memcpy-scattered  memcpy of N 4 KiB pages from one buffer to pages of another in a shuffled order,
 *                   then back: the data a migration to device memory and back copies, page by page
 *   touch-write     one store per page to N missing pages: N first-touch faults (fresh mmap each rep).
 *                   Not run by the harness; it shows the trap cost the other baselines leave out.
 *
 * Only the named syscall is timed (CLOCK_MONOTONIC). Every mapping gets MADV_NOHUGEPAGE so the kernel
 * works in 4 KiB pages, as the simulator does. After `warmup` untimed repetitions, `reps` timed ones are
 * taken and the median is reported.
 *
 * Usage: baseline [--reps R] [--warmup W] [--pages N[,N...]] [op ...]   (default: all ops but touch-write)
 * Output: one JSON object per line on stdout:
 *   {"type":"info","pageSize":4096,...}
 *   {"type":"result","op":"mincore","pages":16384,"reps":5,"medianNs":...,"nsPerPage":...,"samplesNs":[...]}
 *   {"type":"error","op":"populate-write","pages":16384,"errno":22,"message":"Invalid argument"}
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14 */
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif
#ifndef MADV_HUGEPAGE
#define MADV_HUGEPAGE 14
#endif
#ifndef MADV_NOHUGEPAGE
#define MADV_NOHUGEPAGE 15
#endif

#define MAX_REPS 1000
#define MAX_SIZES 16

static long page_size;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* One timed repetition: returns elapsed ns (>= 0) or -errno. `state` is per-op scratch. */
typedef int64_t (*rep_fn)(size_t pages, void *state);

struct op {
  const char *name;
  int (*setup)(size_t pages, void **state); /* once per size, untimed; may be NULL */
  rep_fn rep;
  void (*teardown)(size_t pages, void *state);
};

/* ---- helpers ------------------------------------------------------------------------------------- */

static void *map_anon(size_t pages) {
  void *p = mmap(NULL, pages * (size_t)page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return NULL;
  (void)madvise(p, pages * (size_t)page_size, MADV_NOHUGEPAGE); /* best effort */
  return p;
}

/* A fresh mapping with every page resident and written. Returns NULL with errno set on failure. */
static void *map_populated(size_t pages) {
  void *p = map_anon(pages);
  if (!p) return NULL;
  if (madvise(p, pages * (size_t)page_size, MADV_POPULATE_WRITE) != 0) {
    /* Kernels before 5.14: touch each page instead. */
    for (size_t i = 0; i < pages; i++) ((volatile char *)p)[i * (size_t)page_size] = 1;
  }
  return p;
}

/* ---- populate-write ------------------------------------------------------------------------------ */

static int64_t rep_populate_write(size_t pages, void *state) {
  (void)state;
  void *p = map_anon(pages);
  if (!p) return -errno;
  int64_t t0 = now_ns();
  int rc = madvise(p, pages * (size_t)page_size, MADV_POPULATE_WRITE);
  int64_t t1 = now_ns();
  int err = errno;
  munmap(p, pages * (size_t)page_size);
  return rc == 0 ? t1 - t0 : -err;
}

/* ---- populate-write-thp ------------------------------------------------------------------------- */

#define HPAGE_BYTES ((size_t)2 << 20)

/*
 * MADV_POPULATE_WRITE of N missing pages of a 2 MiB-aligned MADV_HUGEPAGE mapping: with THP enabled
 * ("madvise" or "always") the kernel faults in N/512 huge pages (allocation and zeroing of 2 MiB
 * each), else N small pages. The mapping is over-allocated by 2 MiB and aligned inside.
 */
static int64_t rep_populate_write_thp(size_t pages, void *state) {
  (void)state;
  size_t len = pages * (size_t)page_size;
  char *raw = mmap(NULL, len + HPAGE_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return -errno;
  char *p = (char *)(((uintptr_t)raw + HPAGE_BYTES - 1) & ~(uintptr_t)(HPAGE_BYTES - 1));
  (void)madvise(p, len, MADV_HUGEPAGE);
  int64_t t0 = now_ns();
  int rc = madvise(p, len, MADV_POPULATE_WRITE);
  int64_t t1 = now_ns();
  int err = errno;
  munmap(raw, len + HPAGE_BYTES);
  return rc == 0 ? t1 - t0 : -err;
}

/* ---- touch-write (informational) ---------------------------------------------------------------- */

static int64_t rep_touch_write(size_t pages, void *state) {
  (void)state;
  volatile char *p = map_anon(pages);
  if (!p) return -errno;
  int64_t t0 = now_ns();
  for (size_t i = 0; i < pages; i++) p[i * (size_t)page_size] = 1;
  int64_t t1 = now_ns();
  munmap((void *)p, pages * (size_t)page_size);
  return t1 - t0;
}

/* ---- pagemap ------------------------------------------------------------------------------------- */

struct walk_state {
  void *area;
  int fd;
  uint64_t *buf;
  unsigned char *vec;
};

static int setup_walk(size_t pages, void **state) {
  struct walk_state *s = calloc(1, sizeof *s);
  if (!s) return -ENOMEM;
  s->fd = -1;
  s->area = map_populated(pages);
  s->buf = malloc(pages * sizeof(uint64_t));
  s->vec = malloc(pages);
  if (!s->area || !s->buf || !s->vec) {
    if (s->area) munmap(s->area, pages * (size_t)page_size);
    free(s->buf);
    free(s->vec);
    free(s);
    return -ENOMEM;
  }
  /* Fault the output buffers in, so the timed syscall does not take faults on them. */
  memset(s->buf, 0, pages * sizeof(uint64_t));
  memset(s->vec, 0, pages);
  *state = s;
  return 0;
}

static int setup_pagemap(size_t pages, void **state) {
  int rc = setup_walk(pages, state);
  if (rc) return rc;
  struct walk_state *s = *state;
  s->fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (s->fd < 0) return -errno;
  return 0;
}

static void teardown_walk(size_t pages, void *state) {
  struct walk_state *s = state;
  if (!s) return;
  if (s->fd >= 0) close(s->fd);
  if (s->area) munmap(s->area, pages * (size_t)page_size);
  free(s->buf);
  free(s->vec);
  free(s);
}

static int64_t rep_pagemap(size_t pages, void *state) {
  struct walk_state *s = state;
  off_t off = (off_t)((uintptr_t)s->area / (uintptr_t)page_size) * 8;
  size_t want = pages * 8;
  int64_t t0 = now_ns();
  ssize_t n = pread(s->fd, s->buf, want, off);
  int64_t t1 = now_ns();
  if (n < 0) return -errno;
  if ((size_t)n != want) return -EIO;
  /* Every page must be present (bit 63), or the baseline is not measuring a walk of resident pages. */
  if (!(s->buf[0] >> 63) || !(s->buf[pages - 1] >> 63)) return -EFAULT;
  return t1 - t0;
}

/* ---- mincore ------------------------------------------------------------------------------------- */

static int64_t rep_mincore(size_t pages, void *state) {
  struct walk_state *s = state;
  int64_t t0 = now_ns();
  int rc = mincore(s->area, pages * (size_t)page_size, s->vec);
  int64_t t1 = now_ns();
  if (rc != 0) return -errno;
  if (!(s->vec[0] & 1) || !(s->vec[pages - 1] & 1)) return -EFAULT;
  return t1 - t0;
}

/* ---- mprotect / munmap --------------------------------------------------------------------------- */

static int64_t rep_mprotect(size_t pages, void *state) {
  (void)state;
  void *p = map_populated(pages);
  if (!p) return -errno;
  int64_t t0 = now_ns();
  int rc = mprotect(p, pages * (size_t)page_size, PROT_READ);
  int64_t t1 = now_ns();
  int err = errno;
  munmap(p, pages * (size_t)page_size);
  return rc == 0 ? t1 - t0 : -err;
}

static int64_t rep_munmap(size_t pages, void *state) {
  (void)state;
  void *p = map_populated(pages);
  if (!p) return -errno;
  int64_t t0 = now_ns();
  int rc = munmap(p, pages * (size_t)page_size);
  int64_t t1 = now_ns();
  return rc == 0 ? t1 - t0 : -errno;
}

/* ---- mremap -------------------------------------------------------------------------------------- */

#define PMD_BYTES (2u << 20)

/* A free, 2 MiB-aligned stretch of `bytes` (reserved then released: nothing else maps it meanwhile). */
static char *free_aligned(size_t bytes) {
  char *r = mmap(NULL, bytes + PMD_BYTES, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (r == MAP_FAILED) return NULL;
  munmap(r, bytes + PMD_BYTES);
  return (char *)(((uintptr_t)r + PMD_BYTES - 1) & ~(uintptr_t)(PMD_BYTES - 1));
}

static int64_t rep_mremap(size_t pages, void *state) {
  (void)state;
  size_t len = pages * (size_t)page_size, ps = (size_t)page_size;
  char *area = free_aligned(2 * len + 4 * PMD_BYTES);
  if (!area) return -errno;
  char *src = area + ps, *dst = area + len + 2 * PMD_BYTES + 2 * ps;
  char *p = mmap(src, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (p == MAP_FAILED) return -errno;
  (void)madvise(p, len, MADV_NOHUGEPAGE);
  if (madvise(p, len, MADV_POPULATE_WRITE) != 0)
    for (size_t i = 0; i < pages; i++) p[i * ps] = 1;
  int64_t t0 = now_ns();
  void *q = mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
  int64_t t1 = now_ns();
  if (q == MAP_FAILED) {
    int err = errno;
    munmap(p, len);
    return -err;
  }
  munmap(q, len);
  return t1 - t0;
}

/* ---- populate-read ------------------------------------------------------------------------------- */

static int64_t rep_populate_read(size_t pages, void *state) {
  struct walk_state *s = state;
  int64_t t0 = now_ns();
  int rc = madvise(s->area, pages * (size_t)page_size, MADV_POPULATE_READ);
  int64_t t1 = now_ns();
  return rc == 0 ? t1 - t0 : -errno;
}

/* ---- memcpy-scattered ---------------------------------------------------------------------------- */

struct copy_state {
  char *src;
  char *dst;
  uint32_t *perm;
};

static int setup_copy(size_t pages, void **state) {
  struct copy_state *s = calloc(1, sizeof *s);
  if (!s) return -ENOMEM;
  *state = s;
  s->src = map_populated(pages);
  s->dst = map_populated(pages);
  s->perm = malloc(pages * sizeof *s->perm);
  if (!s->src || !s->dst || !s->perm) return -ENOMEM;
  for (size_t i = 0; i < pages * (size_t)page_size; i += 64) s->src[i] = (char)(i >> 6);
  /* Destination page of source page i: a fixed shuffle (xorshift Fisher-Yates), as device pages come
   * from a free list, not in address order. */
  for (size_t i = 0; i < pages; i++) s->perm[i] = (uint32_t)i;
  uint64_t x = 88172645463325252ULL;
  for (size_t i = pages - 1; i > 0; i--) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    size_t j = (size_t)(x % (i + 1));
    uint32_t t = s->perm[i];
    s->perm[i] = s->perm[j];
    s->perm[j] = t;
  }
  return 0;
}

static void teardown_copy(size_t pages, void *state) {
  struct copy_state *s = state;
  if (!s) return;
  if (s->src) munmap(s->src, pages * (size_t)page_size);
  if (s->dst) munmap(s->dst, pages * (size_t)page_size);
  free(s->perm);
  free(s);
}

static int64_t rep_memcpy_scattered(size_t pages, void *state) {
  struct copy_state *s = state;
  size_t ps = (size_t)page_size;
  int64_t t0 = now_ns();
  for (size_t i = 0; i < pages; i++) memcpy(s->dst + (size_t)s->perm[i] * ps, s->src + i * ps, ps);
  for (size_t i = 0; i < pages; i++) memcpy(s->src + i * ps, s->dst + (size_t)s->perm[i] * ps, ps);
  int64_t t1 = now_ns();
  /* The copies must have happened (and must not be optimised away). */
  if (s->src[ps * (pages - 1)] != s->dst[ps * s->perm[pages - 1]]) return -EIO;
  return t1 - t0;
}

/* ---- driver -------------------------------------------------------------------------------------- */

static const struct op ops[] = {
    {"populate-write", NULL, rep_populate_write, NULL},
    {"populate-write-thp", NULL, rep_populate_write_thp, NULL},
    {"pagemap", setup_pagemap, rep_pagemap, teardown_walk},
    {"mincore", setup_walk, rep_mincore, teardown_walk},
    {"mprotect", NULL, rep_mprotect, NULL},
    {"munmap", NULL, rep_munmap, NULL},
    {"mremap", NULL, rep_mremap, NULL},
    {"populate-read", setup_walk, rep_populate_read, teardown_walk},
    {"memcpy-scattered", setup_copy, rep_memcpy_scattered, teardown_copy},
    {"touch-write", NULL, rep_touch_write, NULL},
};
#define NOPS (sizeof ops / sizeof ops[0])

static void print_error(const char *op, size_t pages, int err) {
  printf("{\"type\":\"error\",\"op\":\"%s\",\"pages\":%zu,\"errno\":%d,\"message\":\"%s\"}\n", op, pages, err,
         strerror(err));
  fflush(stdout);
}

static void run_op(const struct op *op, size_t pages, int reps, int warmup) {
  void *state = NULL;
  int64_t samples[MAX_REPS];
  if (op->setup) {
    int rc = op->setup(pages, &state);
    if (rc < 0) {
      print_error(op->name, pages, -rc);
      if (op->teardown) op->teardown(pages, state);
      return;
    }
  }
  for (int i = 0; i < warmup + reps; i++) {
    int64_t t = op->rep(pages, state);
    if (t < 0) {
      print_error(op->name, pages, (int)-t);
      if (op->teardown) op->teardown(pages, state);
      return;
    }
    if (i >= warmup) samples[i - warmup] = t;
  }
  if (op->teardown) op->teardown(pages, state);

  int64_t sorted[MAX_REPS];
  memcpy(sorted, samples, (size_t)reps * sizeof samples[0]);
  qsort(sorted, (size_t)reps, sizeof sorted[0], cmp_i64);
  double median = reps % 2 ? (double)sorted[reps / 2] : ((double)sorted[reps / 2 - 1] + (double)sorted[reps / 2]) / 2;
  printf("{\"type\":\"result\",\"op\":\"%s\",\"pages\":%zu,\"reps\":%d,\"warmup\":%d,\"medianNs\":%.0f,"
         "\"nsPerPage\":%.3f,\"samplesNs\":[",
         op->name, pages, reps, warmup, median, median / (double)pages);
  for (int i = 0; i < reps; i++) printf("%s%lld", i ? "," : "", (long long)samples[i]);
  printf("]}\n");
  fflush(stdout);
}

static void usage(const char *argv0) {
  fprintf(stderr, "usage: %s [--reps R] [--warmup W] [--pages N[,N...]] [op ...]\nops:", argv0);
  for (size_t i = 0; i < NOPS; i++) fprintf(stderr, " %s", ops[i].name);
  fprintf(stderr, "\n");
  exit(2);
}

int main(int argc, char **argv) {
  int reps = 5, warmup = 1;
  size_t sizes[MAX_SIZES] = {1u << 14, 1u << 18};
  int nsizes = 2;
  int selected[NOPS] = {0};
  int any_selected = 0;

  page_size = sysconf(_SC_PAGESIZE);
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = atoi(argv[++i]);
    } else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) {
      warmup = atoi(argv[++i]);
    } else if (!strcmp(argv[i], "--pages") && i + 1 < argc) {
      nsizes = 0;
      for (char *tok = strtok(argv[++i], ","); tok && nsizes < MAX_SIZES; tok = strtok(NULL, ",")) {
        long long v = atoll(tok);
        if (v <= 0) usage(argv[0]);
        sizes[nsizes++] = (size_t)v;
      }
      if (nsizes == 0) usage(argv[0]);
    } else if (argv[i][0] == '-') {
      usage(argv[0]);
    } else {
      size_t k;
      for (k = 0; k < NOPS; k++)
        if (!strcmp(argv[i], ops[k].name)) break;
      if (k == NOPS) usage(argv[0]);
      selected[k] = 1;
      any_selected = 1;
    }
  }
  if (reps < 1 || reps > MAX_REPS || warmup < 0) usage(argv[0]);

  struct utsname u;
  uname(&u);
  printf("{\"type\":\"info\",\"pageSize\":%ld,\"kernel\":\"%s\",\"clock\":\"CLOCK_MONOTONIC\"}\n", page_size,
         u.release);
  fflush(stdout);

  for (size_t k = 0; k < NOPS; k++) {
    if (any_selected && !selected[k]) continue;
    if (!any_selected && !strcmp(ops[k].name, "touch-write")) continue; /* informational: on request */
    for (int s = 0; s < nsizes; s++) run_op(&ops[k], sizes[s], reps, warmup);
  }
  return 0;
}
