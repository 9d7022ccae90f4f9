/*
 * dht.c: the cpc_kad object: configuration, the routing table's public
 * face, requests in flight (ids, deadlines, answers, failures, liveness
 * pings) and the time-driven work of cpc_kad_tick.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cpc/error.h"
#include "crypto/crypto_int.h"
#include "kad/kad_int.h"

#define HOUR_MS (3600ull * 1000ull)
#define REFRESH_MAX_BUCKET 15 /* deeper buckets fill from self-lookups */
#define REPUBLISH_PER_TICK 16
#define REJOIN_MS 60000ull /* retry the bootstrap peers of an empty table */

void cpc_kad_config_default(cpc_kad_config *c) {
  memset(c, 0, sizeof *c);
  c->k = CPC_KAD_K;
  c->alpha = CPC_KAD_ALPHA;
  c->request_timeout_ms = 10000;
  c->provider_ttl_ms = 48 * HOUR_MS;
  c->republish_ms = 22 * HOUR_MS;
  c->record_ttl_ms = 48 * HOUR_MS;
  c->refresh_ms = 10 * 60 * 1000;
  c->cleanup_ms = HOUR_MS;
  c->ping_after_ms = 60 * 1000;
  c->max_failures = 2;
  c->max_provider_records = 100000;
  c->max_providers_per_key = 64;
  c->max_records = 10000;
  c->max_lookups = 256;
}

uint64_t cpc__kad_rand(cpc_kad *d) {
  uint64_t x = d->rng; /* xorshift64* */
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  d->rng = x;
  return x * 0x2545F4914F6CDD1Dull;
}

int cpc_kad_new(const cpc_peer_id *self, const cpc_kad_config *cfg,
                const cpc_kad_transport *transport, uint64_t now_ms,
                cpc_kad **out) {
  cpc_kad *d;

  *out = NULL;
  if (!transport || !transport->send || !self || self->len == 0)
    return CPC_EINVAL;
  if (cfg &&
      (cfg->k == 0 || cfg->k >= CPC_KAD_MAX_PEERS || cfg->alpha == 0 ||
       cfg->max_providers_per_key == 0 ||
       cfg->max_providers_per_key > CPC_KAD_MAX_PEERS || cfg->max_lookups == 0))
    return CPC_EINVAL;
  if (cpc__sodium_ready() != 0)
    return CPC_ECRYPTO;
  d = calloc(1, sizeof *d);
  if (!d)
    return CPC_ENOMEM;
  d->self = *self;
  d->self_peer.id = *self;
  cpc_kad_key_hash(self->bytes, self->len, d->self_key);
  if (cfg)
    d->cfg = *cfg;
  else
    cpc_kad_config_default(&d->cfg);
  d->tr = *transport;
  cpc__kad_rt_init(&d->rt, d->self_key, d->cfg.k, now_ms);
  cpc__kad_table_init(&d->providers);
  cpc__kad_table_init(&d->values);
  cpc__kad_table_init(&d->providing);
  d->rng = d->cfg.rng_seed;
  while (d->rng == 0)
    randombytes_buf(&d->rng, sizeof d->rng);
  d->next_cleanup_ms = now_ms + d->cfg.cleanup_ms;
  *out = d;
  return 0;
}

void cpc_kad_free(cpc_kad *d) {
  if (!d)
    return;
  while (d->n_lookups > 0)
    cpc__kad_lookup_cancel(d, d->lookups[d->n_lookups - 1]);
  while (d->n_pending > 0)
    cpc__kad_cancel_request(d, d->pending[d->n_pending - 1].req_id);
  free(d->lookups);
  free(d->pending);
  cpc__kad_rt_free(&d->rt);
  cpc__kad_providers_free(d);
  cpc__kad_values_free(d);
  cpc__kad_table_free(&d->providing, free);
  for (size_t i = 0; i < d->n_seeds; i++)
    cpc_kad_peer_clear(&d->seeds[i]);
  free(d->seeds);
  cpc_kad_peer_clear(&d->self_peer);
  free(d);
}

