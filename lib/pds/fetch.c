/*
 * fetch.c: Bitswap fetches and DHT lookups asked for by the API threads,
 * run on the loop. Each request is shared by the asking thread and the
 * loop through a reference count, so neither waits for the other to free
 * it; the loop keeps a list of the ones running so it can end them when
 * the PDS stops (the exchange and the DHT end theirs without callbacks).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "cpc/dht.h"
#include "cpc/error.h"
#include "pds/pds_int.h"

struct cpc__pds_op {
  cpc__pds_op *next, *prev;
  void (*shutdown)(cpc__pds_op *op);
  int linked;
};

static void op_link(cpc_pds *p, cpc__pds_op *op) {
  op->prev = NULL;
  op->next = p->ops;
  if (p->ops)
    p->ops->prev = op;
  p->ops = op;
  op->linked = 1;
}

static void op_unlink(cpc_pds *p, cpc__pds_op *op) {
  if (!op->linked)
    return;
  if (op->prev)
    op->prev->next = op->next;
  else
    p->ops = op->next;
  if (op->next)
    op->next->prev = op->prev;
  op->linked = 0;
}

void cpc__pds_fetch_shutdown(cpc_pds *p) {
  while (p->ops) {
    cpc__pds_op *op = p->ops;
    op_unlink(p, op);
    op->shutdown(op);
  }
}

static void deadline_in(struct timespec *ts, uint32_t ms) {
  clock_gettime(CLOCK_REALTIME, ts);
  ts->tv_sec += ms / 1000;
  ts->tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}

/* ---- Bitswap fetches ---------------------------------------------------- */

struct cpc__pds_fetch {
  cpc__pds_op op; /* first: the op list holds this pointer */
  cpc_pds *p;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int refs;
  int done, rc;
  uint64_t got;
  cpc_cid *cids;
  size_t n;
  cpc_multiaddr *addrs;
  size_t n_addrs;
  int has_swarm;
  cpc_cid swarm;
  cpc_exchange_fetch *f; /* loop thread only */
};

static void fetch_unref(cpc__pds_fetch *f) {
  int last;
  pthread_mutex_lock(&f->mu);
  last = --f->refs == 0;
  pthread_mutex_unlock(&f->mu);
  if (!last)
    return;
  pthread_mutex_destroy(&f->mu);
  pthread_cond_destroy(&f->cv);
  free(f->cids);
  free(f->addrs);
  free(f);
}

static void fetch_finish(cpc__pds_fetch *f, int rc) {
  pthread_mutex_lock(&f->mu);
  if (!f->done) {
    f->done = 1;
    f->rc = rc;
  }
  pthread_cond_broadcast(&f->cv);
  pthread_mutex_unlock(&f->mu);
}

/* Loop thread: stop the exchange fetch and drop the loop's reference. */
static void fetch_end(cpc__pds_fetch *f, int rc) {
  if (f->f) {
    cpc_exchange_fetch_free(f->f);
    f->f = NULL;
  }
  op_unlink(f->p, &f->op);
  fetch_finish(f, rc);
  fetch_unref(f);
}

static void fetch_op_shutdown(cpc__pds_op *op) {
  cpc__pds_fetch *f = (cpc__pds_fetch *)op;
  if (f->f) {
    cpc_exchange_fetch_free(f->f);
    f->f = NULL;
  }
  fetch_finish(f, CPC_ECLOSED);
  fetch_unref(f);
}

static void on_fetch_block(void *ud, const cpc_cid *cid, const uint8_t *data,
                           size_t len) {
  cpc__pds_fetch *f = ud;
  (void)cid;
  (void)data;
  (void)len;
  pthread_mutex_lock(&f->mu);
  f->got++;
  pthread_cond_broadcast(&f->cv);
  pthread_mutex_unlock(&f->mu);
}

static void on_fetch_done(void *ud, int rc) {
  cpc__pds_fetch *f = ud;
  if (f->f)
    fetch_end(f, rc);
}

