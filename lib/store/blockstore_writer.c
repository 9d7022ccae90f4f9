/*
 * blockstore_writer.c: the write-behind queue of cached puts
 * (CPC_BLOCKSTORE_PUT_CACHE, see cpc/blockstore.h).
 *
 * A cached put copies the block into a queue, indexed by key so that get,
 * has and size find it at once. One writer thread, started by the first
 * cached put, takes everything queued and commits it in one LMDB write
 * transaction (synced as the environment is), then drops it from the
 * queue; blocks queued meanwhile make the next batch, so the number of
 * fsyncs follows the disk's pace, not the number of blocks. A block stays
 * in the index until its transaction has committed, so a reader always
 * finds it in one place or the other. The queue is bounded: a put that
 * would overfill it waits for the writer.
 */
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "store/blockstore_int.h"

/*
 * What may wait in memory: the caller blocks beyond this. Small batches
 * cost less than large ones: 256 MiB of 256 KiB blocks took 0.11-0.16
 * CPU-s with 4 MiB, 0.46-0.55 with 32 MiB (the copies into fresh memory
 * and the page cache were slower), for the same 1-2 fsyncs per batch.
 */
#define QUEUE_MAX_BYTES ((uint64_t)4 << 20)
#define QUEUE_MAX_COUNT 4096

static size_t bucket_of(const uint8_t *key, size_t len) {
  /* keys are multihashes: their last bytes are digest bytes */
  size_t h = 0;
  for (size_t i = len > 4 ? len - 4 : 0; i < len; i++)
    h = (h << 8) | key[i];
  return h % CPC__BS_BUCKETS;
}

static struct cpc__bs_pending *index_find(struct cpc__bs_writer *w,
                                          const MDB_val *key) {
  struct cpc__bs_pending *e = w->index[bucket_of(key->mv_data, key->mv_size)];
  for (; e != NULL; e = e->chain)
    if (e->key_len == key->mv_size &&
        memcmp(e->key, key->mv_data, key->mv_size) == 0)
      return e;
  return NULL;
}

static void index_remove(struct cpc__bs_writer *w, struct cpc__bs_pending *e) {
  struct cpc__bs_pending **pp = &w->index[bucket_of(e->key, e->key_len)];
  while (*pp != NULL && *pp != e)
    pp = &(*pp)->chain;
  if (*pp == e)
    *pp = e->chain;
}

void cpc__bs_writer_init(cpc_blockstore *bs) {
  struct cpc__bs_writer *w = &bs->w;
  memset(w, 0, sizeof *w);
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->work, NULL);
  pthread_cond_init(&w->done, NULL);
}

/*
 * Commit the batch in one write transaction. Blocks already stored are
 * skipped; blocks over the quota, or all of them when the transaction
 * fails, are dropped. Returns the number dropped.
 */
static uint64_t commit_batch(cpc_blockstore *bs,
                             const struct cpc__bs_pending *batch) {
  MDB_txn *txn = NULL;
  struct cpc__bs_meta m;
  uint64_t n = 0, dropped = 0, added = 0;
  const struct cpc__bs_pending *e;
  int rc;

  for (e = batch; e != NULL; e = e->next)
    n++;
  rc = mdb_txn_begin(bs->env, NULL, 0, &txn);
  if (rc != 0)
    return n;
  rc = cpc__bs_meta_load(bs, txn, &m);
  for (e = batch; e != NULL && rc == 0; e = e->next) {
    MDB_val key = {e->key_len, (void *)e->key}, old;
    MDB_val val = {e->len, e->len ? e->data : (void *)e->key};
    int g = mdb_get(txn, bs->blocks, &key, &old);
    if (g == 0)
      continue; /* stored meanwhile (a durable put of the same block) */
    if (g != MDB_NOTFOUND) {
      rc = g;
      break;
    }
    if (cpc__bs_over_quota(&m, 0, e->len)) {
      dropped++;
      continue;
    }
    rc = mdb_put(txn, bs->blocks, &key, &val, MDB_NOOVERWRITE);
    if (rc == 0) {
      m.count++;
      m.bytes += e->len;
      added++;
    }
  }
  if (rc == 0 && added > 0)
    rc = cpc__bs_meta_store(bs, txn, &m);
  if (rc != 0 || added == 0) {
    mdb_txn_abort(txn);
    return rc != 0 ? n : dropped;
  }
  return mdb_txn_commit(txn) == 0 ? dropped : n;
}

