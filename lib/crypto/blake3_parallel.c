/*
 * blake3_parallel.c: tree-parallel BLAKE3 update over POSIX threads.
 *
 * The input is cut at subtree boundaries: equal "units" of a power-of-two
 * number of chunks, each starting at a chunk number that is a multiple of
 * its size, so each unit is a complete subtree of the final BLAKE3 tree and
 * its CV does not depend on anything around it. Threads take units from a
 * shared counter; the CVs are then pushed onto the hasher's stack in order,
 * exactly as the serial update would, so the result is identical. The bytes
 * before the first boundary and after the last unit go through the serial
 * update (the last chunk must stay in the hasher: it may be the root).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "cpc/error.h"
#include "crypto/blake3_int.h"

#define MAX_THREADS 64
/* Units per thread to aim for, so uneven thread speeds even out. */
#define UNITS_PER_THREAD 8
/* Smallest unit: one batch of chunks. */
#define MIN_UNIT_CHUNKS CPC__B3_BATCH_CHUNKS

struct units_job {
  const struct cpc__blake3_ops *ops;
  const uint32_t *key;
  uint8_t flags;
  const uint8_t *input;  /* start of unit 0 */
  size_t unit_chunks;
  uint64_t first_chunk;  /* chunk number of unit 0 */
  size_t nunits;
  uint8_t *cvs;          /* nunits CVs */
  atomic_size_t next;
};

static void run_units(struct units_job *job) {
  size_t unit_bytes = job->unit_chunks * (size_t)CPC_BLAKE3_CHUNK_LEN;
  for (;;) {
    size_t i = atomic_fetch_add_explicit(&job->next, 1, memory_order_relaxed);
    if (i >= job->nunits)
      break;
    cpc__blake3_subtree_cv(job->ops, job->key, job->flags,
                           job->input + i * unit_bytes, job->unit_chunks,
                           job->first_chunk + i * job->unit_chunks,
                           job->cvs + i * 32);
  }
}

static void *unit_worker(void *arg) {
  run_units(arg);
  return NULL;
}

static unsigned resolve_threads(unsigned threads) {
  if (threads == 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    threads = n > 0 ? (unsigned)n : 1;
  }
  return threads > MAX_THREADS ? MAX_THREADS : threads;
}

int cpc_blake3_hasher_update_parallel(cpc_blake3_hasher *h, const void *data,
                                      size_t len, unsigned threads) {
  const uint8_t *in = data;
  size_t chunk_bytes = CPC_BLAKE3_CHUNK_LEN;
  pthread_t tids[MAX_THREADS];
  unsigned started = 0;

  threads = resolve_threads(threads);
  size_t total_chunks = len / chunk_bytes;
  if (threads == 1 ||
      total_chunks < (size_t)threads * 2 * MIN_UNIT_CHUNKS) {
    cpc_blake3_hasher_update(h, data, len);
    return 0;
  }

  /* Unit size: a power of two near total / (threads * UNITS_PER_THREAD). */
  size_t unit_chunks = MIN_UNIT_CHUNKS;
  while (unit_chunks * 2 <= total_chunks / ((size_t)threads * UNITS_PER_THREAD))
    unit_chunks *= 2;
  size_t unit_bytes = unit_chunks * chunk_bytes;

  /* Serial prefix up to the next unit boundary. */
  uint64_t pos = cpc__blake3_position(h);
  size_t prefix = (size_t)((unit_bytes - pos % unit_bytes) % unit_bytes);
  if (prefix >= len) {
    cpc_blake3_hasher_update(h, data, len);
    return 0;
  }
  /* Whole units, keeping at least one byte for the serial tail. */
  size_t nunits = (len - prefix - 1) / unit_bytes;
  if (nunits < 2) {
    cpc_blake3_hasher_update(h, data, len);
    return 0;
  }

  uint8_t *cvs = malloc(nunits * 32);
  if (cvs == NULL)
    return CPC_ENOMEM; /* h untouched */

  cpc_blake3_hasher_update(h, in, prefix);
  in += prefix;

  struct units_job job = {
      .ops = cpc__blake3_ops(),
      .key = h->key,
      .flags = h->chunk.flags,
      .input = in,
      .unit_chunks = unit_chunks,
      .first_chunk = (pos + prefix) / chunk_bytes,
      .nunits = nunits,
      .cvs = cvs,
  };
  atomic_init(&job.next, 0);
  /* A worker that cannot be started leaves its share to the others. */
  for (unsigned t = 1; t < threads && t <= nunits; t++) {
    if (pthread_create(&tids[started], NULL, unit_worker, &job) != 0)
      break;
    started++;
  }
  run_units(&job);
  for (unsigned t = 0; t < started; t++)
    pthread_join(tids[t], NULL);

  cpc__blake3_append_subtrees(h, cvs, nunits, unit_chunks);
  free(cvs);
  in += nunits * unit_bytes;
  cpc_blake3_hasher_update(h, in, len - prefix - nunits * unit_bytes);
  return 0;
}