static void fetch_start_job(cpc_pds *p, void *arg, int closing) {
  static const cpc_exchange_fetch_callbacks cb = {on_fetch_block,
                                                  on_fetch_done};
  cpc__pds_fetch *f = arg;
  int rc;
  if (closing || !p->ex) {
    fetch_finish(f, CPC_ECLOSED);
    fetch_unref(f);
    return;
  }
  rc = cpc_exchange_fetch_start(p->ex, f->cids, f->n, f->addrs, f->n_addrs,
                                NULL, 0, &cb, f, &f->f);
  if (rc == 0 && f->has_swarm)
    rc = cpc_exchange_fetch_swarm_key(f->f, &f->swarm);
  if (rc != 0) {
    cpc_exchange_fetch_free(f->f);
    f->f = NULL;
    fetch_finish(f, rc);
    fetch_unref(f);
    return;
  }
  op_link(p, &f->op);
}

static void fetch_cancel_job(cpc_pds *p, void *arg, int closing) {
  cpc__pds_fetch *f = arg;
  (void)p;
  (void)closing;
  if (f->f)
    fetch_end(f, CPC_ECLOSED);
  fetch_unref(f); /* the cancel job's reference */
}

int cpc__pds_fetch_start(cpc_pds *p, const cpc_cid *cids, size_t n,
                         const cpc_multiaddr *addrs, size_t n_addrs,
                         const cpc_cid *swarm, cpc__pds_fetch **out) {
  cpc__pds_fetch *f = calloc(1, sizeof *f);
  int rc;
  if (!f)
    return CPC_ENOMEM;
  f->p = p;
  f->op.shutdown = fetch_op_shutdown;
  pthread_mutex_init(&f->mu, NULL);
  pthread_cond_init(&f->cv, NULL);
  f->refs = 2; /* the caller and the loop */
  f->cids = malloc((n ? n : 1) * sizeof *cids);
  f->addrs = malloc((n_addrs ? n_addrs : 1) * sizeof *addrs);
  if (!f->cids || !f->addrs) {
    f->refs = 1;
    fetch_unref(f);
    return CPC_ENOMEM;
  }
  memcpy(f->cids, cids, n * sizeof *cids);
  if (n_addrs)
    memcpy(f->addrs, addrs, n_addrs * sizeof *addrs);
  f->n = n;
  f->n_addrs = n_addrs;
  if (swarm) {
    f->has_swarm = 1;
    f->swarm = *swarm;
  }
  rc = cpc__pds_loop_post(p, fetch_start_job, f);
  if (rc != 0) {
    f->refs = 1;
    fetch_unref(f);
    return rc;
  }
  *out = f;
  return 0;
}

int cpc__pds_fetch_wait(cpc__pds_fetch *f, const cpc_cid *cid,
                        uint32_t timeout_ms) {
  int64_t end = cpc__pds_now_ms() + timeout_ms;
  int found = 0, rc;
  struct timespec ts;

  for (;;) {
    if (cpc_blockstore_has(f->p->bs, cid, &found) == 0 && found)
      return 0;
    if (atomic_load(&f->p->closing))
      return CPC_ECLOSED;
    pthread_mutex_lock(&f->mu);
    if (f->done) {
      rc = f->rc;
      pthread_mutex_unlock(&f->mu);
      if (cpc_blockstore_has(f->p->bs, cid, &found) == 0 && found)
        return 0;
      return rc ? rc : CPC_ENOENT;
    }
    if (cpc__pds_now_ms() >= end) {
      pthread_mutex_unlock(&f->mu);
      return CPC_ETIMEDOUT;
    }
    deadline_in(&ts, 50);
    pthread_cond_timedwait(&f->cv, &f->mu, &ts);
    pthread_mutex_unlock(&f->mu);
  }
}

void cpc__pds_fetch_release(cpc__pds_fetch *f) {
  int running;
  if (!f)
    return;
  pthread_mutex_lock(&f->mu);
  running = !f->done;
  if (running)
    f->refs++; /* for the cancel job */
  pthread_mutex_unlock(&f->mu);
  if (running && cpc__pds_loop_post(f->p, fetch_cancel_job, f) != 0)
    fetch_unref(f);
  fetch_unref(f);
}

void cpc__pds_fetch_conn_closed(cpc_pds *p, cpc_net_conn *c) {
  cpc_exchange_conn_closed(p->ex, c);
}

