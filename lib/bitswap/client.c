/*
 * client.c: the Bitswap client engine: connected peers, what each has been
 * told (per CID, the sum of every session's interest, sent as want-have,
 * want-block or cancel when it changes), routing of received blocks and
 * presences to sessions, and deferred callbacks.
 */
#include <stdlib.h>
#include <string.h>

#include "bitswap/client_int.h"
#include "cpc/error.h"

void cpc_bitswap_client_config_default(cpc_bitswap_client_config *c) {
  memset(c, 0, sizeof *c);
  c->have_timeout_ms = 5000;
  c->block_timeout_ms = 15000;
  c->max_timeouts = 3;
  c->max_inflight = 32;
  c->max_active = 256;
  c->max_peers = 1024;
  c->max_session_wants = 65536;
}

int cpc_bitswap_client_new(cpc_bitswap_client **out,
                           const cpc_bitswap_client_config *cfg,
                           const cpc_bitswap_client_callbacks *cb, void *ud) {
  cpc_bitswap_client_config d;
  if (!out || !cb)
    return CPC_EINVAL;
  if (!cfg) {
    cpc_bitswap_client_config_default(&d);
    cfg = &d;
  }
  if (!cfg->have_timeout_ms || !cfg->block_timeout_ms || !cfg->max_timeouts ||
      !cfg->max_inflight || !cfg->max_active || !cfg->max_peers ||
      !cfg->max_session_wants || cfg->max_session_wants > INT32_MAX)
    return CPC_EINVAL;
  cpc_bitswap_client *c = calloc(1, sizeof *c);
  if (!c)
    return CPC_ENOMEM;
  int rc = cpc__cid_map_init(&c->wants);
  if (rc != 0) {
    free(c);
    return rc;
  }
  c->cfg = *cfg;
  c->cb = *cb;
  c->ud = ud;
  *out = c;
  return 0;
}

/* ---- peers and their wire state ----------------------------------------- */

struct cpc__cpeer *cpc__client_peer(const cpc_bitswap_client *c,
                                    const cpc_peer_id *id) {
  for (size_t i = 0; i < c->n_peers; i++)
    if (cpc__peer_eq(&c->peers[i]->id, id))
      return c->peers[i];
  return NULL;
}

static void ready_add(cpc_bitswap_client *c, struct cpc__cpeer *p) {
  if (p->in_ready)
    return;
  p->in_ready = 1;
  p->notify = 1;
  p->rnext = NULL;
  p->rprev = c->rtail;
  if (c->rtail)
    c->rtail->rnext = p;
  else
    c->rhead = p;
  c->rtail = p;
}

static void ready_remove(cpc_bitswap_client *c, struct cpc__cpeer *p) {
  if (!p->in_ready)
    return;
  if (p->rprev)
    p->rprev->rnext = p->rnext;
  else
    c->rhead = p->rnext;
  if (p->rnext)
    p->rnext->rprev = p->rprev;
  else
    c->rtail = p->rprev;
  p->rnext = p->rprev = NULL;
  p->in_ready = 0;
  p->notify = 0;
}

static uint8_t desired(const struct cpc__wire *w) {
  return w->n_block  ? CPC__WANT_BLOCK
         : w->n_have ? CPC__WANT_HAVE
                     : CPC__WANT_NONE;
}

static void dirty_remove(struct cpc__cpeer *p, struct cpc__wire *w) {
  if (!w->dirty)
    return;
  if (w->dprev)
    w->dprev->dnext = w->dnext;
  else
    p->dhead = w->dnext;
  if (w->dnext)
    w->dnext->dprev = w->dprev;
  else
    p->dtail = w->dprev;
  w->dnext = w->dprev = NULL;
  w->dirty = 0;
}

/* Put w in or out of the dirty list after a change; free it if idle. */
static void wire_update(cpc_bitswap_client *c, struct cpc__cpeer *p,
                        struct cpc__wire *w) {
  uint8_t d = desired(w);
  if (d != w->sent) {
    if (!w->dirty) {
      w->dirty = 1;
      w->dnext = NULL;
      w->dprev = p->dtail;
      if (p->dtail)
        p->dtail->dnext = w;
      else
        p->dhead = w;
      p->dtail = w;
    }
    ready_add(c, p);
    return;
  }
  dirty_remove(p, w);
  if (d == CPC__WANT_NONE) {
    cpc__cid_map_remove(&p->wire, &w->node);
    free(w);
  }
  if (!p->dhead)
    ready_remove(c, p);
}

