/*
 * lookup.c: the iterative lookup state machine (libp2p kad-dht "peer
 * routing" / "value routing"), driven by answers and failures:
 *
 *   candidates  peers heard of, nearest to the target first, each HEARD,
 *               WAITING (asked), OK (answered) or FAILED, with the depth
 *               at which it was learned.
 *   step        among the k nearest candidates that did not fail, ask
 *               HEARD ones while fewer than alpha requests are out; the
 *               search ends when those k all answered, when nothing is
 *               out (nothing left to ask), or early when enough providers /
 *               values are in.
 *   second phase  provide: ADD_PROVIDER to the k nearest that answered;
 *               put: PUT_VALUE to them, waiting for their echoes; get:
 *               PUT_VALUE of the best record to peers that sent worse.
 *
 * Farther candidates that were never asked are dropped beyond
 * CAND_CAP_FACTOR * k, so a lookup's memory stays bounded.
 */
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/multihash.h"
#include "kad/kad_int.h"

#define CAND_CAP_FACTOR 4

enum cand_state { C_HEARD, C_WAITING, C_OK, C_FAILED };

typedef struct cand {
  cpc_kad_peer peer;
  uint8_t key[CPC_KAD_KEY_LEN];
  uint8_t state;
  uint8_t sent_value; /* GET_VALUE: answered with a valid record */
  unsigned depth;
  uint64_t req_id;
  uint8_t vhash[CPC_KAD_KEY_LEN]; /* SHA-256 of the record it sent */
} cand;

enum phase { PH_SEARCH, PH_STORE, PH_DONE };

struct cpc__kad_lookup {
  uint64_t id;
  enum cpc__kad_purpose purpose;
  enum cpc_kad_msg_type qtype;
  uint8_t *key;
  size_t key_len;
  uint8_t target[CPC_KAD_KEY_LEN];
  cand *c;
  size_t n, cap;
  size_t in_flight;
  enum phase phase;
  cpc_kad_lookup_stats st;
  int have_result;
  size_t want; /* providers wanted / value quorum */
  cpc_kad_peer *prov;
  size_t n_prov, cap_prov;
  cpc_kad_peer found;
  int has_found;
  uint8_t *best;
  size_t best_len;
  int has_best;
  size_t n_values;
  uint8_t *put_value;
  size_t put_len;
  size_t store_pending, stored;
  int bucket;
  cpc_kad_done_cb cb;
  void *arg;
};

uint64_t cpc__kad_lookup_id(const struct cpc__kad_lookup *lk) {
  return lk->id;
}

struct cpc__kad_lookup *cpc__kad_lookup_find(cpc_kad *d, uint64_t id) {
  for (size_t i = 0; i < d->n_lookups; i++)
    if (d->lookups[i]->id == id)
      return d->lookups[i];
  return NULL;
}

static void lookup_free(struct cpc__kad_lookup *lk) {
  for (size_t i = 0; i < lk->n; i++)
    cpc_kad_peer_clear(&lk->c[i].peer);
  for (size_t i = 0; i < lk->n_prov; i++)
    cpc_kad_peer_clear(&lk->prov[i]);
  cpc_kad_peer_clear(&lk->found);
  free(lk->c);
  free(lk->prov);
  free(lk->key);
  free(lk->best);
  free(lk->put_value);
  free(lk);
}

static void unregister(cpc_kad *d, struct cpc__kad_lookup *lk) {
  for (size_t i = 0; i < d->n_lookups; i++) {
    if (d->lookups[i] != lk)
      continue;
    d->lookups[i] = d->lookups[--d->n_lookups];
    break;
  }
  if (lk->purpose == CPC__KAD_LP_REFRESH && lk->bucket >= 0 &&
      d->rt.b[lk->bucket].refresh_lookup == lk->id)
    d->rt.b[lk->bucket].refresh_lookup = 0;
  if (lk->purpose == CPC__KAD_LP_PROVIDE) {
    cpc__kad_providing *pv =
        cpc__kad_table_get(&d->providing, lk->key, lk->key_len);
    if (pv && pv->lookup_id == lk->id)
      pv->lookup_id = 0;
  }
}

/* Cancel every request of lk still out. */
static void cancel_requests(cpc_kad *d, struct cpc__kad_lookup *lk) {
  size_t i = 0;
  while (i < d->n_pending) {
    if (d->pending[i].lookup_id == lk->id &&
        (d->pending[i].kind == CPC__KAD_REQ_LOOKUP ||
         d->pending[i].kind == CPC__KAD_REQ_STORE)) {
      cpc__kad_cancel_request(d, d->pending[i].req_id);
      continue; /* the array shifted */
    }
    i++;
  }
  lk->in_flight = 0;
}

