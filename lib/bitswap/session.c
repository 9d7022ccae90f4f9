/*
 * session.c: client sessions. A session asks its peers want-have for up to
 * max_active CIDs at a time, then asks want-block of a peer that said HAVE
 * (1.0.0 / 1.1.0 peers are assumed to have everything and asked directly),
 * choosing the one with the fewest blocks in flight, at most max_inflight
 * per peer: wants spread over the providers and faster ones serve more. A
 * DONT_HAVE or a timeout sends the want to another provider; a peer with
 * max_timeouts timeouts is dropped from the session; a CID that no peer
 * can give fails. Every CID that ends (block, failure) is cancelled at
 * every peer that was asked and did not send it.
 *
 * A HAVE that answers a want-block (the peer holds the block back: a
 * super-seeding server serving others first, cpc/bitswap.h) frees the
 * want's place in the peer's max_inflight and lets the want move to
 * another peer that said HAVE and has room (cancelled at the first); with
 * none, it waits for the block, which such a server sends after a while.
 * A peer that held a block back is asked for blocks only when no peer
 * that never did has them and room: it is seeding, the others trade.
 * A HAVE after a DONT_HAVE is taken too: the peer got the block since.
 */
#include <stdlib.h>
#include <string.h>

#include "bitswap/client_int.h"
#include "cpc/error.h"

/* Times a held want may move to another peer before it just waits. */
#define MAX_MOVES 4

/* ---- active list -------------------------------------------------------- */

static void active_add(struct cpc_bitswap_session *s, struct cpc__sw *sw) {
  sw->aprev = NULL;
  sw->anext = s->ahead;
  if (s->ahead)
    s->ahead->aprev = sw;
  s->ahead = sw;
  s->active++;
}

static void active_remove(struct cpc_bitswap_session *s, struct cpc__sw *sw) {
  if (sw->aprev)
    sw->aprev->anext = sw->anext;
  else
    s->ahead = sw->anext;
  if (sw->anext)
    sw->anext->aprev = sw->aprev;
  sw->anext = sw->aprev = NULL;
  s->active--;
}

/* ---- client map links --------------------------------------------------- */

void cpc__sw_unlink(struct cpc__sw *sw) {
  struct cpc__cwant *cw = sw->cw;
  if (!cw)
    return;
  struct cpc__sw **pp = &cw->head;
  while (*pp && *pp != sw)
    pp = &(*pp)->next_same;
  if (*pp)
    *pp = sw->next_same;
  sw->next_same = NULL;
  sw->cw = NULL;
  if (!cw->head) {
    cpc__cid_map_remove(&sw->sess->c->wants, &cw->node);
    free(cw);
  }
}

static int sw_link(cpc_bitswap_client *c, struct cpc__sw *sw,
                   const cpc__cid_key *key) {
  struct cpc__cwant *cw =
      (struct cpc__cwant *)cpc__cid_map_find(&c->wants, key);
  if (!cw) {
    cw = calloc(1, sizeof *cw);
    if (!cw)
      return CPC_ENOMEM;
    cw->node.key = *key;
    int rc = cpc__cid_map_insert(&c->wants, &cw->node);
    if (rc != 0) {
      free(cw);
      return rc;
    }
  }
  sw->next_same = cw->head;
  cw->head = sw;
  sw->cw = cw;
  return 0;
}

/* ---- per-want steps ----------------------------------------------------- */

int cpc__session_peer_index(const struct cpc_bitswap_session *s,
                            const struct cpc__cpeer *p) {
  if (!p)
    return -1;
  for (size_t k = 0; k < s->n_peers; k++)
    if (s->peers[k].p == p)
      return (int)k;
  return -1;
}

