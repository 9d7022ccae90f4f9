/*
 * blockstore_int.h: what blockstore.c and blockstore_scan.c share.
 *
 * The LMDB environment holds two named databases:
 *   "blocks": key = the binary multihash, value = the block's bytes
 *   "meta":   "format", "count", "bytes", "quota", each an 8-byte
 *             little-endian unsigned integer
 * Every write transaction that changes "blocks" updates "count" and "bytes"
 * in the same transaction.
 */
#ifndef CPC_STORE_BLOCKSTORE_INT_H
#define CPC_STORE_BLOCKSTORE_INT_H

#include <lmdb.h>
#include <pthread.h>
#include <stdint.h>

#include "cpc/blockstore.h"

/* The on-disk format this code writes and reads. */
#define CPC__BS_FORMAT 1

/* A cached block waiting in the write-behind queue (blockstore_writer.c). */
struct cpc__bs_pending {
  struct cpc__bs_pending *next;  /* queue order */
  struct cpc__bs_pending *chain; /* same index bucket */
  uint8_t key[CPC_MH_MAX_LEN];
  size_t key_len;
  uint8_t *data;
  size_t len;
};

#define CPC__BS_BUCKETS 1024

/* The write-behind queue of cached puts and its writer thread. */
struct cpc__bs_writer {
  pthread_mutex_t mu;
  pthread_cond_t work; /* the writer waits for blocks */
  pthread_cond_t done; /* flushers and full-queue putters wait */
  pthread_t thread;
  int started, stop;
  struct cpc__bs_pending *head, *tail; /* queued, not yet taken */
  int busy;                            /* a batch is being committed */
  /* every queued or committing block, by key */
  struct cpc__bs_pending *index[CPC__BS_BUCKETS];
  uint64_t count, bytes; /* queued + committing */
  uint64_t dropped;
};

struct cpc_blockstore {
  char *dir; /* the store directory, for statvfs */
  MDB_env *env;
  MDB_dbi blocks;
  MDB_dbi meta;
  unsigned flags;
  struct cpc__bs_writer w;
};

/* The counters kept in "meta". */
struct cpc__bs_meta {
  uint64_t count;
  uint64_t bytes;
  uint64_t quota;
};

/* Whether len more bytes, on top of m's and queued bytes not yet in m,
 * would go over m's quota (0: none). */
static inline int cpc__bs_over_quota(const struct cpc__bs_meta *m,
                                     uint64_t queued, uint64_t len) {
  uint64_t used = m->bytes + queued;
  return m->quota != 0 && (used > m->quota || len > m->quota - used);
}

/* An LMDB return code (or errno value) as a CPC_E* code. */
int cpc__bs_err(int mdb_rc);

/* Read the counters of "meta" in txn (missing ones read as 0). */
int cpc__bs_meta_load(const cpc_blockstore *bs, MDB_txn *txn,
                      struct cpc__bs_meta *m);

/* Write the counters into "meta" in the write transaction txn. */
int cpc__bs_meta_store(const cpc_blockstore *bs, MDB_txn *txn,
                       const struct cpc__bs_meta *m);

/*
 * Check one stored record: decode key into *mh (for a key that is not a
 * multihash: code 0 and the raw key bytes, cut at CPC_MH_MAX_DIGEST) and
 * re-hash val. 0 if the record is sound, else CPC_EMALFORMED, CPC_ETOOBIG,
 * CPC_EUNSUPPORTED or CPC_EMISMATCH.
 */
int cpc__bs_check_record(const MDB_val *key, const MDB_val *val,
                         cpc_multihash *mh);

/*
 * Delete the record key in the write transaction txn and take it off the
 * counters m (which the caller loaded and will store).
 */
int cpc__bs_del_record(const cpc_blockstore *bs, MDB_txn *txn, MDB_val *key,
                       struct cpc__bs_meta *m);

/* --- blockstore_writer.c: write-behind of cached puts --------------------- */

void cpc__bs_writer_init(cpc_blockstore *bs);
/* Commit what is queued, stop the thread, free the queue. */
void cpc__bs_writer_close(cpc_blockstore *bs);
/* Queue a copy of a verified cached block under key. */
int cpc__bs_writer_put(cpc_blockstore *bs, const MDB_val *key, const void *data,
                       size_t len);
/* Wait until nothing is queued or committing. */
void cpc__bs_writer_flush(cpc_blockstore *bs);
/*
 * If key is queued: *rc = fn(arg, its bytes) (called under the queue's
 * lock) and return 1; else 0.
 */
int cpc__bs_writer_read(cpc_blockstore *bs, const MDB_val *key,
                        int (*fn)(void *arg, const MDB_val *val), void *arg,
                        int *rc);
/* Queued blocks and bytes, and the dropped count, in one snapshot. */
void cpc__bs_writer_stats(cpc_blockstore *bs, uint64_t *count, uint64_t *bytes,
                          uint64_t *dropped);

#endif