int cpc_kad_set_self_addrs(cpc_kad *d, const cpc_multiaddr *addrs, size_t n) {
  cpc_kad_peer p = {0};
  int rc = cpc_kad_peer_set(&p, &d->self, addrs, n);
  if (rc != 0)
    return rc;
  cpc_kad_peer_clear(&d->self_peer);
  d->self_peer = p;
  return 0;
}

/* ---- requests ----------------------------------------------------------- */

static cpc__kad_pending *find_pending(cpc_kad *d, uint64_t req_id) {
  for (size_t i = 0; i < d->n_pending; i++)
    if (d->pending[i].req_id == req_id)
      return &d->pending[i];
  return NULL;
}

/* Remove *p from the array, keeping the order (ticks scan it in order). */
static void drop_pending(cpc_kad *d, cpc__kad_pending *p) {
  size_t i = (size_t)(p - d->pending);
  memmove(&d->pending[i], &d->pending[i + 1],
          (d->n_pending - i - 1) * sizeof *d->pending);
  d->n_pending--;
}

int cpc__kad_send(cpc_kad *d, const cpc_kad_peer *to,
                  const uint8_t to_key[CPC_KAD_KEY_LEN],
                  const cpc_kad_message *msg, int expect_response,
                  enum cpc__kad_pending_kind kind, uint64_t lookup_id,
                  int bucket, uint64_t now_ms, uint64_t *req_id) {
  uint8_t *buf = NULL;
  size_t len;
  uint64_t id;
  int rc;

  *req_id = 0;
  rc = cpc_kad_message_encode(msg, &buf, &len);
  if (rc != 0)
    return rc;
  id = ++d->next_req_id;
  if (expect_response) {
    cpc__kad_pending *p;
    if (d->n_pending == d->cap_pending) {
      size_t nc = d->cap_pending ? d->cap_pending * 2 : 16;
      cpc__kad_pending *np = realloc(d->pending, nc * sizeof *np);
      if (!np) {
        free(buf);
        return CPC_ENOMEM;
      }
      d->pending = np;
      d->cap_pending = nc;
    }
    p = &d->pending[d->n_pending++];
    memset(p, 0, sizeof *p);
    p->req_id = id;
    p->deadline_ms = now_ms + d->cfg.request_timeout_ms;
    p->kind = kind;
    p->lookup_id = lookup_id;
    memcpy(p->peer_key, to_key, CPC_KAD_KEY_LEN);
    p->bucket = bucket;
  }
  rc = d->tr.send(d->tr.ctx, id, to, buf, len, expect_response);
  free(buf);
  if (rc != 0) {
    cpc__kad_pending *p = expect_response ? find_pending(d, id) : NULL;
    if (p)
      drop_pending(d, p);
    return rc < 0 ? rc : CPC_EIO;
  }
  *req_id = id;
  return 0;
}

void cpc__kad_cancel_request(cpc_kad *d, uint64_t req_id) {
  cpc__kad_pending *p = find_pending(d, req_id);
  if (!p)
    return;
  drop_pending(d, p);
  if (d->tr.cancel)
    d->tr.cancel(d->tr.ctx, req_id);
}

/* ---- the routing table -------------------------------------------------- */

static void ping_lrs(cpc_kad *d, int bucket, uint64_t now_ms) {
  cpc__kad_entry *lrs = cpc__kad_rt_lrs(&d->rt, bucket);
  cpc_kad_message m;
  uint64_t rid;

  if (!lrs)
    return;
  memset(&m, 0, sizeof m);
  m.type = CPC_KAD_PING;
  if (cpc__kad_send(d, &lrs->peer, lrs->key, &m, 1, CPC__KAD_REQ_PING, 0,
                    bucket, now_ms, &rid) == 0)
    d->rt.b[bucket].ping_req = rid;
  else
    (void)cpc__kad_rt_remove(&d->rt, lrs->key); /* unreachable: evict */
}