/* Ask session peer k about sw (sw just activated, or k just added). */
static void ask(struct cpc_bitswap_session *s, struct cpc__sw *sw, size_t k) {
  struct cpc__spr *spr = &s->peers[k];
  struct cpc__ps *ps = &sw->ps[k];
  if (!spr->p || spr->dead)
    return;
  if (spr->p->v >= CPC_BITSWAP_1_2_0) {
    ps->st = CPC__PS_ASKED;
    ps->t = s->c->now;
    (void)cpc__set_interest(s, sw, k, CPC__WANT_HAVE);
  } else if (spr->p->v == CPC_BITSWAP_1_0_0 && sw->cid.version != 0) {
    ps->st = CPC__PS_DONT_HAVE; /* 1.0.0 names blocks by CIDv0 only */
  } else {
    ps->st = CPC__PS_HAVE; /* cannot ask: try it with want-block */
  }
}

static void unassign(struct cpc_bitswap_session *s, struct cpc__sw *sw) {
  if (sw->block_peer < 0)
    return;
  if (!sw->held)
    s->peers[sw->block_peer].inflight--;
  sw->held = 0;
  sw->block_peer = -1;
}

/* sw is over (block or failure): cancel it everywhere, leave the map. */
static void retire(struct cpc_bitswap_session *s, struct cpc__sw *sw,
                   uint8_t state) {
  unassign(s, sw);
  if (sw->state == CPC__SW_ACTIVE)
    active_remove(s, sw);
  sw->state = state;
  for (size_t k = 0; k < s->n_peers; k++)
    (void)cpc__set_interest(s, sw, k, CPC__WANT_NONE);
  cpc__sw_unlink(sw);
}

static void fail(struct cpc_bitswap_session *s, struct cpc__sw *sw) {
  for (size_t k = 0; k < s->n_peers; k++)
    if (sw->ps[k].st == CPC__PS_DONT_HAVE)
      s->any_dont_have = 1;
  retire(s, sw, CPC__SW_FAILED);
  s->failed++;
}

void cpc__session_block(struct cpc__sw *sw, const struct cpc__cpeer *from,
                        const uint8_t *data, size_t len) {
  struct cpc_bitswap_session *s = sw->sess;
  cpc_bitswap_client *c = s->c;
  int k = cpc__session_peer_index(s, from);
  if (k >= 0)
    s->peers[k].blocks++;
  retire(s, sw, CPC__SW_DONE);
  s->received++;
  if (c->cb.on_block)
    c->cb.on_block(c->ud, s, s->ud, &sw->cid, data, len);
}

void cpc__session_presence(struct cpc__sw *sw, const struct cpc__cpeer *from,
                           int dont_have) {
  struct cpc_bitswap_session *s = sw->sess;
  int k = cpc__session_peer_index(s, from);
  if (sw->state != CPC__SW_ACTIVE || k < 0 || s->peers[k].dead)
    return;
  struct cpc__ps *ps = &sw->ps[k];
  if (dont_have) {
    ps->st = CPC__PS_DONT_HAVE;
    if (sw->block_peer == k)
      unassign(s, sw);
  } else {
    /* a late HAVE after a timeout is welcome; after a DONT_HAVE the peer
     * got the block since; to our want-block, the peer holds it back */
    if (sw->block_peer == k && ps->st == CPC__PS_HAVE && !sw->held) {
      sw->held = 1;
      s->peers[k].inflight--;
      s->peers[k].holds++;
    }
    ps->st = CPC__PS_HAVE;
  }
}

static void assign(struct cpc_bitswap_session *s, struct cpc__sw *sw,
                   size_t k) {
  sw->block_peer = (int)k;
  sw->block_deadline = s->c->now + s->c->cfg.block_timeout_ms;
  s->peers[k].inflight++;
  (void)cpc__set_interest(s, sw, k, CPC__WANT_BLOCK);
}

/* 1 if session peer a is a better choice than b: one that never held a
 * block back, then the fewest blocks in flight. */
static int better(const struct cpc__spr *a, const struct cpc__spr *b) {
  if ((a->holds == 0) != (b->holds == 0))
    return a->holds == 0;
  return a->inflight < b->inflight;
}

/* The best session peer (see better) with room that said HAVE for sw,
 * other than `except`; -1 if none. *alive: some peer may still give sw
 * (said HAVE, or not answered yet). */