/* ---- DHT lookups ---------------------------------------------------------- */

typedef struct lookup {
  cpc__pds_op op;
  cpc_pds *p;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int refs, done;
  cpc_cid cid;
  cpc_multiaddr *out;
  size_t n, cap;
  uint64_t id;
} lookup;

static void lookup_unref(lookup *l) {
  int last;
  pthread_mutex_lock(&l->mu);
  last = --l->refs == 0;
  pthread_mutex_unlock(&l->mu);
  if (!last)
    return;
  pthread_mutex_destroy(&l->mu);
  pthread_cond_destroy(&l->cv);
  free(l->out);
  free(l);
}

static void lookup_finish(lookup *l) {
  pthread_mutex_lock(&l->mu);
  l->done = 1;
  pthread_cond_broadcast(&l->cv);
  pthread_mutex_unlock(&l->mu);
}

static void lookup_op_shutdown(cpc__pds_op *op) {
  lookup *l = (lookup *)op;
  cpc_dht *d = l->p->net ? cpc_net_dht(l->p->net) : NULL;
  if (d)
    cpc_kad_cancel_lookup(cpc_dht_kad(d), l->id);
  lookup_finish(l);
  lookup_unref(l);
}

static void on_providers(void *arg, const cpc_kad_result *res) {
  lookup *l = arg;
  cpc_peer_id self;
  size_t i, k;
  cpc_net_peer_id(l->p->net, &self);
  pthread_mutex_lock(&l->mu);
  for (i = 0; i < res->n_providers; i++) {
    const cpc_kad_peer *pr = &res->providers[i];
    if (cpc_peer_id_equal(&pr->id, &self))
      continue;
    for (k = 0; k < pr->n_addrs && l->n < l->cap; k++) {
      cpc_multiaddr ma;
      uint8_t pid[CPC_MULTIADDR_MAX_BYTES];
      size_t pl;
      if (cpc_kad_peer_addr(pr, k, &ma) != 0)
        continue;
      if (cpc_multiaddr_peer_id(&ma, pid, sizeof pid, &pl) != 0 &&
          cpc_multiaddr_append_p2p(&ma, pr->id.bytes, pr->id.len) != 0)
        continue;
      l->out[l->n++] = ma;
    }
  }
  pthread_mutex_unlock(&l->mu);
  op_unlink(l->p, &l->op);
  lookup_finish(l);
  lookup_unref(l);
}

static void lookup_job(cpc_pds *p, void *arg, int closing) {
  lookup *l = arg;
  cpc_dht *d = (!closing && p->net) ? cpc_net_dht(p->net) : NULL;
  uint8_t mh[CPC_MH_MAX_LEN];
  size_t mh_len;
  int rc;

  if (!d ||
      cpc_multihash_encode(&l->cid.mh, mh, sizeof mh, &mh_len) != 0) {
    lookup_finish(l);
    lookup_unref(l);
    return;
  }
  l->refs++; /* held by the DHT callback until it runs */
  rc = cpc_kad_find_providers(cpc_dht_kad(d), mh, mh_len, 4, cpc_dht_now_ms(),
                              on_providers, l, &l->id);
  if (rc != 0) {
    pthread_mutex_lock(&l->mu);
    l->refs--; /* the callback will not run */
    pthread_mutex_unlock(&l->mu);
    lookup_finish(l);
  } else {
    pthread_mutex_lock(&l->mu);
    int ran = l->done;
    pthread_mutex_unlock(&l->mu);
    if (!ran) {
      /* the callback's reference moves to the op list */
      op_link(p, &l->op);
    }
  }
  lookup_unref(l); /* the job's reference */
}