static int update(cpc_kad *d, const cpc_kad_peer *p,
                  const uint8_t key[CPC_KAD_KEY_LEN], uint64_t now_ms) {
  int ping = 0;
  int rc =
      cpc__kad_rt_update(&d->rt, p, key, now_ms, d->cfg.ping_after_ms, &ping);
  if (rc == CPC_EAGAIN && ping)
    ping_lrs(d, cpc__kad_rt_bucket_of(&d->rt, key), now_ms);
  return rc;
}

void cpc__kad_peer_seen(cpc_kad *d, const cpc_kad_peer *p,
                        const uint8_t key[CPC_KAD_KEY_LEN], uint64_t now_ms) {
  (void)update(d, p, key, now_ms);
}

void cpc__kad_peer_failed(cpc_kad *d, const uint8_t key[CPC_KAD_KEY_LEN]) {
  cpc__kad_entry *e = cpc__kad_rt_find(&d->rt, key);
  if (e && ++e->failures >= d->cfg.max_failures)
    (void)cpc__kad_rt_remove(&d->rt, key);
}

int cpc_kad_add_peer(cpc_kad *d, const cpc_kad_peer *p, uint64_t now_ms) {
  uint8_t key[CPC_KAD_KEY_LEN];
  if (cpc_peer_id_equal(&p->id, &d->self))
    return CPC_EINVAL;
  cpc_kad_key_hash(p->id.bytes, p->id.len, key);
  return update(d, p, key, now_ms);
}

int cpc_kad_remove_peer(cpc_kad *d, const cpc_peer_id *id) {
  uint8_t key[CPC_KAD_KEY_LEN];
  cpc_kad_key_hash(id->bytes, id->len, key);
  return cpc__kad_rt_remove(&d->rt, key);
}

size_t cpc_kad_table_size(const cpc_kad *d) {
  return d->rt.count;
}

int cpc_kad_closest_peers(const cpc_kad *d, const uint8_t *key, size_t key_len,
                          cpc_kad_peer *out, size_t cap, size_t *n) {
  const cpc__kad_entry **e;
  uint8_t target[CPC_KAD_KEY_LEN];
  size_t got;

  *n = 0;
  if (cap == 0)
    return 0;
  e = calloc(cap, sizeof *e);
  if (!e)
    return CPC_ENOMEM;
  cpc_kad_key_hash(key, key_len, target);
  got = cpc__kad_rt_closest(&d->rt, target, e, cap);
  for (size_t i = 0; i < got; i++) {
    memset(&out[i], 0, sizeof out[i]);
    if (cpc_kad_peer_copy(&out[i], &e[i]->peer) != 0) {
      for (size_t j = 0; j < i; j++)
        cpc_kad_peer_clear(&out[j]);
      free(e);
      return CPC_ENOMEM;
    }
  }
  free(e);
  *n = got;
  return 0;
}

/* ---- answers ------------------------------------------------------------ */

static void answered(cpc_kad *d, const cpc__kad_pending *p,
                     const cpc_kad_message *m, int rc, uint64_t now_ms) {
  struct cpc__kad_lookup *lk;

  switch (p->kind) {
  case CPC__KAD_REQ_PING:
    if (p->bucket >= 0 && d->rt.b[p->bucket].ping_req == p->req_id)
      d->rt.b[p->bucket].ping_req = 0;
    if (rc == 0) {
      cpc__kad_entry *e = cpc__kad_rt_find(&d->rt, p->peer_key);
      if (e) {
        e->last_seen_ms = now_ms;
        e->failures = 0;
      }
    } else {
      (void)cpc__kad_rt_remove(&d->rt, p->peer_key);
    }
    break;
  case CPC__KAD_REQ_FIRE: break;
  case CPC__KAD_REQ_LOOKUP:
  case CPC__KAD_REQ_STORE:
    lk = cpc__kad_lookup_find(d, p->lookup_id);
    if (lk)
      cpc__kad_lookup_on_answer(d, lk, p, rc == 0 ? m : NULL, rc, now_ms);
    break;
  }
}

