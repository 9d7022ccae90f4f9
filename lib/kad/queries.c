/*
 * queries.c: the public lookups (find a peer, the closest peers, providers,
 * values; provide, put; bootstrap) as arguments to the state machine of
 * lookup.c, and the set of multihashes we keep announcing.
 */
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/multihash.h"
#include "kad/kad_int.h"

static int is_multihash(const uint8_t *mh, size_t len) {
  cpc_multihash m;
  size_t used;
  return mh && len > 0 && cpc_multihash_decode(mh, len, &m, &used) == 0 &&
         used == len;
}

static void args_init(cpc__kad_lookup_args *a, enum cpc__kad_purpose p,
                      const uint8_t *key, size_t key_len, cpc_kad_done_cb cb,
                      void *arg) {
  memset(a, 0, sizeof *a);
  a->purpose = p;
  a->key = key;
  a->key_len = key_len;
  a->bucket = -1;
  a->cb = cb;
  a->arg = arg;
}

int cpc_kad_find_peer(cpc_kad *d, const cpc_peer_id *id, uint64_t now_ms,
                      cpc_kad_done_cb cb, void *arg, uint64_t *lookup_id) {
  cpc__kad_lookup_args a;
  args_init(&a, CPC__KAD_LP_FIND_PEER, id->bytes, id->len, cb, arg);
  return cpc__kad_lookup_start(d, &a, now_ms, lookup_id);
}

int cpc_kad_get_closest(cpc_kad *d, const uint8_t *key, size_t key_len,
                        uint64_t now_ms, cpc_kad_done_cb cb, void *arg,
                        uint64_t *lookup_id) {
  cpc__kad_lookup_args a;
  args_init(&a, CPC__KAD_LP_CLOSEST, key, key_len, cb, arg);
  return cpc__kad_lookup_start(d, &a, now_ms, lookup_id);
}

int cpc_kad_find_providers(cpc_kad *d, const uint8_t *mh, size_t mh_len,
                           size_t want, uint64_t now_ms, cpc_kad_done_cb cb,
                           void *arg, uint64_t *lookup_id) {
  cpc__kad_lookup_args a;
  if (!is_multihash(mh, mh_len))
    return CPC_EINVAL;
  args_init(&a, CPC__KAD_LP_GET_PROVIDERS, mh, mh_len, cb, arg);
  a.want = want ? want : d->cfg.k;
  return cpc__kad_lookup_start(d, &a, now_ms, lookup_id);
}

int cpc_kad_provide(cpc_kad *d, const uint8_t *mh, size_t mh_len,
                    uint64_t now_ms, cpc_kad_done_cb cb, void *arg,
                    uint64_t *lookup_id) {
  cpc__kad_lookup_args a;
  cpc__kad_providing *pv;
  uint64_t id = 0;
  int rc;

  if (!is_multihash(mh, mh_len))
    return CPC_EINVAL;
  if (mh_len > CPC_KAD_MAX_KEY)
    return CPC_ETOOBIG;
  pv = cpc__kad_table_get(&d->providing, mh, mh_len);
  if (!pv) {
    pv = calloc(1, sizeof *pv);
    if (!pv || cpc__kad_table_put(&d->providing, mh, mh_len, pv) != 0) {
      free(pv);
      return CPC_ENOMEM;
    }
  }
  pv->next_ms = now_ms + d->cfg.republish_ms;
  rc = cpc__kad_providers_add(d, mh, mh_len, &d->self_peer, now_ms);
  if (rc != 0 && rc != CPC_ENOSPC)
    return rc;
  if (pv->lookup_id) { /* an announcement is running: replace it */
    struct cpc__kad_lookup *old = cpc__kad_lookup_find(d, pv->lookup_id);
    if (old)
      cpc__kad_lookup_cancel(d, old);
    pv->lookup_id = 0;
  }
  args_init(&a, CPC__KAD_LP_PROVIDE, mh, mh_len, cb, arg);
  rc = cpc__kad_lookup_start(d, &a, now_ms, &id);
  /* The callback may have run and changed the set: look pv up again. */
  pv = cpc__kad_table_get(&d->providing, mh, mh_len);
  if (rc == 0 && pv && cpc__kad_lookup_find(d, id))
    pv->lookup_id = id;
  if (lookup_id)
    *lookup_id = id;
  return rc;
}