static int best_peer(const struct cpc_bitswap_session *s,
                     const struct cpc__sw *sw, int except, int *alive) {
  const cpc_bitswap_client *c = s->c;
  int best = -1;
  for (size_t k = 0; k < s->n_peers; k++) {
    const struct cpc__spr *spr = &s->peers[k];
    uint8_t st = sw->ps[k].st;
    if (!spr->p || spr->dead || (int)k == except)
      continue;
    if (st == CPC__PS_ASKED)
      *alive = 1;
    if (st != CPC__PS_HAVE)
      continue;
    *alive = 1;
    if (spr->inflight < c->cfg.max_inflight &&
        (best < 0 || better(spr, &s->peers[best])))
      best = (int)k;
  }
  return best;
}

void cpc__session_peer_dead(struct cpc_bitswap_session *s, size_t k) {
  struct cpc__spr *spr = &s->peers[k];
  if (spr->dead)
    return;
  spr->dead = 1;
  for (struct cpc__sw *sw = s->ahead; sw; sw = sw->anext) {
    struct cpc__ps *ps = &sw->ps[k];
    if (ps->st == CPC__PS_ASKED || ps->st == CPC__PS_HAVE)
      ps->st = CPC__PS_TIMEOUT;
    if (sw->block_peer == (int)k)
      unassign(s, sw);
    (void)cpc__set_interest(s, sw, k, CPC__WANT_NONE);
  }
}

static void note_timeout(struct cpc_bitswap_session *s, size_t k) {
  s->timeouts++;
  if (++s->peers[k].timeouts >= s->c->cfg.max_timeouts)
    cpc__session_peer_dead(s, k);
}

void cpc__session_tick(struct cpc_bitswap_session *s) {
  const cpc_bitswap_client *c = s->c;
  uint64_t now = c->now;
  if (s->done)
    return;
  for (struct cpc__sw *sw = s->ahead; sw; sw = sw->anext) {
    if (sw->block_peer >= 0 && now >= sw->block_deadline) {
      size_t k = (size_t)sw->block_peer;
      sw->ps[k].st = CPC__PS_TIMEOUT;
      unassign(s, sw);
      (void)cpc__set_interest(s, sw, k, CPC__WANT_NONE);
      note_timeout(s, k);
    }
    for (size_t k = 0; k < s->n_peers; k++) {
      struct cpc__ps *ps = &sw->ps[k];
      if (ps->st == CPC__PS_ASKED && !s->peers[k].dead &&
          now >= ps->t + c->cfg.have_timeout_ms) {
        ps->st = CPC__PS_TIMEOUT;
        note_timeout(s, k);
      }
    }
  }
}

void cpc__session_step(struct cpc_bitswap_session *s) {
  const cpc_bitswap_client *c = s->c;
  if (s->done)
    return;
  while (s->active < c->cfg.max_active && s->next_idle < s->n_wants) {
    struct cpc__sw *sw = &s->wants[s->next_idle++];
    if (sw->state != CPC__SW_IDLE)
      continue; /* its block came unasked */
    sw->state = CPC__SW_ACTIVE;
    sw->activated = c->now;
    active_add(s, sw);
    for (size_t k = 0; k < s->n_peers; k++)
      ask(s, sw, k);
  }
  struct cpc__sw *next;
  for (struct cpc__sw *sw = s->ahead; sw; sw = next) {
    next = sw->anext;
    int best, alive = 0;
    if (sw->block_peer >= 0) {
      /* held back where it was asked: take it elsewhere if someone can */
      if (!sw->held || sw->moves >= MAX_MOVES ||
          (best = best_peer(s, sw, sw->block_peer, &alive)) < 0)
        continue;
      size_t k = (size_t)sw->block_peer;
      unassign(s, sw);
      (void)cpc__set_interest(s, sw, k, CPC__WANT_NONE);
      sw->moves++;
      assign(s, sw, (size_t)best);
      continue;
    }
    best = best_peer(s, sw, -1, &alive);
    if (best >= 0)
      assign(s, sw, (size_t)best);
    else if (!alive && (s->n_peers > 0 ||
                        c->now >= sw->activated + c->cfg.have_timeout_ms))
      fail(s, sw);
  }
  if (s->received + s->failed == s->n_wants) {
    s->done = 1;
    s->rc = s->failed == 0 ? 0 : s->any_dont_have ? CPC_ENOENT : CPC_ETIMEDOUT;
  }
}