int cpc_kad_on_response(cpc_kad *d, uint64_t req_id, const uint8_t *msg,
                        size_t len, uint64_t now_ms) {
  cpc__kad_pending *pp = find_pending(d, req_id), p;
  cpc_kad_message m;
  int rc;

  if (!pp)
    return CPC_ENOENT;
  p = *pp;
  drop_pending(d, pp);
  rc = cpc_kad_message_decode(msg, len, &m);
  answered(d, &p, &m, rc, now_ms);
  cpc_kad_message_clear(&m);
  return rc;
}

int cpc_kad_on_failure(cpc_kad *d, uint64_t req_id, int rc, uint64_t now_ms) {
  cpc__kad_pending *pp = find_pending(d, req_id), p;

  if (!pp)
    return CPC_ENOENT;
  p = *pp;
  drop_pending(d, pp);
  answered(d, &p, NULL, rc < 0 ? rc : CPC_EIO, now_ms);
  return 0;
}

/* ---- time --------------------------------------------------------------- */

/* Requests past their deadline fail with CPC_ETIMEDOUT. */
static int expire_requests(cpc_kad *d, uint64_t now_ms) {
  uint64_t *ids;
  size_t n = 0;

  if (d->n_pending == 0)
    return 0;
  ids = malloc(d->n_pending * sizeof *ids);
  if (!ids)
    return CPC_ENOMEM;
  for (size_t i = 0; i < d->n_pending; i++)
    if (d->pending[i].deadline_ms <= now_ms)
      ids[n++] = d->pending[i].req_id;
  for (size_t i = 0; i < n; i++) {
    if (!find_pending(d, ids[i]))
      continue; /* ended meanwhile with its lookup */
    if (d->tr.cancel)
      d->tr.cancel(d->tr.ctx, ids[i]);
    (void)cpc_kad_on_failure(d, ids[i], CPC_ETIMEDOUT, now_ms);
  }
  free(ids);
  return 0;
}

/* A FIND_NODE key (a sha2-256 multihash, like a PeerId) whose position
 * falls in bucket cpl. Takes about 2^(cpl+1) tries. */
static void key_for_bucket(cpc_kad *d, int cpl, uint8_t out[34]) {
  uint8_t pos[CPC_KAD_KEY_LEN];
  out[0] = 0x12;
  out[1] = 0x20;
  for (;;) {
    for (int i = 0; i < 4; i++) {
      uint64_t r = cpc__kad_rand(d);
      memcpy(out + 2 + 8 * i, &r, 8);
    }
    cpc_kad_key_hash(out, 34, pos);
    if (cpc__kad_rt_bucket_of(&d->rt, pos) == cpl)
      return;
  }
}

static int refresh_limit(const cpc_kad *d) {
  int max = cpc__kad_rt_max_bucket(&d->rt);
  return max < REFRESH_MAX_BUCKET ? max : REFRESH_MAX_BUCKET;
}

static void refresh_buckets(cpc_kad *d, uint64_t now_ms) {
  int lim = refresh_limit(d);

  for (int i = 0; i <= lim; i++) {
    cpc__kad_bucket *b = &d->rt.b[i];
    cpc__kad_lookup_args a;
    uint8_t key[34];
    uint64_t id;

    if (b->refresh_lookup || b->last_refresh_ms + d->cfg.refresh_ms > now_ms)
      continue;
    key_for_bucket(d, i, key);
    memset(&a, 0, sizeof a);
    a.purpose = CPC__KAD_LP_REFRESH;
    a.key = key;
    a.key_len = sizeof key;
    a.bucket = i;
    b->last_refresh_ms = now_ms;
    if (cpc__kad_lookup_start(d, &a, now_ms, &id) == 0 &&
        cpc__kad_lookup_find(d, id))
      b->refresh_lookup = id;
  }
}