int cpc__pds_dht_providers(cpc_pds *p, const cpc_cid *cid,
                           cpc_multiaddr *out, size_t cap, size_t *n,
                           uint32_t timeout_ms) {
  lookup *l = calloc(1, sizeof *l);
  struct timespec ts;
  int64_t end;
  int rc;

  *n = 0;
  if (!l)
    return CPC_ENOMEM;
  l->p = p;
  l->op.shutdown = lookup_op_shutdown;
  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->cv, NULL);
  l->refs = 2;
  l->cid = *cid;
  l->cap = cap;
  l->out = calloc(cap ? cap : 1, sizeof *l->out);
  if (!l->out) {
    l->refs = 1;
    lookup_unref(l);
    return CPC_ENOMEM;
  }
  rc = cpc__pds_loop_post(p, lookup_job, l);
  if (rc != 0) {
    l->refs = 1;
    lookup_unref(l);
    return rc;
  }
  end = cpc__pds_now_ms() + timeout_ms;
  pthread_mutex_lock(&l->mu);
  while (!l->done && !atomic_load(&p->closing) &&
         cpc__pds_now_ms() < end) {
    deadline_in(&ts, 100);
    pthread_cond_timedwait(&l->cv, &l->mu, &ts);
  }
  memcpy(out, l->out, l->n * sizeof *out);
  *n = l->n;
  pthread_mutex_unlock(&l->mu);
  lookup_unref(l);
  return atomic_load(&p->closing) ? CPC_ECLOSED : 0;
}

static void provide_job(cpc_pds *p, void *arg, int closing) {
  cpc_cid *cid = arg;
  cpc_dht *d = (!closing && p->net) ? cpc_net_dht(p->net) : NULL;
  uint8_t mh[CPC_MH_MAX_LEN];
  size_t mh_len;
  if (d && cpc_multihash_encode(&cid->mh, mh, sizeof mh, &mh_len) == 0)
    cpc_kad_provide(cpc_dht_kad(d), mh, mh_len, cpc_dht_now_ms(), NULL, NULL,
                    NULL);
  free(cid);
}

void cpc__pds_dht_provide(cpc_pds *p, const cpc_cid *cid) {
  cpc_cid *c = malloc(sizeof *c);
  if (!c)
    return;
  *c = *cid;
  if (cpc__pds_loop_post(p, provide_job, c) != 0)
    free(c);
}

/* ---- public content keys as signed DHT records ------------------------- */

/* "/cpc/<owner>/<content id>" into out. */
static int key_record_name(const cpc_peer_id *owner, const cpc_cid *cid,
                           uint8_t *out, size_t cap, size_t *len) {
  char name[CPC__PDS_CID_TEXT];
  int rc = cpc_cid_format(cid, CPC_MB_BASE32, name, sizeof name);
  return rc != 0 ? rc : cpc_kad_cpc_key(owner, name, out, cap, len);
}

typedef struct key_pub {
  cpc_cid cid;
  uint8_t key[CPC_AEAD_KEY_LEN];
} key_pub;

static void publish_job(cpc_pds *p, void *arg, int closing) {
  key_pub *k = arg;
  cpc_dht *d = (!closing && p->net) ? cpc_net_dht(p->net) : NULL;
  uint8_t name[CPC_KAD_MAX_KEY], *value = NULL;
  size_t nl, vl;
  if (d && key_record_name(&p->id.peer_id, &k->cid, name, sizeof name, &nl) ==
               0 &&
      cpc_kad_cpc_value_sign(&p->id.signing_key, name, nl, k->key,
                             sizeof k->key, 1, &value, &vl) == 0)
    cpc_kad_put_value(cpc_dht_kad(d), name, nl, value, vl, cpc_dht_now_ms(),
                      NULL, NULL, NULL);
  free(value);
  sodium_memzero(k->key, sizeof k->key);
  free(k);
}

void cpc__pds_dht_publish_key(cpc_pds *p, const cpc_cid *cid,
                              const uint8_t key[CPC_AEAD_KEY_LEN]) {
  key_pub *k = malloc(sizeof *k);
  if (!k)
    return;
  k->cid = *cid;
  memcpy(k->key, key, sizeof k->key);
  if (cpc__pds_loop_post(p, publish_job, k) != 0) {
    sodium_memzero(k->key, sizeof k->key);
    free(k);
  }
}

typedef struct key_get {
  cpc__pds_op op;
  cpc_pds *p;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int refs, done, found;
  cpc_peer_id owner;
  cpc_cid cid;
  uint8_t name[CPC_KAD_MAX_KEY];
  size_t name_len;
  uint8_t key[CPC_AEAD_KEY_LEN];
  uint64_t id;
} key_get;

