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
#include <stdint.h>

#include "cpc/blockstore.h"

/* The on-disk format this code writes and reads. */
#define CPC__BS_FORMAT 1

struct cpc_blockstore {
  char *dir; /* the store directory, for statvfs */
  MDB_env *env;
  MDB_dbi blocks;
  MDB_dbi meta;
  unsigned flags;
};

/* The counters kept in "meta". */
struct cpc__bs_meta {
  uint64_t count;
  uint64_t bytes;
  uint64_t quota;
};

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

#endif