typedef struct republish_ctx {
  cpc_kad *d;
  uint64_t now_ms;
  unsigned started;
} republish_ctx;

static int republish_one(void *ctx, const uint8_t *key, size_t len, void *val) {
  republish_ctx *c = ctx;
  cpc__kad_providing *pv = val;
  cpc__kad_lookup_args a;
  uint64_t id;

  if (pv->lookup_id || pv->next_ms > c->now_ms ||
      c->started >= REPUBLISH_PER_TICK)
    return 1;
  (void)cpc__kad_providers_add(c->d, key, len, &c->d->self_peer, c->now_ms);
  memset(&a, 0, sizeof a);
  a.purpose = CPC__KAD_LP_PROVIDE;
  a.key = key;
  a.key_len = len;
  a.bucket = -1;
  pv->next_ms = c->now_ms + c->d->cfg.republish_ms;
  if (cpc__kad_lookup_start(c->d, &a, c->now_ms, &id) == 0 &&
      cpc__kad_lookup_find(c->d, id))
    pv->lookup_id = id;
  c->started++;
  return 1;
}

int cpc_kad_tick(cpc_kad *d, uint64_t now_ms) {
  republish_ctx rc = {d, now_ms, 0};

  if (expire_requests(d, now_ms) != 0)
    return CPC_ENOMEM;
  if (now_ms >= d->next_cleanup_ms) {
    cpc__kad_providers_sweep(d, now_ms);
    cpc__kad_values_sweep(d, now_ms);
    d->next_cleanup_ms = now_ms + d->cfg.cleanup_ms;
  }
  if (d->rt.count > 0) {
    refresh_buckets(d, now_ms);
    cpc__kad_table_filter(&d->providing, republish_one, &rc);
  } else if (d->n_seeds > 0 && now_ms >= d->next_rejoin_ms &&
             !(d->bootstrap_lookup &&
               cpc__kad_lookup_find(d, d->bootstrap_lookup))) {
    /* Everyone we knew is gone: join again through the bootstrap peers. */
    d->next_rejoin_ms = now_ms + REJOIN_MS;
    (void)cpc_kad_bootstrap(d, d->seeds, d->n_seeds, now_ms, NULL, NULL, NULL);
  }
  return 0;
}

typedef struct wake_ctx {
  uint64_t t;
} wake_ctx;

static void wake_providing(void *ctx, const uint8_t *key, size_t len,
                           const void *val) {
  wake_ctx *w = ctx;
  const cpc__kad_providing *pv = val;
  (void)key;
  (void)len;
  if (!pv->lookup_id && pv->next_ms < w->t)
    w->t = pv->next_ms;
}

uint64_t cpc_kad_next_wakeup(const cpc_kad *d) {
  wake_ctx w = {d->next_cleanup_ms};
  int lim = refresh_limit(d);

  for (size_t i = 0; i < d->n_pending; i++)
    if (d->pending[i].deadline_ms < w.t)
      w.t = d->pending[i].deadline_ms;
  for (int i = 0; i <= lim; i++) {
    const cpc__kad_bucket *b = &d->rt.b[i];
    if (!b->refresh_lookup && b->last_refresh_ms + d->cfg.refresh_ms < w.t)
      w.t = b->last_refresh_ms + d->cfg.refresh_ms;
  }
  if (d->rt.count > 0)
    cpc__kad_table_foreach(&d->providing, wake_providing, &w);
  else if (d->n_seeds > 0 && d->next_rejoin_ms < w.t)
    w.t = d->next_rejoin_ms;
  return w.t;
}