int cpc__session_deadline(const struct cpc_bitswap_session *s, uint64_t *when) {
  const cpc_bitswap_client *c = s->c;
  int any = 0;
  if (s->done)
    return 0;
  for (const struct cpc__sw *sw = s->ahead; sw; sw = sw->anext) {
    uint64_t t = UINT64_MAX;
    if (sw->block_peer >= 0)
      t = sw->block_deadline;
    for (size_t k = 0; k < s->n_peers; k++)
      if (sw->ps[k].st == CPC__PS_ASKED && !s->peers[k].dead &&
          sw->ps[k].t + c->cfg.have_timeout_ms < t)
        t = sw->ps[k].t + c->cfg.have_timeout_ms;
    if (s->n_peers == 0 && sw->activated + c->cfg.have_timeout_ms < t)
      t = sw->activated + c->cfg.have_timeout_ms;
    if (t != UINT64_MAX) {
      any = 1;
      if (t < *when)
        *when = t;
    }
  }
  return any;
}

/* ---- public session API ------------------------------------------------- */

/* Room for cap session peers in every want's peer-state array. */
static int grow_peers(struct cpc_bitswap_session *s, size_t cap) {
  if (cap <= s->cap_peers)
    return 0;
  struct cpc__spr *np = realloc(s->peers, cap * sizeof *np);
  if (!np)
    return CPC_ENOMEM;
  s->peers = np;
  struct cpc__ps *ps = calloc(s->wants_cap * cap, sizeof *ps);
  if (!ps)
    return CPC_ENOMEM;
  for (size_t i = 0; i < s->wants_cap; i++) {
    if (s->ps_all)
      memcpy(&ps[i * cap], s->wants[i].ps, s->cap_peers * sizeof *ps);
    s->wants[i].ps = &ps[i * cap];
  }
  free(s->ps_all);
  s->ps_all = ps;
  s->cap_peers = cap;
  return 0;
}

static int add_session_peer(struct cpc_bitswap_session *s,
                            struct cpc__cpeer *p) {
  if (cpc__session_peer_index(s, p) >= 0)
    return 0;
  if (s->n_peers == s->cap_peers) {
    int rc = grow_peers(s, s->cap_peers ? 2 * s->cap_peers : 4);
    if (rc != 0)
      return rc;
  }
  size_t k = s->n_peers++;
  memset(&s->peers[k], 0, sizeof s->peers[k]);
  s->peers[k].p = p;
  s->peers[k].id = p->id;
  for (size_t i = 0; i < s->n_wants; i++)
    memset(&s->wants[i].ps[k], 0, sizeof s->wants[i].ps[k]);
  for (struct cpc__sw *sw = s->ahead; sw; sw = sw->anext)
    ask(s, sw, k);
  return 0;
}