int cpc__set_interest(struct cpc_bitswap_session *s, struct cpc__sw *sw,
                      size_t k, enum cpc__interest want) {
  struct cpc__ps *ps = &sw->ps[k];
  struct cpc__cpeer *p = s->peers[k].p;
  cpc__cid_key key;
  if (ps->interest == want)
    return 0;
  if (!p) { /* the peer left: nothing to tell it */
    ps->interest = CPC__WANT_NONE;
    return 0;
  }
  if (cpc__cid_key_of(&sw->cid, &key) != 0)
    return CPC_EINVAL;
  struct cpc__wire *w = (struct cpc__wire *)cpc__cid_map_find(&p->wire, &key);
  if (!w) {
    if (want == CPC__WANT_NONE) {
      ps->interest = want;
      return 0;
    }
    w = calloc(1, sizeof *w);
    if (!w)
      return CPC_ENOMEM;
    w->node.key = key;
    int rc = cpc__cid_map_insert(&p->wire, &w->node);
    if (rc != 0) {
      free(w);
      return rc;
    }
  }
  if (ps->interest == CPC__WANT_HAVE)
    w->n_have--;
  else if (ps->interest == CPC__WANT_BLOCK)
    w->n_block--;
  if (want == CPC__WANT_HAVE)
    w->n_have++;
  else if (want == CPC__WANT_BLOCK)
    w->n_block++;
  ps->interest = (uint8_t)want;
  if (want != CPC__WANT_NONE)
    w->priority = sw->priority;
  wire_update(s->c, p, w);
  return 0;
}

/* Peer sent the block of key: it dropped its want, so no cancel is due. */
static void wire_delivered(cpc_bitswap_client *c, struct cpc__cpeer *p,
                           const cpc__cid_key *key) {
  struct cpc__wire *w = (struct cpc__wire *)cpc__cid_map_find(&p->wire, key);
  if (w && desired(w) == CPC__WANT_NONE) {
    w->sent = CPC__WANT_NONE;
    wire_update(c, p, w);
  }
}

static void free_wire(struct cpc__cpeer *p) {
  for (size_t i = 0; i < p->wire.n_buckets; i++) {
    cpc__cid_node *n = p->wire.buckets[i];
    while (n) {
      cpc__cid_node *next = n->next;
      free(n);
      n = next;
    }
  }
  cpc__cid_map_fini(&p->wire);
}

int cpc_bitswap_client_peer_add(cpc_bitswap_client *c, const cpc_peer_id *peer,
                                enum cpc_bitswap_version v) {
  if (!c || !peer || !cpc__version_ok(v))
    return CPC_EINVAL;
  struct cpc__cpeer *p = cpc__client_peer(c, peer);
  if (p) {
    p->v = v;
    return 0;
  }
  if (c->n_peers >= c->cfg.max_peers)
    return CPC_ENOSPC;
  if (c->n_peers == c->cap_peers) {
    size_t nc = c->cap_peers ? 2 * c->cap_peers : 8;
    struct cpc__cpeer **np = realloc(c->peers, nc * sizeof *np);
    if (!np)
      return CPC_ENOMEM;
    c->peers = np;
    c->cap_peers = nc;
  }
  p = calloc(1, sizeof *p);
  if (!p)
    return CPC_ENOMEM;
  int rc = cpc__cid_map_init(&p->wire);
  if (rc != 0) {
    free(p);
    return rc;
  }
  p->id = *peer;
  p->v = v;
  c->peers[c->n_peers++] = p;
  return 0;
}

/* ---- deferred callbacks ------------------------------------------------- */

/*
 * Fire on_ready for peers that became ready, then (if fire_done) on_done
 * for sessions that ended, until nothing is left; callbacks may cause more.
 */