void cpc__kad_lookup_cancel(cpc_kad *d, struct cpc__kad_lookup *lk) {
  cancel_requests(d, lk);
  unregister(d, lk);
  lookup_free(lk);
}

static cand *find_cand(struct cpc__kad_lookup *lk,
                       const uint8_t key[CPC_KAD_KEY_LEN]) {
  for (size_t i = 0; i < lk->n; i++)
    if (memcmp(lk->c[i].key, key, CPC_KAD_KEY_LEN) == 0)
      return &lk->c[i];
  return NULL;
}

/* Add p (learned at depth) to the candidates, or improve what we know. */
static int add_cand(cpc_kad *d, struct cpc__kad_lookup *lk,
                    const cpc_kad_peer *p, unsigned depth) {
  uint8_t key[CPC_KAD_KEY_LEN];
  size_t cap = CAND_CAP_FACTOR * d->cfg.k, pos;
  cand *c;

  if (cpc_peer_id_equal(&p->id, &d->self))
    return 0;
  cpc_kad_key_hash(p->id.bytes, p->id.len, key);
  c = find_cand(lk, key);
  if (c) {
    if (depth < c->depth)
      c->depth = depth;
    return cpc__kad_peer_merge_addrs(&c->peer, p);
  }
  if (lk->n >= cap) {
    /* Full: only enter if nearer than the farthest never-asked one,
     * which then makes room. */
    size_t far = lk->n;
    for (size_t i = lk->n; i-- > 0;)
      if (lk->c[i].state == C_HEARD) {
        far = i;
        break;
      }
    if (far == lk->n)
      goto grow; /* all were asked: keep them, grow */
    if (cpc_kad_compare_distance(lk->target, key, lk->c[far].key) >= 0)
      return 0;
    cpc_kad_peer_clear(&lk->c[far].peer);
    memmove(&lk->c[far], &lk->c[far + 1], (lk->n - far - 1) * sizeof *lk->c);
    lk->n--;
  }
grow:
  if (lk->n == lk->cap) {
    size_t nc = lk->cap ? lk->cap * 2 : 32;
    cand *nb = realloc(lk->c, nc * sizeof *nb);
    if (!nb)
      return CPC_ENOMEM;
    lk->c = nb;
    lk->cap = nc;
  }
  pos = lk->n;
  while (pos > 0 &&
         cpc_kad_compare_distance(lk->target, key, lk->c[pos - 1].key) < 0)
    pos--;
  memmove(&lk->c[pos + 1], &lk->c[pos], (lk->n - pos) * sizeof *lk->c);
  c = &lk->c[pos];
  memset(c, 0, sizeof *c);
  if (cpc_kad_peer_copy(&c->peer, p) != 0) {
    memmove(&lk->c[pos], &lk->c[pos + 1], (lk->n - pos) * sizeof *lk->c);
    return CPC_ENOMEM;
  }
  c->peer.connection = 0;
  memcpy(c->key, key, CPC_KAD_KEY_LEN);
  c->state = C_HEARD;
  c->depth = depth;
  lk->n++;
  return 0;
}

static int early_done(const cpc_kad *d, const struct cpc__kad_lookup *lk) {
  if (lk->purpose == CPC__KAD_LP_GET_PROVIDERS)
    return lk->n_prov >= lk->want;
  if (lk->purpose == CPC__KAD_LP_GET_VALUE)
    return lk->want > 0 && lk->n_values >= lk->want;
  if (lk->purpose == CPC__KAD_LP_FIND_PEER)
    return lk->has_found;
  (void)d;
  return 0;
}

static void complete(cpc_kad *d, struct cpc__kad_lookup *lk, uint64_t now_ms);
static void finish_search(cpc_kad *d, struct cpc__kad_lookup *lk,
                          uint64_t now_ms);

static int send_query(cpc_kad *d, struct cpc__kad_lookup *lk, cand *c,
                      uint64_t now_ms) {
  cpc_kad_message m;
  memset(&m, 0, sizeof m);
  m.type = lk->qtype;
  m.key = lk->key;
  m.key_len = lk->key_len;
  return cpc__kad_send(d, &c->peer, c->key, &m, 1, CPC__KAD_REQ_LOOKUP, lk->id,
                       -1, now_ms, &c->req_id);
}