static void *writer_main(void *arg) {
  cpc_blockstore *bs = arg;
  struct cpc__bs_writer *w = &bs->w;

  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (w->head == NULL && !w->stop)
      pthread_cond_wait(&w->work, &w->mu);
    if (w->head == NULL)
      break; /* stopping, and everything is committed */
    struct cpc__bs_pending *batch = w->head;
    w->head = w->tail = NULL;
    w->busy = 1;
    pthread_mutex_unlock(&w->mu);

    uint64_t dropped = commit_batch(bs, batch);

    pthread_mutex_lock(&w->mu);
    while (batch != NULL) {
      struct cpc__bs_pending *next = batch->next;
      index_remove(w, batch);
      w->count--;
      w->bytes -= batch->len;
      free(batch->data);
      free(batch);
      batch = next;
    }
    w->dropped += dropped;
    w->busy = 0;
    pthread_cond_broadcast(&w->done);
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

void cpc__bs_writer_close(cpc_blockstore *bs) {
  struct cpc__bs_writer *w = &bs->w;
  pthread_mutex_lock(&w->mu);
  w->stop = 1;
  pthread_cond_signal(&w->work);
  pthread_mutex_unlock(&w->mu);
  if (w->started)
    pthread_join(w->thread, NULL); /* it commits what is queued first */
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->work);
  pthread_cond_destroy(&w->done);
}

int cpc__bs_writer_put(cpc_blockstore *bs, const MDB_val *key, const void *data,
                       size_t len) {
  struct cpc__bs_writer *w = &bs->w;
  struct cpc__bs_pending *e;
  int rc = 0;

  if (key->mv_size > CPC_MH_MAX_LEN)
    return CPC_EINVAL;
  e = calloc(1, sizeof *e);
  if (e == NULL)
    return CPC_ENOMEM;
  e->data = malloc(len ? len : 1);
  if (e->data == NULL) {
    free(e);
    return CPC_ENOMEM;
  }
  if (len > 0)
    memcpy(e->data, data, len);
  e->len = len;
  memcpy(e->key, key->mv_data, key->mv_size);
  e->key_len = key->mv_size;

  pthread_mutex_lock(&w->mu);
  /* Room in the queue: wait for the writer (it is running whenever
   * something is queued). */
  while (w->count > 0 &&
         (w->bytes + len > QUEUE_MAX_BYTES || w->count >= QUEUE_MAX_COUNT))
    pthread_cond_wait(&w->done, &w->mu);
  if (index_find(w, key) != NULL)
    goto out; /* queued already */
  if (!w->started) {
    if (pthread_create(&w->thread, NULL, writer_main, bs) != 0) {
      rc = CPC_EAGAIN;
      goto out;
    }
    w->started = 1;
  }
  size_t b = bucket_of(e->key, e->key_len);
  e->chain = w->index[b];
  w->index[b] = e;
  if (w->tail != NULL)
    w->tail->next = e;
  else
    w->head = e;
  w->tail = e;
  w->count++;
  w->bytes += len;
  e = NULL;
  pthread_cond_signal(&w->work);
out:
  pthread_mutex_unlock(&w->mu);
  if (e != NULL) {
    free(e->data);
    free(e);
  }
  return rc;
}

void cpc__bs_writer_flush(cpc_blockstore *bs) {
  struct cpc__bs_writer *w = &bs->w;
  pthread_mutex_lock(&w->mu);
  while (w->head != NULL || w->busy)
    pthread_cond_wait(&w->done, &w->mu);
  pthread_mutex_unlock(&w->mu);
}

int cpc__bs_writer_read(cpc_blockstore *bs, const MDB_val *key,
                        int (*fn)(void *arg, const MDB_val *val), void *arg,
                        int *rc) {
  struct cpc__bs_writer *w = &bs->w;
  struct cpc__bs_pending *e;
  int found = 0;
  pthread_mutex_lock(&w->mu);
  if (w->count > 0 && (e = index_find(w, key)) != NULL) {
    MDB_val val = {e->len, e->data};
    *rc = fn(arg, &val);
    found = 1;
  }
  pthread_mutex_unlock(&w->mu);
  return found;
}

void cpc__bs_writer_stats(cpc_blockstore *bs, uint64_t *count, uint64_t *bytes,
                          uint64_t *dropped) {
  struct cpc__bs_writer *w = &bs->w;
  pthread_mutex_lock(&w->mu);
  *count = w->count;
  *bytes = w->bytes;
  *dropped = w->dropped;
  pthread_mutex_unlock(&w->mu);
}