static void flush(cpc_bitswap_client *c, int fire_done) {
  if (c->flushing)
    return; /* an outer flush picks it up */
  c->flushing = 1;
  for (int again = 1; again;) {
    again = 0;
    for (size_t i = 0; i < c->n_peers; i++) {
      struct cpc__cpeer *p = c->peers[i];
      if (!p->notify)
        continue;
      p->notify = 0;
      again = 1;
      if (c->cb.on_ready)
        c->cb.on_ready(c->ud, &p->id);
    }
    if (!fire_done)
      continue;
    for (struct cpc_bitswap_session *s = c->sessions; s; s = s->next) {
      if (!s->done || s->done_fired)
        continue;
      s->done_fired = 1;
      again = 1;
      if (c->cb.on_done)
        c->cb.on_done(c->ud, s, s->ud, s->rc); /* may free s */
      break;
    }
  }
  c->flushing = 0;
}

void cpc__client_flush(cpc_bitswap_client *c, int fire_done) {
  flush(c, fire_done);
}

static void step_all(cpc_bitswap_client *c) {
  for (struct cpc_bitswap_session *s = c->sessions; s; s = s->next)
    cpc__session_step(s);
}

void cpc_bitswap_client_peer_gone(cpc_bitswap_client *c,
                                  const cpc_peer_id *peer) {
  struct cpc__cpeer *p;
  if (!c || !peer || !(p = cpc__client_peer(c, peer)))
    return;
  for (struct cpc_bitswap_session *s = c->sessions; s; s = s->next) {
    int k = cpc__session_peer_index(s, p);
    if (k < 0)
      continue;
    cpc__session_peer_dead(s, (size_t)k);
    s->peers[k].p = NULL;
  }
  ready_remove(c, p);
  free_wire(p);
  for (size_t i = 0; i < c->n_peers; i++)
    if (c->peers[i] == p) {
      c->peers[i] = c->peers[--c->n_peers];
      break;
    }
  free(p);
  step_all(c);
  flush(c, 1);
}

void cpc_bitswap_client_free(cpc_bitswap_client *c) {
  if (!c)
    return;
  while (c->sessions) {
    struct cpc_bitswap_session *s = c->sessions;
    for (size_t k = 0; k < s->n_peers; k++)
      s->peers[k].p = NULL; /* no cancels: everything goes */
    cpc_bitswap_session_free(s);
  }
  for (size_t i = 0; i < c->n_peers; i++) {
    free_wire(c->peers[i]);
    free(c->peers[i]);
  }
  free(c->peers);
  cpc__cid_map_fini(&c->wants);
  free(c);
}

/* ---- messages ----------------------------------------------------------- */

int cpc_bitswap_client_receive(cpc_bitswap_client *c, const cpc_peer_id *peer,
                               const cpc_bitswap_message *m) {
  if (!c || !peer || !m || (!m->blocks && m->n_blocks) ||
      (!m->presences && m->n_presences))
    return CPC_EINVAL;
  struct cpc__cpeer *p = cpc__client_peer(c, peer);
  c->stats.blocks_dropped += m->n_dropped;
  for (size_t i = 0; i < m->n_blocks; i++) {
    const cpc_bitswap_block *b = &m->blocks[i];
    cpc__cid_key key;
    if (cpc__cid_key_of(&b->cid, &key) != 0 ||
        !cpc__cid_map_find(&c->wants, &key)) {
      c->stats.blocks_unwanted++;
      continue;
    }
    c->stats.blocks_received++;
    c->stats.bytes_received += b->len;
    /* every session wanting it gets it; each one unlinks its want */
    struct cpc__cwant *cw;
    while ((cw = (struct cpc__cwant *)cpc__cid_map_find(&c->wants, &key)))
      cpc__session_block(cw->head, p, b->data, b->len);
    if (p)
      wire_delivered(c, p, &key);
  }
  for (size_t i = 0; p && i < m->n_presences; i++) {
    cpc__cid_key key;
    if (cpc__cid_key_of(&m->presences[i].cid, &key) != 0)
      continue;
    struct cpc__cwant *cw =
        (struct cpc__cwant *)cpc__cid_map_find(&c->wants, &key);
    for (struct cpc__sw *sw = cw ? cw->head : NULL; sw; sw = sw->next_same)
      cpc__session_presence(sw, p, m->presences[i].dont_have);
  }
  step_all(c);
  flush(c, 1);
  return 0;
}