/* Ask more peers or end the search. lk may be freed on return. */
static void step(cpc_kad *d, struct cpc__kad_lookup *lk, uint64_t now_ms) {
  size_t counted = 0;
  int all_ok = 1;

  if (lk->phase != PH_SEARCH)
    return;
  if (early_done(d, lk)) {
    finish_search(d, lk, now_ms);
    return;
  }
  for (size_t i = 0; i < lk->n && counted < d->cfg.k; i++) {
    cand *c = &lk->c[i];
    if (c->state == C_FAILED)
      continue;
    counted++;
    if (c->state == C_OK)
      continue;
    all_ok = 0;
    if (c->state == C_WAITING || lk->in_flight >= d->cfg.alpha)
      continue;
    if (send_query(d, lk, c, now_ms) == 0) {
      c->state = C_WAITING;
      lk->in_flight++;
      lk->st.queried++;
    } else {
      c->state = C_FAILED;
      lk->st.queried++;
      lk->st.failed++;
      counted--;
    }
  }
  if (all_ok || lk->in_flight == 0)
    finish_search(d, lk, now_ms);
}

static void send_to_closest(cpc_kad *d, struct cpc__kad_lookup *lk,
                            const cpc_kad_message *m, int expect,
                            uint64_t now_ms) {
  size_t sent = 0;
  for (size_t i = 0; i < lk->n && sent < d->cfg.k; i++) {
    cand *c = &lk->c[i];
    uint64_t rid;
    if (c->state != C_OK)
      continue;
    sent++;
    if (cpc__kad_send(d, &c->peer, c->key, m, expect, CPC__KAD_REQ_STORE,
                      lk->id, -1, now_ms, &rid) != 0)
      continue;
    if (expect)
      lk->store_pending++;
    else
      lk->stored++;
  }
}

/* Send the best record to the peers that answered with another one. */
static void correct_peers(cpc_kad *d, struct cpc__kad_lookup *lk,
                          uint64_t now_ms) {
  uint8_t bh[CPC_KAD_KEY_LEN];
  cpc_kad_message m;

  /* Only /cpc/ records have an order; valid /pk/ records are all equal. */
  if (!lk->has_best || !cpc__kad_key_has_prefix(lk->key, lk->key_len, "/cpc/"))
    return;
  cpc_kad_key_hash(lk->best, lk->best_len, bh);
  memset(&m, 0, sizeof m);
  m.type = CPC_KAD_PUT_VALUE;
  m.key = lk->key;
  m.key_len = lk->key_len;
  m.has_record = 1;
  m.rec_key = lk->key;
  m.rec_key_len = lk->key_len;
  m.rec_value = lk->best;
  m.rec_value_len = lk->best_len;
  for (size_t i = 0; i < lk->n; i++) {
    cand *c = &lk->c[i];
    uint64_t rid;
    if (c->state != C_OK || !c->sent_value ||
        memcmp(c->vhash, bh, sizeof bh) == 0)
      continue;
    (void)cpc__kad_send(d, &c->peer, c->key, &m, 1, CPC__KAD_REQ_FIRE, 0, -1,
                        now_ms, &rid);
  }
}

static void finish_search(cpc_kad *d, struct cpc__kad_lookup *lk,
                          uint64_t now_ms) {
  cpc_kad_message m;

  lk->phase = PH_STORE;
  cancel_requests(d, lk);
  memset(&m, 0, sizeof m);
  switch (lk->purpose) {
  case CPC__KAD_LP_PROVIDE:
    m.type = CPC_KAD_ADD_PROVIDER;
    m.key = lk->key;
    m.key_len = lk->key_len;
    m.providers = &d->self_peer;
    m.n_providers = 1;
    send_to_closest(d, lk, &m, 0, now_ms);
    break;
  case CPC__KAD_LP_PUT:
    m.type = CPC_KAD_PUT_VALUE;
    m.key = lk->key;
    m.key_len = lk->key_len;
    m.has_record = 1;
    m.rec_key = lk->key;
    m.rec_key_len = lk->key_len;
    m.rec_value = lk->put_value;
    m.rec_value_len = lk->put_len;
    send_to_closest(d, lk, &m, 1, now_ms);
    if (lk->store_pending > 0)
      return; /* complete() when the echoes are in */
    break;
  case CPC__KAD_LP_GET_VALUE: correct_peers(d, lk, now_ms); break;
  case CPC__KAD_LP_BOOTSTRAP:
    for (size_t i = 0; i < CPC__KAD_BUCKETS; i++)
      d->rt.b[i].last_refresh_ms = 0;
    break;
  default: break;
  }
  complete(d, lk, now_ms);
}

