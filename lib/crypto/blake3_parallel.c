/*
 * blake3_parallel.c: tree-parallel BLAKE3 over POSIX threads, from memory
 * or from a file descriptor.
 *
 * The input is cut into "items": complete subtrees of the final BLAKE3
 * tree, each a power-of-two number of chunks starting at a chunk number
 * that is a multiple of its size, so an item's CV depends on nothing around
 * it. The plan is greedy from the left: each item is as large as the
 * alignment of its start, the unit size and the remaining input allow, so
 * after a short ramp-up the items are units of equal size and they shrink
 * again at the end. Threads take items from a shared counter; the CVs are
 * then pushed onto the hasher's stack in order, exactly as the serial
 * update would, so the result is identical. The bytes that complete a
 * started chunk, and the last chunk (it may be the root), go through the
 * serial update.
 *
 * From a file, every thread reads its items with pread() through its own
 * buffer, small enough to stay in the CPU cache while it is hashed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "cpc/error.h"
#include "crypto/blake3_int.h"

#define MAX_THREADS 64
/* Items per thread to aim for, so uneven thread speeds even out. */
#define UNITS_PER_THREAD 8
/* Chunks read and hashed at a time from a file (a power of two). */
#define FILE_PIECE_CHUNKS (2 * CPC__B3_BATCH_CHUNKS)
#define FILE_PIECE_BYTES (FILE_PIECE_CHUNKS * (size_t)CPC_BLAKE3_CHUNK_LEN)

struct b3_item {
  uint64_t chunk;   /* first chunk number */
  uint64_t nchunks; /* a power of two dividing chunk */
};

struct b3_job {
  const struct cpc__blake3_ops *ops;
  const uint32_t *key;
  uint8_t flags;
  const uint8_t *mem; /* memory source: byte of chunk number base_chunk */
  int fd;             /* file source (mem == NULL) */
  uint64_t base_chunk;
  uint64_t base_off; /* file offset of chunk number base_chunk */
  const struct b3_item *items;
  size_t nitems;
  uint8_t *cvs; /* nitems CVs */
  atomic_size_t next;
  atomic_int error; /* first read error: errno, or EIO for end of file */
};

static unsigned resolve_threads(unsigned threads) {
  if (threads == 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    threads = n > 0 ? (unsigned)n : 1;
  }
  return threads > MAX_THREADS ? MAX_THREADS : threads;
}

/* Fill buf with len bytes at off; an errno value on failure, else 0. */
static int pread_full(int fd, uint8_t *buf, size_t len, uint64_t off) {
  while (len > 0) {
    ssize_t r = pread(fd, buf, len, (off_t)off);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return errno ? errno : EIO;
    if (r == 0)
      return EIO; /* the file is shorter than promised */
    buf += r;
    len -= (size_t)r;
    off += (uint64_t)r;
  }
  return 0;
}

/*
 * Cut whole chunks [chunk, chunk + avail) into items of at most unit chunks
 * (a power of two). Returns the number of items (at most cap).
 */
static size_t make_plan(uint64_t chunk, uint64_t avail, uint64_t unit,
                        struct b3_item *items, size_t cap) {
  size_t n = 0;
  while (avail > 0 && n < cap) {
    uint64_t size = unit;
    while (chunk & (size - 1))
      size /= 2;
    while (size > avail)
      size /= 2;
    items[n].chunk = chunk;
    items[n].nchunks = size;
    n++;
    chunk += size;
    avail -= size;
  }
  return n;
}

/* The CV of one item read from the job's file through buf. */
static int file_item_cv(struct b3_job *job, const struct b3_item *it,
                        uint8_t *buf, uint8_t out[32]) {
  uint8_t stack[64 * 32];
  size_t depth = 0;
  uint64_t piece =
      it->nchunks < FILE_PIECE_CHUNKS ? it->nchunks : FILE_PIECE_CHUNKS;
  uint64_t npieces = it->nchunks / piece;
  for (uint64_t i = 0; i < npieces; i++) {
    uint64_t chunk = it->chunk + i * piece;
    uint64_t off =
        job->base_off + (chunk - job->base_chunk) * CPC_BLAKE3_CHUNK_LEN;
    int e = pread_full(job->fd, buf, (size_t)piece * CPC_BLAKE3_CHUNK_LEN, off);
    if (e != 0)
      return e;
    cpc__blake3_subtree_cv(job->ops, job->key, job->flags, buf, (size_t)piece,
                           chunk, stack + depth * 32);
    depth++;
    /* A perfect tree of pieces: merge after piece i while i + 1 is even. */
    for (uint64_t done = i + 1; (done & 1) == 0; done >>= 1) {
      job->ops->hash_parents(stack + (depth - 2) * 32, 1, job->key, job->flags,
                             stack + (depth - 2) * 32);
      depth--;
    }
  }
  memcpy(out, stack, 32);
  return 0;
}