int cpc_bitswap_client_pull(cpc_bitswap_client *c, const cpc_peer_id *peer,
                            uint8_t **out, size_t *out_len) {
  if (!c || !peer || !out || !out_len)
    return CPC_EINVAL;
  struct cpc__cpeer *p = cpc__client_peer(c, peer);
  if (!p)
    return CPC_ENOENT;
  if (!p->dhead)
    return CPC_EAGAIN;
  size_t n = 0, cap = 0, size = CPC__MSG_OVERHEAD;
  for (struct cpc__wire *w = p->dhead; w; w = w->dnext)
    cap++;
  if (cap > CPC_BITSWAP_MAX_ENTRIES)
    cap = CPC_BITSWAP_MAX_ENTRIES;
  cpc_bitswap_entry *e = calloc(cap, sizeof *e);
  struct cpc__wire **ws = calloc(cap, sizeof *ws);
  if (!e || !ws) {
    free(e);
    free(ws);
    return CPC_ENOMEM;
  }
  for (struct cpc__wire *w = p->dhead; w && n < cap; w = w->dnext) {
    cpc_bitswap_entry *x = &e[n];
    uint8_t d = desired(w);
    if (cpc_cid_decode(w->node.key.bytes, w->node.key.len, &x->cid, NULL) != 0)
      continue; /* cannot happen: keys come from cpc_cid_encode */
    x->priority = w->priority;
    x->cancel = d == CPC__WANT_NONE;
    if (!x->cancel) {
      x->want_type =
          d == CPC__WANT_HAVE ? CPC_BITSWAP_WANT_HAVE : CPC_BITSWAP_WANT_BLOCK;
      x->send_dont_have = p->v >= CPC_BITSWAP_1_2_0;
    } else {
      x->priority = 0;
    }
    size_t cost = cpc__entry_wire_size(x, p->v);
    if (size + cost > CPC_BITSWAP_MAX_MESSAGE)
      break;
    size += cost;
    ws[n++] = w;
  }
  cpc_bitswap_message m;
  memset(&m, 0, sizeof m);
  m.entries = e;
  m.n_entries = n;
  int rc = cpc_bitswap_message_encode(&m, p->v, out, out_len);
  free(e);
  if (rc == 0) /* sent: this is what the peer knows now */
    for (size_t i = 0; i < n; i++) {
      ws[i]->sent = desired(ws[i]);
      wire_update(c, p, ws[i]);
    }
  free(ws);
  return rc;
}

int cpc_bitswap_client_next_ready(cpc_bitswap_client *c, cpc_peer_id *peer) {
  if (!c || !peer)
    return CPC_EINVAL;
  struct cpc__cpeer *p = c->rhead;
  if (!p)
    return CPC_EAGAIN;
  ready_remove(c, p);
  ready_add(c, p);
  p->notify = 0;
  *peer = p->id;
  return 0;
}

void cpc_bitswap_client_tick(cpc_bitswap_client *c, uint64_t now_ms) {
  if (!c)
    return;
  if (now_ms > c->now)
    c->now = now_ms;
  for (struct cpc_bitswap_session *s = c->sessions; s; s = s->next)
    cpc__session_tick(s);
  step_all(c);
  flush(c, 1);
}

int cpc_bitswap_client_next_deadline(const cpc_bitswap_client *c,
                                     uint64_t *when_ms) {
  uint64_t when = UINT64_MAX;
  int any = 0;
  if (!c || !when_ms)
    return CPC_EINVAL;
  for (const struct cpc_bitswap_session *s = c->sessions; s; s = s->next)
    any |= cpc__session_deadline(s, &when);
  if (!any)
    return CPC_ENOENT;
  *when_ms = when;
  return 0;
}

void cpc_bitswap_client_stats_get(const cpc_bitswap_client *c,
                                  cpc_bitswap_client_stats *st) {
  if (c && st)
    *st = c->stats;
}