static void complete(cpc_kad *d, struct cpc__kad_lookup *lk, uint64_t now_ms) {
  cpc_kad_result res;
  cpc_kad_peer *views;
  size_t nv = 0;

  lk->phase = PH_DONE;
  cancel_requests(d, lk);
  lk->st.finished_ms = now_ms;
  if (!lk->have_result)
    lk->st.hops = lk->st.max_depth;
  views = calloc(d->cfg.k, sizeof *views);
  if (views)
    for (size_t i = 0; i < lk->n && nv < d->cfg.k; i++)
      if (lk->c[i].state == C_OK)
        views[nv++] = lk->c[i].peer; /* shallow */
  memset(&res, 0, sizeof res);
  res.lookup_id = lk->id;
  res.stats = lk->st;
  res.closest = views;
  res.n_closest = nv;
  res.providers = lk->prov;
  res.n_providers = lk->n_prov;
  res.found = lk->has_found ? &lk->found : NULL;
  res.value = lk->has_best ? lk->best : NULL;
  res.value_len = lk->has_best ? lk->best_len : 0;
  res.stored = lk->stored;
  switch (lk->purpose) {
  case CPC__KAD_LP_GET_PROVIDERS: res.rc = lk->n_prov ? 0 : CPC_ENOENT; break;
  case CPC__KAD_LP_FIND_PEER: res.rc = lk->has_found ? 0 : CPC_ENOENT; break;
  case CPC__KAD_LP_GET_VALUE: res.rc = lk->has_best ? 0 : CPC_ENOENT; break;
  case CPC__KAD_LP_PROVIDE:
  case CPC__KAD_LP_PUT: res.rc = lk->stored ? 0 : CPC_ENOSPC; break;
  default: res.rc = nv ? 0 : CPC_ENOENT; break;
  }
  unregister(d, lk);
  if (lk->cb)
    lk->cb(lk->arg, &res);
  free(views);
  lookup_free(lk);
}

static int add_provider(struct cpc__kad_lookup *lk, const cpc_kad_peer *p) {
  for (size_t i = 0; i < lk->n_prov; i++)
    if (cpc_peer_id_equal(&lk->prov[i].id, &p->id))
      return cpc__kad_peer_merge_addrs(&lk->prov[i], p);
  if (lk->n_prov == lk->cap_prov) {
    size_t nc = lk->cap_prov ? lk->cap_prov * 2 : 4;
    cpc_kad_peer *np = realloc(lk->prov, nc * sizeof *np);
    if (!np)
      return CPC_ENOMEM;
    lk->prov = np;
    lk->cap_prov = nc;
  }
  memset(&lk->prov[lk->n_prov], 0, sizeof *lk->prov);
  if (cpc_kad_peer_copy(&lk->prov[lk->n_prov], p) != 0)
    return CPC_ENOMEM;
  lk->n_prov++;
  return 0;
}

/* A record came back: keep it if valid and better. 1 if it is the best. */
static int take_value(struct cpc__kad_lookup *lk, const cpc_kad_message *m,
                      cand *c) {
  uint8_t *copy;

  if (!m->has_record || m->rec_key_len != lk->key_len ||
      memcmp(m->rec_key, lk->key, lk->key_len) != 0 ||
      cpc_kad_validate_record(m->rec_key, m->rec_key_len, m->rec_value,
                              m->rec_value_len) != 0)
    return 0;
  lk->n_values++;
  c->sent_value = 1;
  cpc_kad_key_hash(m->rec_value, m->rec_value_len, c->vhash);
  if (lk->has_best &&
      cpc_kad_select_record(lk->key, lk->key_len, lk->best, lk->best_len,
                            m->rec_value, m->rec_value_len) <= 0)
    return 0;
  copy = malloc(m->rec_value_len ? m->rec_value_len : 1);
  if (!copy)
    return 0;
  memcpy(copy, m->rec_value, m->rec_value_len);
  free(lk->best);
  lk->best = copy;
  lk->best_len = m->rec_value_len;
  lk->has_best = 1;
  return 1;
}

