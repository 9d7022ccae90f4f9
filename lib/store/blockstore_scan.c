/*
 * blockstore_scan.c: walks over every block of the store: listing and
 * scrubbing (re-hashing everything, removing what the caller asks).
 */
#include <stdlib.h>
#include <string.h>

#include "cpc/blockstore.h"
#include "cpc/error.h"
#include "store/blockstore_int.h"

int cpc__bs_check_record(const MDB_val *key, const MDB_val *val,
                         cpc_multihash *mh) {
  size_t used = 0;
  int rc = cpc_multihash_decode(key->mv_data, key->mv_size, mh, &used);
  if (rc != 0 || used != key->mv_size) {
    size_t n =
        key->mv_size < CPC_MH_MAX_DIGEST ? key->mv_size : CPC_MH_MAX_DIGEST;
    memset(mh, 0, sizeof *mh);
    memcpy(mh->digest, key->mv_data, n);
    mh->digest_len = n;
    return CPC_EMALFORMED;
  }
  if (val->mv_size > CPC_BLOCK_MAX_SIZE)
    return CPC_ETOOBIG;
  return cpc_multihash_verify(mh, val->mv_data, val->mv_size);
}

/*
 * Open a read transaction and a cursor over the blocks; on success the
 * caller closes both with end_walk().
 */
static int begin_walk(cpc_blockstore *bs, MDB_txn **txn, MDB_cursor **cur) {
  int rc;
  cpc__bs_writer_flush(bs); /* queued cached blocks are walked too */
  rc = cpc__bs_err(mdb_txn_begin(bs->env, NULL, MDB_RDONLY, txn));
  if (rc != 0)
    return rc;
  rc = cpc__bs_err(mdb_cursor_open(*txn, bs->blocks, cur));
  if (rc != 0)
    mdb_txn_abort(*txn);
  return rc;
}

static void end_walk(MDB_txn *txn, MDB_cursor *cur) {
  mdb_cursor_close(cur);
  mdb_txn_abort(txn);
}

int cpc_blockstore_list(cpc_blockstore *bs, cpc_blockstore_list_fn fn,
                        void *arg) {
  MDB_txn *txn;
  MDB_cursor *cur;
  MDB_val key, val;
  cpc_multihash mh;
  int rc, mrc;

  if (bs == NULL || fn == NULL)
    return CPC_EINVAL;
  rc = begin_walk(bs, &txn, &cur);
  if (rc != 0)
    return rc;
  while ((mrc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) == 0) {
    size_t used;
    if (cpc_multihash_decode(key.mv_data, key.mv_size, &mh, &used) != 0 ||
        used != key.mv_size)
      continue;
    rc = fn(arg, &mh, val.mv_size);
    if (rc != 0)
      break;
  }
  if (rc == 0 && mrc != MDB_NOTFOUND)
    rc = cpc__bs_err(mrc);
  end_walk(txn, cur);
  return rc;
}

/* Keys the scrub callback asked to remove, copied out of the snapshot. */
struct doomed {
  uint8_t (*keys)[CPC_MH_MAX_LEN + 1]; /* [0] = length, then the key */
  size_t n, cap;
};

static int doom(struct doomed *d, const MDB_val *key) {
  if (key->mv_size > CPC_MH_MAX_LEN)
    return 0; /* LMDB keys this long were never written by this code */
  if (d->n == d->cap) {
    size_t ncap = d->cap ? 2 * d->cap : 16;
    void *nk = realloc(d->keys, ncap * sizeof d->keys[0]);
    if (nk == NULL)
      return CPC_ENOMEM;
    d->keys = nk;
    d->cap = ncap;
  }
  d->keys[d->n][0] = (uint8_t)key->mv_size;
  memcpy(d->keys[d->n] + 1, key->mv_data, key->mv_size);
  d->n++;
  return 0;
}

/* Delete the doomed keys whose records are still bad, in one transaction. */
static int remove_doomed(cpc_blockstore *bs, const struct doomed *d,
                         uint64_t *removed) {
  MDB_txn *txn = NULL;
  struct cpc__bs_meta m;
  uint64_t n = 0;
  int rc = cpc__bs_err(mdb_txn_begin(bs->env, NULL, 0, &txn));
  if (rc != 0)
    return rc;
  rc = cpc__bs_meta_load(bs, txn, &m);
  for (size_t i = 0; rc == 0 && i < d->n; i++) {
    MDB_val key = {d->keys[i][0], (void *)(d->keys[i] + 1)}, val;
    cpc_multihash mh;
    int g = mdb_get(txn, bs->blocks, &key, &val);
    if (g == MDB_NOTFOUND)
      continue;
    if (g != 0) {
      rc = cpc__bs_err(g);
      break;
    }
    if (cpc__bs_check_record(&key, &val, &mh) == 0)
      continue; /* repaired meanwhile (deleted and put again) */
    rc = cpc__bs_del_record(bs, txn, &key, &m);
    n++;
  }
  if (rc == 0)
    rc = cpc__bs_meta_store(bs, txn, &m);
  if (rc != 0) {
    mdb_txn_abort(txn);
    return rc;
  }
  rc = cpc__bs_err(mdb_txn_commit(txn));
  if (rc == 0)
    *removed = n;
  return rc;
}

int cpc_blockstore_scrub(cpc_blockstore *bs, cpc_blockstore_scrub_fn fn,
                         void *arg, cpc_blockstore_scrub_result *res) {
  cpc_blockstore_scrub_result r = {0, 0, 0};
  struct doomed d = {NULL, 0, 0};
  MDB_txn *txn;
  MDB_cursor *cur;
  MDB_val key, val;
  int rc, mrc;

  if (res != NULL)
    memset(res, 0, sizeof *res);
  if (bs == NULL)
    return CPC_EINVAL;
  rc = begin_walk(bs, &txn, &cur);
  if (rc != 0)
    return rc;
  while ((mrc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) == 0) {
    cpc_multihash mh;
    int problem = cpc__bs_check_record(&key, &val, &mh);
    r.checked++;
    if (problem == 0)
      continue;
    r.bad++;
    int answer = fn != NULL ? fn(arg, &mh, val.mv_size, problem) : 0;
    if (answer < 0) {
      rc = answer;
      break;
    }
    if (answer == CPC_BLOCKSTORE_SCRUB_REMOVE) {
      rc = doom(&d, &key);
      if (rc != 0)
        break;
    }
  }
  if (rc == 0 && mrc != MDB_NOTFOUND)
    rc = cpc__bs_err(mrc);
  end_walk(txn, cur);
  if (rc == 0 && d.n > 0)
    rc = remove_doomed(bs, &d, &r.removed);
  free(d.keys);
  if (res != NULL)
    *res = r;
  return rc;
}