int cpc_kad_stop_providing(cpc_kad *d, const uint8_t *mh, size_t mh_len) {
  cpc__kad_providing *pv = cpc__kad_table_remove(&d->providing, mh, mh_len);
  if (!pv)
    return CPC_ENOENT;
  if (pv->lookup_id) {
    struct cpc__kad_lookup *lk = cpc__kad_lookup_find(d, pv->lookup_id);
    if (lk)
      cpc__kad_lookup_cancel(d, lk);
  }
  free(pv);
  return 0;
}

int cpc_kad_get_value(cpc_kad *d, const uint8_t *key, size_t key_len,
                      size_t quorum, uint64_t now_ms, cpc_kad_done_cb cb,
                      void *arg, uint64_t *lookup_id) {
  cpc__kad_lookup_args a;
  args_init(&a, CPC__KAD_LP_GET_VALUE, key, key_len, cb, arg);
  a.want = quorum;
  return cpc__kad_lookup_start(d, &a, now_ms, lookup_id);
}

int cpc_kad_put_value(cpc_kad *d, const uint8_t *key, size_t key_len,
                      const uint8_t *value, size_t value_len, uint64_t now_ms,
                      cpc_kad_done_cb cb, void *arg, uint64_t *lookup_id) {
  cpc__kad_lookup_args a;
  int rc;

  if (key_len == 0)
    return CPC_EINVAL;
  rc = cpc__kad_values_put(d, key, key_len, value, value_len, now_ms);
  if (rc != 0)
    return rc;
  args_init(&a, CPC__KAD_LP_PUT, key, key_len, cb, arg);
  a.value = value;
  a.value_len = value_len;
  return cpc__kad_lookup_start(d, &a, now_ms, lookup_id);
}

/* Keep copies of seeds[0..n) for rejoining (cpc_kad_tick). */
static int keep_seeds(cpc_kad *d, const cpc_kad_peer *seeds, size_t n) {
  cpc_kad_peer *copy = NULL;

  if (seeds == d->seeds)
    return 0;
  if (n > 0) {
    copy = calloc(n, sizeof *copy);
    if (!copy)
      return CPC_ENOMEM;
    for (size_t i = 0; i < n; i++) {
      if (cpc_kad_peer_copy(&copy[i], &seeds[i]) != 0) {
        for (size_t j = 0; j < i; j++)
          cpc_kad_peer_clear(&copy[j]);
        free(copy);
        return CPC_ENOMEM;
      }
    }
  }
  for (size_t i = 0; i < d->n_seeds; i++)
    cpc_kad_peer_clear(&d->seeds[i]);
  free(d->seeds);
  d->seeds = copy;
  d->n_seeds = n;
  return 0;
}

int cpc_kad_bootstrap(cpc_kad *d, const cpc_kad_peer *seeds, size_t n,
                      uint64_t now_ms, cpc_kad_done_cb cb, void *arg,
                      uint64_t *lookup_id) {
  cpc__kad_lookup_args a;
  uint64_t id = 0;
  int rc;

  if (n > CPC_KAD_MAX_PEERS)
    return CPC_ETOOBIG;
  rc = keep_seeds(d, seeds, n);
  if (rc != 0)
    return rc;
  args_init(&a, CPC__KAD_LP_BOOTSTRAP, d->self.bytes, d->self.len, cb, arg);
  a.seeds = d->seeds;
  a.n_seeds = d->n_seeds;
  rc = cpc__kad_lookup_start(d, &a, now_ms, &id);
  if (rc == 0 && cpc__kad_lookup_find(d, id))
    d->bootstrap_lookup = id;
  if (lookup_id)
    *lookup_id = id;
  return rc;
}

int cpc_kad_cancel_lookup(cpc_kad *d, uint64_t lookup_id) {
  struct cpc__kad_lookup *lk = cpc__kad_lookup_find(d, lookup_id);
  if (!lk)
    return CPC_ENOENT;
  cpc__kad_lookup_cancel(d, lk);
  return 0;
}

size_t cpc_kad_lookups_running(const cpc_kad *d) {
  return d->n_lookups;
}