static void set_found(struct cpc__kad_lookup *lk, const cpc_kad_peer *p,
                      unsigned depth) {
  if (lk->has_found) {
    (void)cpc__kad_peer_merge_addrs(&lk->found, p);
    return;
  }
  if (cpc_kad_peer_copy(&lk->found, p) != 0)
    return;
  lk->found.connection = 0;
  lk->has_found = 1;
  lk->have_result = 1;
  lk->st.hops = depth;
}

void cpc__kad_lookup_on_answer(cpc_kad *d, struct cpc__kad_lookup *lk,
                               const cpc__kad_pending *p,
                               const cpc_kad_message *msg, int rc,
                               uint64_t now_ms) {
  cand *c;
  unsigned depth;
  cpc_peer_id target_id;
  int finding = 0;

  if (p->kind == CPC__KAD_REQ_STORE) {
    if (lk->phase != PH_STORE || lk->store_pending == 0)
      return;
    lk->store_pending--;
    if (rc == 0 && msg && msg->type == CPC_KAD_PUT_VALUE)
      lk->stored++;
    if (lk->store_pending == 0)
      complete(d, lk, now_ms);
    return;
  }
  c = find_cand(lk, p->peer_key);
  if (!c || c->state != C_WAITING || c->req_id != p->req_id ||
      lk->phase != PH_SEARCH)
    return;
  lk->in_flight--;
  if (rc != 0 || !msg || msg->type != lk->qtype) {
    c->state = C_FAILED;
    lk->st.failed++;
    cpc__kad_peer_failed(d, c->key);
    step(d, lk, now_ms);
    return;
  }
  c->state = C_OK;
  lk->st.succeeded++;
  depth = c->depth;
  if (depth > lk->st.max_depth)
    lk->st.max_depth = depth;
  cpc__kad_peer_seen(d, &c->peer, c->key, now_ms);
  if (lk->purpose == CPC__KAD_LP_FIND_PEER &&
      cpc_peer_id_from_bytes(lk->key, lk->key_len, &target_id) == 0) {
    finding = 1;
    if (cpc_peer_id_equal(&c->peer.id, &target_id))
      set_found(lk, &c->peer, depth);
  }
  if (lk->qtype == CPC_KAD_GET_VALUE && take_value(lk, msg, c) &&
      !lk->have_result) {
    lk->have_result = 1;
    lk->st.hops = depth;
  }
  /* c may move from here on (candidates are inserted). */
  for (size_t i = 0; i < msg->n_closer; i++) {
    if (finding && cpc_peer_id_equal(&msg->closer[i].id, &target_id))
      set_found(lk, &msg->closer[i], depth);
    (void)add_cand(d, lk, &msg->closer[i], depth + 1);
  }
  if (lk->qtype == CPC_KAD_GET_PROVIDERS) {
    for (size_t i = 0; i < msg->n_providers; i++) {
      if (add_provider(lk, &msg->providers[i]) == 0 && !lk->have_result) {
        lk->have_result = 1;
        lk->st.hops = depth;
      }
    }
  }
  step(d, lk, now_ms);
}

static enum cpc_kad_msg_type query_type(enum cpc__kad_purpose p) {
  switch (p) {
  case CPC__KAD_LP_GET_PROVIDERS: return CPC_KAD_GET_PROVIDERS;
  case CPC__KAD_LP_GET_VALUE: return CPC_KAD_GET_VALUE;
  default: return CPC_KAD_FIND_NODE;
  }
}

/* What we know locally; may satisfy the lookup at once. */
static int local_answers(cpc_kad *d, struct cpc__kad_lookup *lk,
                         uint64_t now_ms) {
  if (lk->purpose == CPC__KAD_LP_GET_PROVIDERS) {
    cpc_kad_peer views[CPC_KAD_MAX_PEERS];
    size_t n = cpc__kad_providers_view(d, lk->key, lk->key_len, now_ms, views,
                                       CPC_KAD_MAX_PEERS);
    for (size_t i = 0; i < n; i++)
      if (add_provider(lk, &views[i]) != 0)
        return CPC_ENOMEM;
    if (n > 0)
      lk->have_result = 1; /* hops 0 */
  } else if (lk->purpose == CPC__KAD_LP_GET_VALUE) {
    uint8_t pkbuf[CPC_PUBKEY_PROTO_MAX];
    const uint8_t *v = NULL;
    size_t vl = 0;
    cpc_peer_id id;
    cpc_pubkey pk;
    if (cpc__kad_values_get(d, lk->key, lk->key_len, now_ms, &v, &vl, NULL) !=
        0) {
      v = NULL;
      /* A /pk/ key of an identity PeerId holds its own answer. */
      if (cpc__kad_key_has_prefix(lk->key, lk->key_len, "/pk/") &&
          cpc__kad_key_peer(lk->key, lk->key_len, &id) == 0 &&
          cpc_peer_id_pubkey(&id, &pk) == 0 &&
          cpc_pubkey_encode(&pk, pkbuf, sizeof pkbuf, &vl) == 0)
        v = pkbuf;
    }
    if (v) {
      lk->best = malloc(vl ? vl : 1);
      if (!lk->best)
        return CPC_ENOMEM;
      memcpy(lk->best, v, vl);
      lk->best_len = vl;
      lk->has_best = 1;
      lk->n_values = 1;
      lk->have_result = 1;
    }
  } else if (lk->purpose == CPC__KAD_LP_FIND_PEER) {
    cpc__kad_entry *e = cpc__kad_rt_find(&d->rt, lk->target);
    if (e)
      set_found(lk, &e->peer, 0);
  }
  return 0;
}

