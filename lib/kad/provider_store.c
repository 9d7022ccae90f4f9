/*
 * provider_store.c: who provides which multihash, with the addresses they
 * announced, until provider_ttl_ms after their last announcement. Caps:
 * max_provider_records in all, max_providers_per_key per key.
 */
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "kad/kad_int.h"

typedef struct prov_rec {
  cpc_kad_peer peer;
  uint64_t expires_ms;
} prov_rec;

typedef struct prov_set {
  prov_rec *r;
  size_t n, cap;
} prov_set;

static void free_set(void *v) {
  prov_set *s = v;
  if (!s)
    return;
  for (size_t i = 0; i < s->n; i++)
    cpc_kad_peer_clear(&s->r[i].peer);
  free(s->r);
  free(s);
}

/* Drop the expired records of s; returns how many went. */
static size_t prune(prov_set *s, uint64_t now_ms) {
  size_t kept = 0, n0 = s->n;
  for (size_t i = 0; i < s->n; i++) {
    if (s->r[i].expires_ms <= now_ms) {
      cpc_kad_peer_clear(&s->r[i].peer);
      continue;
    }
    s->r[kept++] = s->r[i];
  }
  s->n = kept;
  return n0 - kept;
}

int cpc__kad_providers_add(cpc_kad *d, const uint8_t *mh, size_t mh_len,
                           const cpc_kad_peer *p, uint64_t now_ms) {
  prov_set *s = cpc__kad_table_get(&d->providers, mh, mh_len);
  uint64_t expires = now_ms + d->cfg.provider_ttl_ms;
  prov_rec *r;

  if (!s) {
    if (d->n_provider_records >= d->cfg.max_provider_records)
      return CPC_ENOSPC;
    s = calloc(1, sizeof *s);
    if (!s || cpc__kad_table_put(&d->providers, mh, mh_len, s) != 0) {
      free(s);
      return CPC_ENOMEM;
    }
  }
  for (size_t i = 0; i < s->n; i++) {
    if (!cpc_peer_id_equal(&s->r[i].peer.id, &p->id))
      continue;
    s->r[i].expires_ms = expires;
    if (p->n_addrs > 0 && cpc_kad_peer_copy(&s->r[i].peer, p) != 0)
      return CPC_ENOMEM;
    return 0;
  }
  if (s->n >= d->cfg.max_providers_per_key ||
      d->n_provider_records >= d->cfg.max_provider_records)
    d->n_provider_records -= prune(s, now_ms);
  if (s->n >= d->cfg.max_providers_per_key ||
      d->n_provider_records >= d->cfg.max_provider_records)
    return CPC_ENOSPC;
  if (s->n == s->cap) {
    size_t nc = s->cap ? s->cap * 2 : 4;
    prov_rec *nr = realloc(s->r, nc * sizeof *nr);
    if (!nr)
      return CPC_ENOMEM;
    s->r = nr;
    s->cap = nc;
  }
  r = &s->r[s->n];
  memset(r, 0, sizeof *r);
  if (cpc_kad_peer_copy(&r->peer, p) != 0)
    return CPC_ENOMEM;
  r->peer.connection = 0;
  r->expires_ms = expires;
  s->n++;
  d->n_provider_records++;
  return 0;
}

size_t cpc__kad_providers_view(const cpc_kad *d, const uint8_t *mh,
                               size_t mh_len, uint64_t now_ms,
                               cpc_kad_peer *out, size_t cap) {
  const prov_set *s = cpc__kad_table_get(&d->providers, mh, mh_len);
  size_t n = 0;

  if (!s)
    return 0;
  for (size_t i = 0; i < s->n && n < cap; i++)
    if (s->r[i].expires_ms > now_ms)
      out[n++] = s->r[i].peer; /* shallow: borrowed addresses */
  return n;
}

typedef struct sweep_ctx {
  cpc_kad *d;
  uint64_t now_ms;
} sweep_ctx;

static int keep_set(void *ctx, const uint8_t *key, size_t len, void *val) {
  sweep_ctx *c = ctx;
  prov_set *s = val;
  (void)key;
  (void)len;
  c->d->n_provider_records -= prune(s, c->now_ms);
  if (s->n > 0)
    return 1;
  free_set(s);
  return 0;
}

void cpc__kad_providers_sweep(cpc_kad *d, uint64_t now_ms) {
  sweep_ctx c = {d, now_ms};
  cpc__kad_table_filter(&d->providers, keep_set, &c);
}

void cpc__kad_providers_free(cpc_kad *d) {
  cpc__kad_table_free(&d->providers, free_set);
  d->n_provider_records = 0;
}

int cpc_kad_get_local_providers(const cpc_kad *d, const uint8_t *mh,
                                size_t mh_len, uint64_t now_ms,
                                cpc_kad_peer *out, size_t cap, size_t *n) {
  cpc_kad_peer *view;
  size_t got;
  int rc = 0;

  *n = 0;
  if (cap == 0)
    return CPC_ENOENT;
  view = calloc(cap, sizeof *view);
  if (!view)
    return CPC_ENOMEM;
  got = cpc__kad_providers_view(d, mh, mh_len, now_ms, view, cap);
  if (got == 0) {
    rc = CPC_ENOENT;
    goto out;
  }
  for (size_t i = 0; i < got; i++) {
    memset(&out[i], 0, sizeof out[i]);
    if (cpc_kad_peer_copy(&out[i], &view[i]) != 0) {
      for (size_t j = 0; j < i; j++)
        cpc_kad_peer_clear(&out[j]);
      rc = CPC_ENOMEM;
      goto out;
    }
  }
  *n = got;
out:
  free(view);
  return rc;
}