static void run_items(struct b3_job *job, uint8_t *buf) {
  for (;;) {
    if (atomic_load_explicit(&job->error, memory_order_relaxed) != 0)
      break;
    size_t i = atomic_fetch_add_explicit(&job->next, 1, memory_order_relaxed);
    if (i >= job->nitems)
      break;
    const struct b3_item *it = &job->items[i];
    if (job->mem != NULL) {
      const uint8_t *p = job->mem + (it->chunk - job->base_chunk) *
                                        (size_t)CPC_BLAKE3_CHUNK_LEN;
      cpc__blake3_subtree_cv(job->ops, job->key, job->flags, p,
                             (size_t)it->nchunks, it->chunk, job->cvs + i * 32);
    } else {
      int e = file_item_cv(job, it, buf, job->cvs + i * 32);
      if (e != 0) {
        int none = 0;
        atomic_compare_exchange_strong(&job->error, &none, e);
      }
    }
  }
}

static void *item_worker(void *arg) {
  struct b3_job *job = arg;
  uint8_t *buf = NULL;
  if (job->mem == NULL) {
    buf = malloc(FILE_PIECE_BYTES);
    if (buf == NULL)
      return NULL; /* the other threads take its share */
  }
  run_items(job, buf);
  free(buf);
  return NULL;
}

/* Run the job on this thread and up to threads - 1 more. */
static void run_job(struct b3_job *job, unsigned threads, uint8_t *buf) {
  pthread_t tids[MAX_THREADS];
  unsigned started = 0;
  /* A worker that cannot be started leaves its share to the others. */
  for (unsigned t = 1; t < threads && t < job->nitems; t++) {
    if (pthread_create(&tids[started], NULL, item_worker, job) != 0)
      break;
    started++;
  }
  run_items(job, buf);
  for (unsigned t = 0; t < started; t++)
    pthread_join(tids[t], NULL);
}

/* Unit size in chunks: a power of two near total / (threads * 8). */
static uint64_t unit_chunks_for(uint64_t total_chunks, unsigned threads,
                                uint64_t min_unit) {
  uint64_t unit = min_unit;
  if (threads == 1)
    return (uint64_t)1 << 40; /* one thread: items only for alignment */
  while (unit * 2 <= total_chunks / ((uint64_t)threads * UNITS_PER_THREAD))
    unit *= 2;
  return unit;
}

static size_t plan_cap(uint64_t total_chunks, uint64_t unit) {
  return (size_t)(total_chunks / unit) + 2 * 64;
}

int cpc_blake3_hasher_update_parallel(cpc_blake3_hasher *h, const void *data,
                                      size_t len, unsigned threads) {
  const uint8_t *in = data;
  int rc = 0;

  threads = resolve_threads(threads);
  uint64_t total_chunks = len / CPC_BLAKE3_CHUNK_LEN;
  if (threads == 1 ||
      total_chunks < (uint64_t)threads * 2 * CPC__B3_BATCH_CHUNKS) {
    cpc_blake3_hasher_update(h, data, len);
    return 0;
  }
  uint64_t unit = unit_chunks_for(total_chunks, threads, CPC__B3_BATCH_CHUNKS);
  size_t cap = plan_cap(total_chunks, unit);
  struct b3_item *items = malloc(cap * sizeof *items + cap * 32);
  if (items == NULL)
    return CPC_ENOMEM; /* h untouched */
  uint8_t *cvs = (uint8_t *)(items + cap);

  /* Complete a started chunk first. */
  uint64_t pos = cpc__blake3_position(h);
  size_t head = (size_t)((CPC_BLAKE3_CHUNK_LEN - pos % CPC_BLAKE3_CHUNK_LEN) %
                         CPC_BLAKE3_CHUNK_LEN);
  if (head > len)
    head = len;
  cpc_blake3_hasher_update(h, in, head);
  in += head;
  len -= head;
  pos += head;

  /* Whole chunks, keeping at least one byte for the serial tail. */
  uint64_t avail = len > 0 ? (len - 1) / CPC_BLAKE3_CHUNK_LEN : 0;
  struct b3_job job = {
      .ops = cpc__blake3_ops(),
      .key = h->key,
      .flags = h->chunk.flags,
      .mem = in,
      .fd = -1,
      .base_chunk = pos / CPC_BLAKE3_CHUNK_LEN,
      .cvs = cvs,
  };
  job.items = items;
  job.nitems = make_plan(job.base_chunk, avail, unit, items, cap);
  atomic_init(&job.next, 0);
  atomic_init(&job.error, 0);
  run_job(&job, threads, NULL);

  uint64_t hashed = 0;
  for (size_t i = 0; i < job.nitems; i++) {
    cpc__blake3_append_subtree(h, cvs + i * 32, items[i].nchunks);
    hashed += items[i].nchunks;
  }
  in += hashed * CPC_BLAKE3_CHUNK_LEN;
  len -= (size_t)hashed * CPC_BLAKE3_CHUNK_LEN;
  cpc_blake3_hasher_update(h, in, len);
  free(items);
  return rc;
}