int cpc__kad_lookup_start(cpc_kad *d, const cpc__kad_lookup_args *a,
                          uint64_t now_ms, uint64_t *lookup_id) {
  const cpc__kad_entry **seeds = NULL;
  struct cpc__kad_lookup *lk = NULL;
  size_t n;
  int rc, b;

  if (lookup_id)
    *lookup_id = 0;
  if (a->key_len == 0)
    return CPC_EINVAL;
  if (a->key_len > CPC_KAD_MAX_KEY || a->value_len > CPC_KAD_MAX_VALUE)
    return CPC_ETOOBIG;
  if (d->n_lookups >= d->cfg.max_lookups)
    return CPC_EAGAIN;
  lk = calloc(1, sizeof *lk);
  seeds = calloc(d->cfg.k, sizeof *seeds);
  if (!lk || !seeds) {
    rc = CPC_ENOMEM;
    goto fail;
  }
  lk->purpose = a->purpose;
  lk->qtype = query_type(a->purpose);
  lk->want = a->want;
  lk->bucket = a->bucket;
  lk->cb = a->cb;
  lk->arg = a->arg;
  lk->st.started_ms = now_ms;
  lk->key = malloc(a->key_len);
  if (!lk->key) {
    rc = CPC_ENOMEM;
    goto fail;
  }
  memcpy(lk->key, a->key, a->key_len);
  lk->key_len = a->key_len;
  cpc_kad_key_hash(a->key, a->key_len, lk->target);
  if (a->purpose == CPC__KAD_LP_PUT) {
    lk->put_value = malloc(a->value_len ? a->value_len : 1);
    if (!lk->put_value) {
      rc = CPC_ENOMEM;
      goto fail;
    }
    memcpy(lk->put_value, a->value, a->value_len);
    lk->put_len = a->value_len;
  }
  rc = local_answers(d, lk, now_ms);
  if (rc != 0)
    goto fail;
  n = cpc__kad_rt_closest(&d->rt, lk->target, seeds, d->cfg.k);
  for (size_t i = 0; i < n; i++)
    if ((rc = add_cand(d, lk, &seeds[i]->peer, 1)) != 0)
      goto fail;
  for (size_t i = 0; i < a->n_seeds; i++)
    if ((rc = add_cand(d, lk, &a->seeds[i], 1)) != 0)
      goto fail;
  if (lk->n == 0 && !early_done(d, lk)) {
    rc = CPC_ENOENT;
    goto fail;
  }
  if (d->n_lookups == d->cap_lookups) {
    size_t nc = d->cap_lookups ? d->cap_lookups * 2 : 8;
    struct cpc__kad_lookup **nl = realloc(d->lookups, nc * sizeof *nl);
    if (!nl) {
      rc = CPC_ENOMEM;
      goto fail;
    }
    d->lookups = nl;
    d->cap_lookups = nc;
  }
  lk->id = ++d->next_lookup_id;
  d->lookups[d->n_lookups++] = lk;
  if (lookup_id)
    *lookup_id = lk->id;
  /* A lookup into a bucket's range counts as its refresh. */
  b = cpc__kad_rt_bucket_of(&d->rt, lk->target);
  if (b >= 0)
    d->rt.b[b].last_refresh_ms = now_ms;
  free(seeds);
  step(d, lk, now_ms); /* may complete and free lk */
  return 0;
fail:
  free(seeds);
  if (lk)
    lookup_free(lk);
  return rc;
}