int cpc_bitswap_session_new(cpc_bitswap_client *c, const cpc_cid *cids,
                            size_t n, const cpc_peer_id *peers, size_t n_peers,
                            void *sess_ud, cpc_bitswap_session **out) {
  int rc = 0;
  if (!c || !cids || !out || n == 0 || (n_peers && !peers))
    return CPC_EINVAL;
  if (n > c->cfg.max_session_wants)
    return CPC_ETOOBIG;
  for (size_t i = 0; i < n_peers; i++)
    if (!cpc__client_peer(c, &peers[i]))
      return CPC_ENOENT;
  struct cpc_bitswap_session *s = calloc(1, sizeof *s);
  if (!s)
    return CPC_ENOMEM;
  s->c = c;
  s->ud = sess_ud;
  s->started = c->now;
  s->wants = calloc(n, sizeof *s->wants);
  s->wants_cap = n;
  if (!s->wants) {
    free(s);
    return CPC_ENOMEM;
  }
  size_t np = n_peers ? n_peers : c->n_peers;
  rc = grow_peers(s, np < 4 ? 4 : np);
  for (size_t i = 0; i < n && rc == 0; i++) {
    cpc__cid_key key;
    if (cpc__cid_key_of(&cids[i], &key) != 0) {
      rc = CPC_EINVAL;
      break;
    }
    struct cpc__cwant *cw =
        (struct cpc__cwant *)cpc__cid_map_find(&c->wants, &key);
    int dup = 0;
    for (struct cpc__sw *o = cw ? cw->head : NULL; o; o = o->next_same)
      dup |= o->sess == s;
    if (dup)
      continue;
    struct cpc__sw *sw = &s->wants[s->n_wants];
    sw->ps = &s->ps_all[s->n_wants * s->cap_peers];
    s->n_wants++;
    sw->sess = s;
    sw->cid = cids[i];
    sw->priority = (int32_t)(c->cfg.max_session_wants - i);
    sw->block_peer = -1;
    rc = sw_link(c, sw, &key);
  }
  for (size_t i = 0; i < np && rc == 0; i++)
    rc = add_session_peer(s, n_peers ? cpc__client_peer(c, &peers[i])
                                     : c->peers[i]);
  if (rc != 0) {
    for (size_t i = 0; i < s->n_wants; i++)
      cpc__sw_unlink(&s->wants[i]);
    free(s->wants);
    free(s->ps_all);
    free(s->peers);
    free(s);
    return rc;
  }
  s->next = c->sessions;
  if (c->sessions)
    c->sessions->prev = s;
  c->sessions = s;
  cpc__session_step(s);
  cpc__client_flush(c, 0);
  *out = s;
  return 0;
}

int cpc_bitswap_session_add_peer(cpc_bitswap_session *s,
                                 const cpc_peer_id *peer) {
  if (!s || !peer)
    return CPC_EINVAL;
  struct cpc__cpeer *p = cpc__client_peer(s->c, peer);
  if (!p)
    return CPC_ENOENT;
  if (s->done)
    return CPC_ESTATE;
  int rc = add_session_peer(s, p);
  cpc__session_step(s);
  cpc__client_flush(s->c, 0);
  return rc;
}

void cpc_bitswap_session_free(cpc_bitswap_session *s) {
  if (!s)
    return;
  cpc_bitswap_client *c = s->c;
  for (size_t i = 0; i < s->n_wants; i++) {
    struct cpc__sw *sw = &s->wants[i];
    if (sw->state == CPC__SW_ACTIVE || sw->state == CPC__SW_IDLE)
      retire(s, sw, CPC__SW_FAILED);
  }
  if (s->prev)
    s->prev->next = s->next;
  else
    c->sessions = s->next;
  if (s->next)
    s->next->prev = s->prev;
  free(s->wants);
  free(s->ps_all);
  free(s->peers);
  free(s);
  cpc__client_flush(c, 0);
}

void cpc_bitswap_session_stats_get(const cpc_bitswap_session *s,
                                   cpc_bitswap_session_stats *st) {
  if (!s || !st)
    return;
  memset(st, 0, sizeof *st);
  st->wants = s->n_wants;
  st->received = s->received;
  st->failed = s->failed;
  st->timeouts = s->timeouts;
  st->done = s->done;
  st->rc = s->rc;
}

size_t cpc_bitswap_session_peer_blocks(const cpc_bitswap_session *s,
                                       const cpc_peer_id *peer) {
  if (!s || !peer)
    return 0;
  for (size_t k = 0; k < s->n_peers; k++)
    if (cpc__peer_eq(&s->peers[k].id, peer))
      return s->peers[k].blocks;
  return 0;
}
