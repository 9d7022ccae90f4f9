/*
 * fetch.c: cpc_exchange_fetch: dial the providers, run one Bitswap session
 * over those whose stream opens, store and hand out verified blocks, and
 * report once. Providers found by swarming (swarm.c) join a running fetch
 * the same way as the ones given.
 */
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "exchange/exchange_int.h"

/* A dial in flight; outlives its fetch if the fetch is freed first. */
struct cpc__xfetch_dial {
  cpc_exchange_fetch *f; /* NULL once the fetch is gone */
  size_t prov;
};

static int key_cmp(const uint8_t *a, size_t alen, const uint8_t *b,
                   size_t blen) {
  int c = memcmp(a, b, alen < blen ? alen : blen);
  if (c != 0)
    return c;
  return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static int want_cmp(const void *a, const void *b) {
  const struct cpc__xwant *x = a, *y = b;
  return key_cmp(x->key, x->key_len, y->key, y->key_len);
}

static struct cpc__xwant *want_find(cpc_exchange_fetch *f, const cpc_cid *cid) {
  uint8_t key[CPC_CID_MAX_BYTES];
  size_t len, lo = 0, hi = f->n_wants;
  if (cpc_cid_encode(cid, key, sizeof key, &len) != 0)
    return NULL;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = key_cmp(key, len, f->wants[mid].key, f->wants[mid].key_len);
    if (c == 0)
      return &f->wants[mid];
    if (c < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  return NULL;
}

/* Over with rc: end the session (its wants are cancelled) and report from
 * the kick. Not from inside an on_block of the client engine. */
static void finish(cpc_exchange_fetch *f, int rc) {
  if (f->finished)
    return;
  f->finished = 1;
  f->rc = rc;
  cpc__xswarm_stop(f);
  if (f->sess) {
    cpc_bitswap_session_stats st;
    cpc_bitswap_session_stats_get(f->sess, &st);
    f->timeouts_at_end = st.timeouts;
    cpc_bitswap_session_free(f->sess);
    f->sess = NULL;
  }
  cpc__xfetch_kick(f);
}

/* No session and no provider left to try: fail with their reason. */
static void check_failed(cpc_exchange_fetch *f) {
  int unsupported = 1;
  if (f->finished || f->sess || f->n_provs == 0)
    return;
  for (size_t i = 0; i < f->n_provs; i++) {
    if (f->provs[i].state != CPC__XPROV_FAILED)
      return;
    if (f->provs[i].err != CPC_EUNSUPPORTED)
      unsupported = 0;
  }
  finish(f, unsupported ? CPC_EUNSUPPORTED : CPC_EIO);
}

static void prov_fail(cpc_exchange_fetch *f, struct cpc__xprov *pv, int err) {
  pv->state = CPC__XPROV_FAILED;
  pv->err = err;
  if (!f->first_err)
    f->first_err = err;
  check_failed(f);
}

/* pv's peer speaks Bitswap with us: put it in the session. */
static void prov_join(cpc_exchange_fetch *f, struct cpc__xprov *pv) {
  cpc_exchange *ex = f->ex;
  int rc;
  pv->state = CPC__XPROV_READY;
  if (f->finished)
    return;
  if (f->sess) {
    rc = cpc_bitswap_session_add_peer(f->sess, &pv->id);
  } else {
    cpc_cid *cids = malloc(f->n_wants * sizeof *cids);
    size_t n = 0;
    if (!cids) {
      finish(f, CPC_ENOMEM);
      return;
    }
    for (size_t i = 0; i < f->n_wants; i++)
      if (!f->wants[i].delivered)
        cids[n++] = f->wants[i].cid;
    rc = cpc_bitswap_session_new(ex->client, cids, n, &pv->id, 1, f, &f->sess);
    free(cids);
  }
  if (rc != 0 && rc != CPC_ESTATE)
    finish(f, rc);
}

/* pv is connected to p: join now, or once p's outbound stream opens. */
static void prov_connected(cpc_exchange_fetch *f, struct cpc__xprov *pv,
                           struct cpc__xpeer *p) {
  int rc;
  pv->id = p->id;
  pv->has_id = 1;
  if (p->in_client) {
    prov_join(f, pv);
    return;
  }
  pv->state = CPC__XPROV_OPENING;
  if (p->unsupported) {
    prov_fail(f, pv, CPC_EUNSUPPORTED);
    return;
  }
  rc = cpc__xpeer_open(p);
  if (rc != 0)
    prov_fail(f, pv, rc);
}

static void on_dialed(cpc_net *net, int status, cpc_net_conn *conn, void *ud) {
  struct cpc__xfetch_dial *d = ud;
  cpc_exchange_fetch *f = d->f;
  struct cpc__xprov *pv;
  struct cpc__xpeer *p;
  cpc_peer_id id;
  int rc;
  (void)net;
  if (!f) {
    free(d);
    return;
  }
  pv = &f->provs[d->prov];
  pv->dial = NULL;
  free(d);
  if (status != 0) {
    prov_fail(f, pv, status);
    return;
  }
  cpc_net_conn_peer_id(conn, &id);
  rc = cpc__xpeer_get(f->ex, &id, &p);
  if (rc != 0) {
    prov_fail(f, pv, rc);
    return;
  }
  if (!p->conn)
    p->conn = conn;
  prov_connected(f, pv, p);
}

void cpc__xfetch_peer_state(cpc_exchange *ex, struct cpc__xpeer *p, int rc) {
  for (cpc_exchange_fetch *f = ex->fetches; f; f = f->next) {
    for (size_t i = 0; i < f->n_provs; i++) {
      struct cpc__xprov *pv = &f->provs[i];
      if (pv->state != CPC__XPROV_OPENING || !pv->has_id ||
          !cpc_peer_id_equal(&pv->id, &p->id))
        continue;
      if (rc == 0)
        prov_join(f, pv);
      else
        prov_fail(f, pv, rc);
    }
  }
}

/* Dial provider i (DIALING, with an address). */
static void prov_dial(cpc_exchange_fetch *f, size_t i) {
  struct cpc__xprov *pv = &f->provs[i];
  struct cpc__xfetch_dial *d = malloc(sizeof *d);
  int rc;
  if (!d) {
    prov_fail(f, pv, CPC_ENOMEM);
    return;
  }
  d->f = f;
  d->prov = i;
  pv->dial = d;
  rc = cpc_net_dial(f->ex->net, &pv->addr, on_dialed, d);
  if (rc != 0) {
    free(d);
    pv->dial = NULL;
    prov_fail(f, pv, rc);
  }
}

/* First step: blocks already stored, then the providers. */
static void start(cpc_exchange_fetch *f) {
  cpc_exchange *ex = f->ex;
  int rc;
  for (size_t i = 0; ex->bs && i < f->n_wants && !f->finished; i++) {
    struct cpc__xwant *w = &f->wants[i];
    uint8_t *data = NULL;
    size_t len = 0;
    if (cpc_blockstore_get_alloc(ex->bs, &w->cid, &data, &len) != 0)
      continue;
    w->delivered = w->local = 1;
    f->received++;
    f->from_store++;
    if (f->cb.on_block)
      f->cb.on_block(f->ud, &w->cid, data, len);
    free(data);
  }
  if (f->from_store > 0)
    cpc__xswarm_have(f);
  if (f->received == f->n_wants) {
    finish(f, 0);
    return;
  }
  if (f->n_provs == 0) {
    cpc_cid *cids = malloc(f->n_wants * sizeof *cids);
    size_t n = 0;
    if (!cids) {
      finish(f, CPC_ENOMEM);
      return;
    }
    for (size_t i = 0; i < f->n_wants; i++)
      if (!f->wants[i].delivered)
        cids[n++] = f->wants[i].cid;
    rc = cpc_bitswap_session_new(ex->client, cids, n, NULL, 0, f, &f->sess);
    free(cids);
    if (rc != 0)
      finish(f, rc);
    return;
  }
  for (size_t i = 0; i < f->n_provs && !f->finished; i++) {
    struct cpc__xprov *pv = &f->provs[i];
    if (pv->state == CPC__XPROV_DIALING) {
      prov_dial(f, i);
    } else {
      struct cpc__xpeer *p = cpc__xpeer_find(ex, &pv->id);
      if (!p || !p->conn)
        prov_fail(f, pv, CPC_ECLOSED);
      else
        prov_connected(f, pv, p);
    }
  }
}

void cpc__xfetch_step(cpc_exchange_fetch *f) {
  if (!f->started) {
    f->started = 1;
    start(f);
  }
  if (f->fail_rc != 0)
    finish(f, f->fail_rc);
  if (f->finished && !f->reported) {
    f->reported = 1;
    f->cb.on_done(f->ud, f->rc); /* may free f */
  }
}

void cpc__xfetch_on_block(void *ud, cpc_bitswap_session *sess, void *sess_ud,
                          const cpc_cid *cid, const uint8_t *data, size_t len) {
  cpc_exchange *ex = ud;
  cpc_exchange_fetch *f = sess_ud;
  struct cpc__xwant *w;
  int rc;
  (void)sess;
  if (!f || f->finished)
    return;
  w = want_find(f, cid);
  if (!w || w->delivered)
    return;
  if (ex->bs) {
    /* the decoder computed cid from these bytes */
    rc = cpc_blockstore_put_flags(
        ex->bs, cid, data, len,
        CPC_BLOCKSTORE_PUT_VERIFIED |
            (ex->cfg.cache_fetched ? CPC_BLOCKSTORE_PUT_CACHE : 0));
    if (rc != 0) {
      ex->st.store_errors++;
      if (!f->fail_rc)
        f->fail_rc = rc;
      cpc__xfetch_kick(f);
      return;
    }
    (void)cpc_bitswap_server_block_added(ex->server, cid);
    (void)cpc_bitswap_server_block_fetched(ex->server, cid);
  }
  w->delivered = 1;
  f->received++;
  if (!f->provided)
    cpc__xswarm_have(f);
  if (f->cb.on_block)
    f->cb.on_block(f->ud, cid, data, len);
}

void cpc__xfetch_on_done(void *ud, cpc_bitswap_session *sess, void *sess_ud,
                         int rc) {
  cpc_exchange_fetch *f = sess_ud;
  cpc_bitswap_session_stats st;
  (void)ud;
  if (!f || f->sess != sess)
    return;
  cpc_bitswap_session_stats_get(sess, &st);
  f->timeouts_at_end = st.timeouts;
  cpc_bitswap_session_free(sess);
  f->sess = NULL;
  if (f->fail_rc)
    rc = f->fail_rc;
  f->finished = 1;
  f->rc = rc;
  cpc__xswarm_stop(f);
  cpc__xfetch_kick(f);
}

int cpc_exchange_fetch_start(cpc_exchange *ex, const cpc_cid *cids, size_t n,
                             const cpc_multiaddr *addrs, size_t n_addrs,
                             const cpc_peer_id *peers, size_t n_peers,
                             const cpc_exchange_fetch_callbacks *cb, void *ud,
                             cpc_exchange_fetch **out) {
  cpc_exchange_fetch *f = NULL;
  size_t k = 0;
  int rc;

  if (!ex || !cids || n == 0 || !cb || !cb->on_done || !out ||
      (n_addrs && !addrs) || (n_peers && !peers))
    return CPC_EINVAL;
  if (ex->closing)
    return CPC_ECLOSED;
  if (n > ex->cfg.client.max_session_wants)
    return CPC_ETOOBIG;
  f = calloc(1, sizeof *f);
  if (!f)
    return CPC_ENOMEM;
  f->ex = ex;
  f->cb = *cb;
  f->ud = ud;
  f->wants = calloc(n, sizeof *f->wants);
  f->n_provs = n_addrs + n_peers;
  f->cap_provs = f->n_provs ? f->n_provs : 1;
  f->provs = calloc(f->cap_provs, sizeof *f->provs);
  f->swarm = ex->cfg.superseed && n > 1; /* one block: nothing to trade */
  f->swarm_key = cids[0];
  if (!f->wants || !f->provs) {
    rc = CPC_ENOMEM;
    goto fail;
  }
  for (size_t i = 0; i < n; i++) {
    struct cpc__xwant *w = &f->wants[i];
    w->cid = cids[i];
    rc = cpc_cid_encode(&cids[i], w->key, sizeof w->key, &w->key_len);
    if (rc != 0)
      goto fail;
  }
  qsort(f->wants, n, sizeof *f->wants, want_cmp);
  for (size_t i = 0; i < n; i++) /* duplicates count once */
    if (k == 0 || want_cmp(&f->wants[k - 1], &f->wants[i]) != 0)
      f->wants[k++] = f->wants[i];
  f->n_wants = k;
  for (size_t i = 0; i < n_addrs; i++) {
    uint8_t idb[CPC_MULTIADDR_MAX_BYTES];
    size_t idlen = 0;
    f->provs[i].addr = addrs[i];
    f->provs[i].state = CPC__XPROV_DIALING;
    if (cpc_multiaddr_peer_id(&addrs[i], idb, sizeof idb, &idlen) == 0 &&
        cpc_peer_id_from_bytes(idb, idlen, &f->provs[i].id) == 0)
      f->provs[i].has_id = 1; /* known before the dial: swarming skips it */
  }
  for (size_t i = 0; i < n_peers; i++) {
    f->provs[n_addrs + i].id = peers[i];
    f->provs[n_addrs + i].has_id = 1;
    f->provs[n_addrs + i].state = CPC__XPROV_OPENING;
  }
  f->next = ex->fetches;
  if (ex->fetches)
    ex->fetches->prev = f;
  ex->fetches = f;
  cpc__xfetch_kick(f);
  *out = f;
  return 0;
fail:
  free(f->wants);
  free(f->provs);
  free(f);
  return rc;
}

void cpc_exchange_fetch_free(cpc_exchange_fetch *f) {
  cpc_exchange *ex;
  if (!f)
    return;
  ex = f->ex;
  cpc__xswarm_stop(f);
  if (f->sess)
    cpc_bitswap_session_free(f->sess);
  for (size_t i = 0; i < f->n_provs; i++)
    if (f->provs[i].dial)
      f->provs[i].dial->f = NULL;
  if (f->prev)
    f->prev->next = f->next;
  else
    ex->fetches = f->next;
  if (f->next)
    f->next->prev = f->prev;
  free(f->wants);
  free(f->provs);
  free(f);
}

void cpc__xfetch_abandon(cpc_exchange_fetch *f) {
  cpc_exchange_fetch_free(f);
}

void cpc_exchange_fetch_stats_get(const cpc_exchange_fetch *f,
                                  cpc_exchange_fetch_stats *st) {
  memset(st, 0, sizeof *st);
  st->wants = f->n_wants;
  st->received = f->received;
  st->from_store = f->from_store;
  st->providers = f->n_provs;
  st->swarm = f->n_swarm;
  for (size_t i = 0; i < f->n_provs; i++) {
    const struct cpc__xprov *pv = &f->provs[i];
    if (pv->state == CPC__XPROV_READY)
      st->connected++;
    if (pv->state == CPC__XPROV_FAILED)
      st->failed++;
  }
  st->provider_error = f->first_err;
  if (f->sess) {
    cpc_bitswap_session_stats ss;
    cpc_bitswap_session_stats_get(f->sess, &ss);
    st->timeouts = ss.timeouts;
  } else {
    st->timeouts = f->timeouts_at_end;
  }
  st->done = f->reported;
  st->rc = f->rc;
}

int cpc_exchange_fetch_has(const cpc_exchange_fetch *f, const cpc_cid *cid) {
  struct cpc__xwant *w = want_find((cpc_exchange_fetch *)f, cid);
  return w && w->delivered;
}

int cpc_exchange_fetch_swarm_key(cpc_exchange_fetch *f, const cpc_cid *key) {
  if (!f || !key)
    return CPC_EINVAL;
  if (f->started)
    return CPC_ESTATE;
  f->swarm_key = *key;
  return 0;
}

int cpc__xfetch_wants(cpc_exchange_fetch *f, const cpc_cid *cid) {
  return want_find(f, cid) != NULL;
}

int cpc__xfetch_has_provider(const cpc_exchange_fetch *f,
                             const cpc_peer_id *id) {
  for (size_t i = 0; i < f->n_provs; i++)
    if (f->provs[i].has_id && cpc_peer_id_equal(&f->provs[i].id, id))
      return 1;
  return 0;
}

/* Room for one more provider, for swarming; its index in *i. */
static int prov_append(cpc_exchange_fetch *f, const cpc_peer_id *id,
                       size_t *i) {
  if (!f->started || f->finished)
    return CPC_ESTATE;
  if (cpc__xfetch_has_provider(f, id))
    return CPC_EEXIST;
  if (f->n_swarm >= f->ex->cfg.max_swarm_peers)
    return CPC_ENOSPC;
  if (f->n_provs == f->cap_provs) {
    size_t nc = 2 * f->cap_provs;
    struct cpc__xprov *np = realloc(f->provs, nc * sizeof *np);
    if (!np)
      return CPC_ENOMEM;
    f->provs = np;
    f->cap_provs = nc;
  }
  *i = f->n_provs++;
  memset(&f->provs[*i], 0, sizeof f->provs[*i]);
  f->provs[*i].id = *id;
  f->provs[*i].has_id = 1;
  f->n_swarm++;
  f->ex->st.swarm_peers++;
  return 0;
}

int cpc__xfetch_add_peer(cpc_exchange_fetch *f, struct cpc__xpeer *p) {
  size_t i;
  int rc = prov_append(f, &p->id, &i);
  if (rc != 0)
    return rc;
  f->provs[i].state = CPC__XPROV_OPENING;
  prov_connected(f, &f->provs[i], p);
  return 0;
}

int cpc__xfetch_add_addr(cpc_exchange_fetch *f, const cpc_peer_id *id,
                         const cpc_multiaddr *addr) {
  size_t i;
  int rc = prov_append(f, id, &i);
  if (rc != 0)
    return rc;
  f->provs[i].addr = *addr;
  f->provs[i].state = CPC__XPROV_DIALING;
  prov_dial(f, i);
  return 0;
}
