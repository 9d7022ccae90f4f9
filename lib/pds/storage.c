/*
 * storage.c: the storage limit. Cached blocks (fetched for reading other
 * users' content) are evicted least recently used first when room is
 * needed; own content's blocks are never evicted, so content that is not
 * yet replicated always stays. Blocks nothing names (an upload or a
 * download cut short by a crash) are removed at start.
 */
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "pds/pds_int.h"

int cpc__pds_make_room(cpc_pds *p, uint64_t need) {
  cpc_blockstore_stats st;
  cpc_cid cid;
  uint64_t size;
  int rc = 0;

  if (p->cfg.storage_limit == 0)
    return 0;
  if (need > p->cfg.storage_limit)
    return CPC_ENOSPC;
  pthread_mutex_lock(&p->store_mu);
  for (;;) {
    rc = cpc_blockstore_stats_get(p->bs, &st);
    if (rc != 0 || st.bytes + need <= p->cfg.storage_limit)
      break;
    rc = cpc__pds_cat_cache_oldest(p->cat, &cid, &size);
    if (rc == CPC_ENOENT) {
      rc = CPC_ENOSPC;
      break;
    }
    if (rc != 0)
      break;
    cpc__pds_cat_cache_remove(p->cat, &cid);
    if (cpc__pds_cat_block_owned(p->cat, &cid, NULL))
      continue; /* also a block of own content: keep it */
    if (cpc_blockstore_delete(p->bs, &cid) == 0) {
      atomic_fetch_add(&p->evicted_blocks, 1);
      atomic_fetch_add(&p->evicted_bytes, size);
      cpc_metrics_counter_inc(p->m_evicted);
    }
  }
  pthread_mutex_unlock(&p->store_mu);
  return rc;
}

typedef struct known {
  cpc_multihash *mh;
  size_t n, cap;
} known;

static int add_known(void *arg, const char *text) {
  known *k = arg;
  cpc_cid cid;
  if (cpc_cid_parse(text, &cid) != 0)
    return 0;
  if (k->n == k->cap) {
    size_t nc = k->cap ? k->cap * 2 : 256;
    cpc_multihash *n = realloc(k->mh, nc * sizeof *n);
    if (!n)
      return CPC_ENOMEM;
    k->mh = n;
    k->cap = nc;
  }
  k->mh[k->n++] = cid.mh;
  return 0;
}

static int mh_cmp(const void *a, const void *b) {
  const cpc_multihash *x = a, *y = b;
  if (x->code != y->code)
    return x->code < y->code ? -1 : 1;
  if (x->digest_len != y->digest_len)
    return x->digest_len < y->digest_len ? -1 : 1;
  return memcmp(x->digest, y->digest, x->digest_len);
}

typedef struct sweep {
  known *k;
  cpc_multihash *orphans;
  size_t n, cap;
} sweep;

static int on_block(void *arg, const cpc_multihash *mh, size_t len) {
  sweep *s = arg;
  (void)len;
  if (bsearch(mh, s->k->mh, s->k->n, sizeof *mh, mh_cmp))
    return 0;
  if (s->n == s->cap) {
    size_t nc = s->cap ? s->cap * 2 : 64;
    cpc_multihash *n = realloc(s->orphans, nc * sizeof *n);
    if (!n)
      return CPC_ENOMEM;
    s->orphans = n;
    s->cap = nc;
  }
  s->orphans[s->n++] = *mh;
  return 0;
}

int cpc__pds_gc(cpc_pds *p, uint64_t *removed) {
  known k = {0};
  sweep s = {0};
  size_t i;
  int rc;

  *removed = 0;
  rc = cpc__pds_cat_known_blocks(p->cat, add_known, &k);
  if (rc == 0) {
    if (k.n)
      qsort(k.mh, k.n, sizeof *k.mh, mh_cmp);
    s.k = &k;
    rc = cpc_blockstore_list(p->bs, on_block, &s);
  }
  for (i = 0; rc == 0 && i < s.n; i++) {
    cpc_cid cid = {1, CPC_CODEC_RAW, s.orphans[i]};
    if (cpc_blockstore_delete(p->bs, &cid) == 0)
      (*removed)++;
  }
  free(k.mh);
  free(s.orphans);
  return rc;
}

void cpc__pds_drop_blocks(cpc_pds *p, const cpc__pds_block *b, size_t n,
                          const char *content_id) {
  size_t i;
  for (i = 0; i < n; i++)
    if (!cpc__pds_cat_block_owned(p->cat, &b[i].cid, content_id))
      cpc_blockstore_delete(p->bs, &b[i].cid);
}