static void key_get_unref(key_get *g) {
  int last;
  pthread_mutex_lock(&g->mu);
  last = --g->refs == 0;
  pthread_mutex_unlock(&g->mu);
  if (!last)
    return;
  pthread_mutex_destroy(&g->mu);
  pthread_cond_destroy(&g->cv);
  sodium_memzero(g->key, sizeof g->key);
  free(g);
}

static void key_get_finish(key_get *g) {
  pthread_mutex_lock(&g->mu);
  g->done = 1;
  pthread_cond_broadcast(&g->cv);
  pthread_mutex_unlock(&g->mu);
}

static void key_get_op_shutdown(cpc__pds_op *op) {
  key_get *g = (key_get *)op;
  cpc_dht *d = g->p->net ? cpc_net_dht(g->p->net) : NULL;
  if (d)
    cpc_kad_cancel_lookup(cpc_dht_kad(d), g->id);
  key_get_finish(g);
  key_get_unref(g);
}

static void on_value(void *arg, const cpc_kad_result *res) {
  key_get *g = arg;
  uint8_t *payload = NULL;
  size_t pl = 0;
  if (res->value &&
      cpc_kad_cpc_value_open(g->name, g->name_len, res->value, res->value_len,
                             &payload, &pl, NULL) == 0 &&
      pl == CPC_AEAD_KEY_LEN) {
    pthread_mutex_lock(&g->mu);
    memcpy(g->key, payload, pl);
    g->found = 1;
    pthread_mutex_unlock(&g->mu);
  }
  if (payload) {
    sodium_memzero(payload, pl);
    free(payload);
  }
  op_unlink(g->p, &g->op);
  key_get_finish(g);
  key_get_unref(g);
}

static void key_get_job(cpc_pds *p, void *arg, int closing) {
  key_get *g = arg;
  cpc_dht *d = (!closing && p->net) ? cpc_net_dht(p->net) : NULL;
  int rc, ran;
  if (!d) {
    key_get_finish(g);
    key_get_unref(g);
    return;
  }
  g->refs++;
  rc = cpc_kad_get_value(cpc_dht_kad(d), g->name, g->name_len, 1,
                         cpc_dht_now_ms(), on_value, g, &g->id);
  pthread_mutex_lock(&g->mu);
  if (rc != 0)
    g->refs--;
  ran = g->done;
  pthread_mutex_unlock(&g->mu);
  if (rc != 0)
    key_get_finish(g);
  else if (!ran)
    op_link(p, &g->op);
  key_get_unref(g);
}

int cpc__pds_dht_get_key(cpc_pds *p, const cpc_peer_id *owner,
                         const cpc_cid *cid, uint8_t key[CPC_AEAD_KEY_LEN],
                         uint32_t timeout_ms) {
  key_get *g = calloc(1, sizeof *g);
  struct timespec ts;
  int64_t end;
  int rc;
  if (!g)
    return CPC_ENOMEM;
  g->p = p;
  g->op.shutdown = key_get_op_shutdown;
  pthread_mutex_init(&g->mu, NULL);
  pthread_cond_init(&g->cv, NULL);
  g->refs = 2;
  g->owner = *owner;
  g->cid = *cid;
  rc = key_record_name(owner, cid, g->name, sizeof g->name, &g->name_len);
  if (rc == 0)
    rc = cpc__pds_loop_post(p, key_get_job, g);
  if (rc != 0) {
    g->refs = 1;
    key_get_unref(g);
    return rc;
  }
  end = cpc__pds_now_ms() + timeout_ms;
  pthread_mutex_lock(&g->mu);
  while (!g->done && !atomic_load(&p->closing) && cpc__pds_now_ms() < end) {
    deadline_in(&ts, 100);
    pthread_cond_timedwait(&g->cv, &g->mu, &ts);
  }
  rc = g->found ? 0 : CPC_ENOENT;
  if (g->found)
    memcpy(key, g->key, CPC_AEAD_KEY_LEN);
  pthread_mutex_unlock(&g->mu);
  key_get_unref(g);
  return rc;
}