/* Serially absorb len bytes of fd at off through buf. */
static int update_from_fd(cpc_blake3_hasher *h, int fd, uint64_t off,
                          uint64_t len, uint8_t *buf) {
  while (len > 0) {
    size_t n = len < FILE_PIECE_BYTES ? (size_t)len : FILE_PIECE_BYTES;
    int e = pread_full(fd, buf, n, off);
    if (e != 0)
      return e;
    cpc_blake3_hasher_update(h, buf, n);
    off += n;
    len -= n;
  }
  return 0;
}

int cpc_blake3_hasher_update_fd(cpc_blake3_hasher *h, int fd, uint64_t offset,
                                uint64_t len, unsigned threads) {
  cpc_blake3_hasher work = *h;
  struct b3_item *items = NULL;
  uint8_t *buf = NULL;
  int rc = 0, e;

  threads = resolve_threads(threads);
  buf = malloc(FILE_PIECE_BYTES);
  if (buf == NULL) {
    rc = CPC_ENOMEM;
    goto out;
  }

  /* Complete a started chunk first. */
  uint64_t pos = cpc__blake3_position(&work);
  uint64_t head = (CPC_BLAKE3_CHUNK_LEN - pos % CPC_BLAKE3_CHUNK_LEN) %
                  CPC_BLAKE3_CHUNK_LEN;
  if (head > len)
    head = len;
  if ((e = update_from_fd(&work, fd, offset, head, buf)) != 0)
    goto read_error;
  offset += head;
  len -= head;
  pos += head;

  uint64_t avail = len > 0 ? (len - 1) / CPC_BLAKE3_CHUNK_LEN : 0;
  if (avail < (uint64_t)threads * 2 * FILE_PIECE_CHUNKS)
    threads = 1; /* too little to pay for starting threads */
  uint64_t unit = unit_chunks_for(avail, threads, FILE_PIECE_CHUNKS);
  size_t cap = plan_cap(avail, unit);
  items = malloc(cap * sizeof *items + cap * 32);
  if (items == NULL) {
    rc = CPC_ENOMEM;
    goto out;
  }
  uint8_t *cvs = (uint8_t *)(items + cap);
  struct b3_job job = {
      .ops = cpc__blake3_ops(),
      .key = work.key,
      .flags = work.chunk.flags,
      .mem = NULL,
      .fd = fd,
      .base_chunk = pos / CPC_BLAKE3_CHUNK_LEN,
      .base_off = offset,
      .cvs = cvs,
  };
  job.items = items;
  job.nitems = make_plan(job.base_chunk, avail, unit, items, cap);
  atomic_init(&job.next, 0);
  atomic_init(&job.error, 0);
  run_job(&job, threads, buf);
  if ((e = atomic_load(&job.error)) != 0)
    goto read_error;

  uint64_t hashed = 0;
  for (size_t i = 0; i < job.nitems; i++) {
    cpc__blake3_append_subtree(&work, cvs + i * 32, items[i].nchunks);
    hashed += items[i].nchunks;
  }
  offset += hashed * CPC_BLAKE3_CHUNK_LEN;
  len -= hashed * CPC_BLAKE3_CHUNK_LEN;
  if ((e = update_from_fd(&work, fd, offset, len, buf)) != 0)
    goto read_error;
  *h = work;
  goto out;

read_error:
  errno = e;
  rc = CPC_EIO;
out:
  free(items);
  free(buf);
  return rc;
}
