/*
 * server.c: the Bitswap server engine. Per peer a ledger: the wantlist (a
 * CID map) whose unanswered entries sit in a max-heap by priority, then
 * arrival; answers are built only when the caller pulls a message, so a
 * slow peer costs its wantlist and nothing more.
 *
 * Super-seeding (cfg.superseed): blocks sent lately are remembered
 * (seeded.c). At pull time a want-block whose block went to another peer
 * inside the window leaves the heap for the peer's held list (oldest hold
 * first) and the peer is told HAVE once; the pull goes on with the next
 * entries, so blocks nobody has yet go first. cpc_bitswap_server_tick
 * puts a want back in the heap once it has been held seed_hold_ms; it is
 * then never held again. A cancel drops a held want like any other.
 * Blocks we fetched ourselves lately are never held.
 */
#include <stdlib.h>
#include <string.h>

#include "bitswap/bitswap_int.h"
#include "cpc/error.h"

#define NOT_PENDING SIZE_MAX

struct swant {
  cpc__cid_node node; /* first: the map hands nodes back */
  int32_t priority;
  uint8_t want_type;
  uint8_t send_dont_have;
  uint8_t found; /* the source had the block when last asked */
  size_t size;   /* its size, when found */
  uint64_t seq;  /* arrival order, ties in priority */
  uint64_t gen;  /* full-wantlist generation that last named it */
  size_t heap_idx;
  uint64_t held_at;  /* first held (super-seeding), if was_held */
  uint8_t was_held;
  uint8_t held;      /* in the peer's held list */
  uint8_t hold_told; /* HAVE sent for the hold */
  struct swant *hnext, *hprev;
};

struct speer {
  cpc_peer_id id;
  enum cpc_bitswap_version v;
  cpc__cid_map wants;
  struct swant **heap;
  size_t heap_len, heap_cap;
  uint64_t gen;
  cpc_bitswap_ledger ledger; /* counters; wants/pending filled on read */
  struct speer *rnext, *rprev;
  int in_ready;
  uint64_t serial;            /* names the ledger in the seeded table */
  struct swant *hhead, *htail; /* held wants, by held_at */
  size_t n_held;
};

struct cpc_bitswap_server {
  cpc_bitswap_server_config cfg;
  cpc_bitswap_source src;
  struct speer **peers;
  size_t n_peers, cap_peers;
  struct speer *rhead, *rtail; /* peers with pending answers */
  uint64_t seq;
  uint64_t now;    /* the clock of cpc_bitswap_server_tick */
  uint64_t serial; /* last ledger serial given */
  cpc__seeded seeded;
  cpc_bitswap_server_stats st;
};

void cpc_bitswap_server_config_default(cpc_bitswap_server_config *c) {
  memset(c, 0, sizeof *c);
  c->max_peers = 1024;
  c->max_wants_per_peer = 2048;
  c->message_target = 1024 * 1024;
  c->max_inline_have = 1024;
  c->seed_window_ms = 20000;
  c->seed_hold_ms = 1500;
  c->max_seeded = 16384;
}

int cpc_bitswap_server_new(cpc_bitswap_server **out,
                           const cpc_bitswap_server_config *cfg,
                           const cpc_bitswap_source *src) {
  cpc_bitswap_server_config d;
  if (!out || !src || !src->has || !src->get)
    return CPC_EINVAL;
  if (!cfg) {
    cpc_bitswap_server_config_default(&d);
    cfg = &d;
  }
  if (!cfg->max_peers || !cfg->max_wants_per_peer || !cfg->message_target)
    return CPC_EINVAL;
  cpc_bitswap_server *s = calloc(1, sizeof *s);
  if (!s)
    return CPC_ENOMEM;
  s->cfg = *cfg;
  s->src = *src;
  int rc = cpc__seeded_init(&s->seeded, cfg->max_seeded, cfg->seed_window_ms);
  if (rc != 0) {
    free(s);
    return rc;
  }
  *out = s;
  return 0;
}

/* ---- heap of pending wants ---------------------------------------------- */

static int before(const struct swant *a, const struct swant *b) {
  return a->priority != b->priority ? a->priority > b->priority
                                    : a->seq < b->seq;
}

static void heap_set(struct speer *p, size_t i, struct swant *w) {
  p->heap[i] = w;
  w->heap_idx = i;
}

static void sift_up(struct speer *p, size_t i) {
  struct swant *w = p->heap[i];
  while (i > 0) {
    size_t up = (i - 1) / 2;
    if (!before(w, p->heap[up]))
      break;
    heap_set(p, i, p->heap[up]);
    i = up;
  }
  heap_set(p, i, w);
}

static void sift_down(struct speer *p, size_t i) {
  struct swant *w = p->heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= p->heap_len)
      break;
    if (c + 1 < p->heap_len && before(p->heap[c + 1], p->heap[c]))
      c++;
    if (!before(p->heap[c], w))
      break;
    heap_set(p, i, p->heap[c]);
    i = c;
  }
  heap_set(p, i, w);
}

static uint64_t block_bytes(const struct swant *w) {
  return w->found && w->want_type == CPC_BITSWAP_WANT_BLOCK ? w->size : 0;
}

static int pend(struct speer *p, struct swant *w) {
  if (w->heap_idx != NOT_PENDING)
    return 0;
  if (p->heap_len == p->heap_cap) {
    size_t nc = p->heap_cap ? 2 * p->heap_cap : 16;
    struct swant **h = realloc(p->heap, nc * sizeof *h);
    if (!h)
      return CPC_ENOMEM;
    p->heap = h;
    p->heap_cap = nc;
  }
  heap_set(p, p->heap_len++, w);
  sift_up(p, w->heap_idx);
  p->ledger.pending_bytes += block_bytes(w);
  return 0;
}

/* ---- held wants (super-seeding) ----------------------------------------- */

static void hold_add(struct speer *p, struct swant *w) {
  struct swant *after = p->htail;
  while (after && after->held_at > w->held_at)
    after = after->hprev;
  w->hprev = after;
  w->hnext = after ? after->hnext : p->hhead;
  if (w->hnext)
    w->hnext->hprev = w;
  else
    p->htail = w;
  if (after)
    after->hnext = w;
  else
    p->hhead = w;
  w->held = 1;
  p->n_held++;
}

static void hold_remove(struct speer *p, struct swant *w) {
  if (!w->held)
    return;
  if (w->hprev)
    w->hprev->hnext = w->hnext;
  else
    p->hhead = w->hnext;
  if (w->hnext)
    w->hnext->hprev = w->hprev;
  else
    p->htail = w->hprev;
  w->hnext = w->hprev = NULL;
  w->held = 0;
  p->n_held--;
}

static void unpend(struct speer *p, struct swant *w) {
  size_t i = w->heap_idx;
  if (i == NOT_PENDING)
    return;
  p->ledger.pending_bytes -= block_bytes(w);
  w->heap_idx = NOT_PENDING;
  struct swant *last = p->heap[--p->heap_len];
  if (i < p->heap_len) {
    heap_set(p, i, last);
    sift_up(p, i);
    sift_down(p, last->heap_idx);
  }
}

/* ---- peers -------------------------------------------------------------- */

static struct speer *find_peer(const cpc_bitswap_server *s,
                               const cpc_peer_id *id, size_t *idx) {
  for (size_t i = 0; i < s->n_peers; i++)
    if (cpc__peer_eq(&s->peers[i]->id, id)) {
      if (idx)
        *idx = i;
      return s->peers[i];
    }
  return NULL;
}

static void ready_add(cpc_bitswap_server *s, struct speer *p) {
  if (p->in_ready)
    return;
  p->in_ready = 1;
  p->rnext = NULL;
  p->rprev = s->rtail;
  if (s->rtail)
    s->rtail->rnext = p;
  else
    s->rhead = p;
  s->rtail = p;
}

static void ready_remove(cpc_bitswap_server *s, struct speer *p) {
  if (!p->in_ready)
    return;
  if (p->rprev)
    p->rprev->rnext = p->rnext;
  else
    s->rhead = p->rnext;
  if (p->rnext)
    p->rnext->rprev = p->rprev;
  else
    s->rtail = p->rprev;
  p->rnext = p->rprev = NULL;
  p->in_ready = 0;
}

static void remove_want(struct speer *p, struct swant *w) {
  unpend(p, w);
  hold_remove(p, w);
  cpc__cid_map_remove(&p->wants, &w->node);
  free(w);
}

static void free_peer(struct speer *p) {
  for (size_t i = 0; i < p->wants.n_buckets; i++) {
    cpc__cid_node *n = p->wants.buckets[i];
    while (n) {
      cpc__cid_node *next = n->next;
      free(n);
      n = next;
    }
  }
  cpc__cid_map_fini(&p->wants);
  free(p->heap);
  free(p);
}

void cpc_bitswap_server_free(cpc_bitswap_server *s) {
  if (!s)
    return;
  for (size_t i = 0; i < s->n_peers; i++)
    free_peer(s->peers[i]);
  free(s->peers);
  cpc__seeded_fini(&s->seeded);
  free(s);
}

static int add_peer(cpc_bitswap_server *s, const cpc_peer_id *id,
                    enum cpc_bitswap_version v, struct speer **out) {
  if (s->n_peers >= s->cfg.max_peers)
    return CPC_ENOSPC;
  if (s->n_peers == s->cap_peers) {
    size_t nc = s->cap_peers ? 2 * s->cap_peers : 8;
    struct speer **np = realloc(s->peers, nc * sizeof *np);
    if (!np)
      return CPC_ENOMEM;
    s->peers = np;
    s->cap_peers = nc;
  }
  struct speer *p = calloc(1, sizeof *p);
  if (!p)
    return CPC_ENOMEM;
  int rc = cpc__cid_map_init(&p->wants);
  if (rc != 0) {
    free(p);
    return rc;
  }
  p->id = *id;
  p->v = v;
  p->serial = ++s->serial;
  s->peers[s->n_peers++] = p;
  *out = p;
  return 0;
}

void cpc_bitswap_server_peer_gone(cpc_bitswap_server *s,
                                  const cpc_peer_id *peer) {
  size_t i;
  struct speer *p;
  if (!s || !peer || !(p = find_peer(s, peer, &i)))
    return;
  ready_remove(s, p);
  cpc__seeded_forget(&s->seeded, p->serial);
  free_peer(p);
  s->peers[i] = s->peers[--s->n_peers];
}

int cpc_bitswap_server_set_version(cpc_bitswap_server *s,
                                   const cpc_peer_id *peer,
                                   enum cpc_bitswap_version v) {
  if (!s || !peer || !cpc__version_ok(v))
    return CPC_EINVAL;
  struct speer *p = find_peer(s, peer, NULL);
  if (!p)
    return CPC_ENOENT;
  p->v = v;
  return 0;
}

int cpc_bitswap_server_ledger(const cpc_bitswap_server *s,
                              const cpc_peer_id *peer, cpc_bitswap_ledger *l) {
  if (!s || !peer || !l)
    return CPC_EINVAL;
  const struct speer *p = find_peer(s, peer, NULL);
  if (!p)
    return CPC_ENOENT;
  *l = p->ledger;
  l->wants = p->wants.count;
  l->pending = p->heap_len;
  l->held = p->n_held;
  return 0;
}

/* ---- receiving wants ---------------------------------------------------- */

/* Ask the source about w and queue an answer if there is one to give. */
static int evaluate(cpc_bitswap_server *s, struct speer *p, struct swant *w) {
  cpc_cid cid;
  size_t size = 0;
  unpend(p, w);
  hold_remove(p, w); /* held again at the next pull if still due */
  w->found = 0;
  if (cpc_cid_decode(w->node.key.bytes, w->node.key.len, &cid, NULL) == 0 &&
      s->src.has(s->src.ud, &cid, &size) == 0 &&
      size <= CPC_BITSWAP_MAX_BLOCK) {
    w->found = 1;
    w->size = size;
  }
  if (w->found || (w->send_dont_have && p->v >= CPC_BITSWAP_1_2_0))
    return pend(p, w);
  return 0; /* waits for block_added */
}

static int apply_entry(cpc_bitswap_server *s, struct speer *p,
                       const cpc_bitswap_entry *e) {
  cpc__cid_key key;
  if (cpc__cid_key_of(&e->cid, &key) != 0)
    return 0;
  struct swant *w = (struct swant *)cpc__cid_map_find(&p->wants, &key);
  if (e->cancel) {
    if (w) {
      if (w->held)
        s->st.hold_cancelled++;
      remove_want(p, w);
    }
    return 0;
  }
  if (!w) {
    if (p->wants.count >= s->cfg.max_wants_per_peer) {
      p->ledger.wants_ignored++;
      return 0;
    }
    w = calloc(1, sizeof *w);
    if (!w)
      return CPC_ENOMEM;
    w->node.key = key;
    w->heap_idx = NOT_PENDING;
    w->seq = ++s->seq;
    w->want_type = e->want_type;
    int rc = cpc__cid_map_insert(&p->wants, &w->node);
    if (rc != 0) {
      free(w);
      return rc;
    }
  } else {
    unpend(p, w); /* priority and type may change: re-queued below */
    if (e->want_type == CPC_BITSWAP_WANT_BLOCK)
      w->want_type = CPC_BITSWAP_WANT_BLOCK; /* never downgraded */
  }
  w->priority = e->priority;
  w->send_dont_have = e->send_dont_have;
  w->gen = p->gen;
  return evaluate(s, p, w);
}

/* For a full wantlist: drop what it does not name. */
static void drop_stale(struct speer *p) {
  for (size_t i = 0; i < p->wants.n_buckets; i++) {
    cpc__cid_node *n = p->wants.buckets[i];
    while (n) {
      cpc__cid_node *next = n->next;
      struct swant *w = (struct swant *)n;
      if (w->gen != p->gen)
        remove_want(p, w);
      n = next;
    }
  }
}

static void note_ready(cpc_bitswap_server *s, struct speer *p) {
  if (p->heap_len == 0) {
    ready_remove(s, p);
    return;
  }
  if (p->in_ready)
    return;
  ready_add(s, p);
  if (s->cfg.on_ready)
    s->cfg.on_ready(s->cfg.ud, &p->id);
}

int cpc_bitswap_server_receive(cpc_bitswap_server *s, const cpc_peer_id *peer,
                               enum cpc_bitswap_version v,
                               const cpc_bitswap_message *m) {
  int rc = 0;
  if (!s || !peer || !m || !cpc__version_ok(v) ||
      (!m->entries && m->n_entries) || (!m->blocks && m->n_blocks))
    return CPC_EINVAL;
  struct speer *p = find_peer(s, peer, NULL);
  if (!p && (rc = add_peer(s, peer, v, &p)) != 0)
    return rc;
  p->ledger.messages_received++;
  for (size_t i = 0; i < m->n_blocks; i++) {
    p->ledger.blocks_received++;
    p->ledger.bytes_received += m->blocks[i].len;
  }
  if (m->full) { /* drop what the new list does not name, then apply it */
    p->gen++;
    for (size_t i = 0; i < m->n_entries; i++) {
      cpc__cid_key key;
      struct swant *w;
      if (!m->entries[i].cancel &&
          cpc__cid_key_of(&m->entries[i].cid, &key) == 0 &&
          (w = (struct swant *)cpc__cid_map_find(&p->wants, &key)))
        w->gen = p->gen;
    }
    drop_stale(p);
  }
  for (size_t i = 0; i < m->n_entries && rc == 0; i++)
    rc = apply_entry(s, p, &m->entries[i]);
  note_ready(s, p);
  return rc;
}

int cpc_bitswap_server_block_added(cpc_bitswap_server *s, const cpc_cid *cid) {
  cpc__cid_key key;
  int rc = 0;
  if (!s || !cid || cpc__cid_key_of(cid, &key) != 0)
    return CPC_EINVAL;
  for (size_t i = 0; i < s->n_peers; i++) {
    struct speer *p = s->peers[i];
    struct swant *w = (struct swant *)cpc__cid_map_find(&p->wants, &key);
    if (w && !w->held && (w->heap_idx == NOT_PENDING || !w->found)) {
      int r = evaluate(s, p, w);
      if (r != 0)
        rc = r;
    }
    note_ready(s, p);
  }
  return rc;
}

int cpc_bitswap_server_next_ready(cpc_bitswap_server *s, cpc_peer_id *peer) {
  if (!s || !peer)
    return CPC_EINVAL;
  struct speer *p = s->rhead;
  if (!p)
    return CPC_EAGAIN;
  ready_remove(s, p);
  ready_add(s, p); /* to the back */
  *peer = p->id;
  return 0;
}

/* ---- building answers --------------------------------------------------- */

enum action { A_BLOCK, A_HAVE, A_DONT_HAVE, A_HOLD };

struct taken {
  struct swant *w;
  enum action a;
};

struct build {
  cpc_bitswap_block *blocks;
  cpc_bitswap_presence *presences;
  struct taken *taken;
  size_t n_blocks, n_presences, n_taken, cap;
  size_t size, block_bytes;
};

static int build_grow(struct build *b) {
  if (b->n_taken < b->cap)
    return 0;
  size_t nc = b->cap ? 2 * b->cap : 16;
  cpc_bitswap_block *nb = realloc(b->blocks, nc * sizeof *nb);
  if (nb)
    b->blocks = nb;
  cpc_bitswap_presence *np = realloc(b->presences, nc * sizeof *np);
  if (np)
    b->presences = np;
  struct taken *nt = realloc(b->taken, nc * sizeof *nt);
  if (nt)
    b->taken = nt;
  if (!nb || !np || !nt)
    return CPC_ENOMEM;
  b->cap = nc;
  return 0;
}

static enum action action_of(const cpc_bitswap_server *s, const struct speer *p,
                             const struct swant *w) {
  if (!w->found)
    return A_DONT_HAVE;
  if (p->v >= CPC_BITSWAP_1_2_0 && w->want_type == CPC_BITSWAP_WANT_HAVE &&
      w->size > s->cfg.max_inline_have)
    return A_HAVE;
  return A_BLOCK;
}

/*
 * Add the answer to w (already off the heap) to b. Returns 1 if added, 0 if
 * it does not fit (w goes back), or an error.
 */
static int take_one(cpc_bitswap_server *s, struct speer *p, struct build *b,
                    struct swant *w) {
  cpc_cid cid;
  enum action a = action_of(s, p, w);
  int rc = build_grow(b);
  if (rc != 0)
    return rc;
  if (cpc_cid_decode(w->node.key.bytes, w->node.key.len, &cid, NULL) != 0)
    return CPC_EINVAL; /* keys come from cpc_cid_encode */
  if (a == A_BLOCK) {
    uint8_t *data = NULL;
    size_t len = 0;
    if (b->n_blocks >= CPC_BITSWAP_MAX_BLOCKS ||
        (b->block_bytes > 0 &&
         b->block_bytes + w->size > s->cfg.message_target))
      return 0;
    if (s->src.get(s->src.ud, &cid, &data, &len) != 0 || !data ||
        len > CPC_BITSWAP_MAX_BLOCK) {
      free(data);
      w->found = 0; /* gone from the source since has() */
      if (!(w->send_dont_have && p->v >= CPC_BITSWAP_1_2_0))
        return 1; /* nothing to say: waits (not in taken) */
      a = A_DONT_HAVE;
    } else {
      size_t cost = cpc__block_wire_size(&cid, len, p->v);
      if (b->size + cost > CPC_BITSWAP_MAX_MESSAGE) {
        free(data);
        return 0;
      }
      cpc_bitswap_block *blk = &b->blocks[b->n_blocks++];
      blk->cid = cid;
      blk->data = data;
      blk->len = len;
      b->size += cost;
      b->block_bytes += len;
    }
  }
  if (a != A_BLOCK) {
    size_t cost = cpc__presence_wire_size(&cid);
    if (b->n_presences >= CPC_BITSWAP_MAX_PRESENCES ||
        b->size + cost > CPC_BITSWAP_MAX_MESSAGE)
      return 0;
    b->presences[b->n_presences].cid = cid;
    b->presences[b->n_presences++].dont_have = a == A_DONT_HAVE;
    b->size += cost;
  }
  b->taken[b->n_taken].w = w;
  b->taken[b->n_taken++].a = a;
  return 1;
}

/* 1 if w, a block due to p, is to be held: super-seeding is on, the block
 * went to another peer lately, and w has not been held long enough. */
static int hold_due(const cpc_bitswap_server *s, const struct speer *p,
                    const struct swant *w) {
  if (!s->cfg.superseed || action_of(s, p, w) != A_BLOCK)
    return 0;
  if (w->was_held && s->now >= w->held_at + s->cfg.seed_hold_ms)
    return 0;
  return cpc__seeded_elsewhere(&s->seeded, &w->node.key, p->serial, s->now);
}

/* Add the hold of w (off the heap) to b: a HAVE for 1.2.0 peers not told
 * yet. Returns 1 if added, 0 if it does not fit, or an error. */
static int take_hold(struct speer *p, struct build *b, struct swant *w) {
  cpc_cid cid;
  int rc = build_grow(b);
  if (rc != 0)
    return rc;
  if (p->v >= CPC_BITSWAP_1_2_0 && !w->hold_told) {
    if (cpc_cid_decode(w->node.key.bytes, w->node.key.len, &cid, NULL) != 0)
      return CPC_EINVAL;
    size_t cost = cpc__presence_wire_size(&cid);
    if (b->n_presences >= CPC_BITSWAP_MAX_PRESENCES ||
        b->size + cost > CPC_BITSWAP_MAX_MESSAGE)
      return 0;
    b->presences[b->n_presences].cid = cid;
    b->presences[b->n_presences++].dont_have = 0;
    b->size += cost;
  }
  b->taken[b->n_taken].w = w;
  b->taken[b->n_taken++].a = A_HOLD;
  return 1;
}

static void build_free(struct build *b) {
  for (size_t i = 0; i < b->n_blocks; i++)
    free((void *)(uintptr_t)b->blocks[i].data);
  free(b->blocks);
  free(b->presences);
  free(b->taken);
}

/* The message went out: update the ledger and the wantlist. */
static void commit(cpc_bitswap_server *s, struct speer *p, struct build *b) {
  for (size_t i = 0; i < b->n_taken; i++) {
    struct swant *w = b->taken[i].w;
    switch (b->taken[i].a) {
    case A_BLOCK:
      p->ledger.blocks_sent++;
      if (s->cfg.superseed) {
        if (w->was_held)
          s->st.hold_released++;
        /* no memory: this block is just not held for others */
        (void)cpc__seeded_note(&s->seeded, &w->node.key, p->serial, s->now);
      }
      remove_want(p, w);
      break;
    case A_HOLD:
      if (!w->was_held) {
        w->was_held = 1;
        w->held_at = s->now;
        p->ledger.holds++;
        s->st.holds++;
      }
      if (p->v >= CPC_BITSWAP_1_2_0)
        w->hold_told = 1;
      hold_add(p, w);
      break;
    case A_HAVE:
      p->ledger.haves_sent++;
      remove_want(p, w);
      break;
    case A_DONT_HAVE:
      p->ledger.dont_haves_sent++; /* stays, waiting for block_added */
      break;
    }
  }
  for (size_t i = 0; i < b->n_blocks; i++)
    p->ledger.bytes_sent += b->blocks[i].len;
}

int cpc_bitswap_server_pull(cpc_bitswap_server *s, const cpc_peer_id *peer,
                            uint8_t **out, size_t *out_len) {
  struct build b;
  int rc = 0;
  if (!s || !peer || !out || !out_len)
    return CPC_EINVAL;
  struct speer *p = find_peer(s, peer, NULL);
  if (!p)
    return CPC_ENOENT;
  memset(&b, 0, sizeof b);
  b.size = CPC__MSG_OVERHEAD;
  while (p->heap_len > 0) {
    struct swant *w = p->heap[0];
    unpend(p, w);
    rc = hold_due(s, p, w) ? take_hold(p, &b, w) : take_one(s, p, &b, w);
    if (rc <= 0) {
      int r2 = pend(p, w); /* did not fit, or failed: back in place */
      if (rc == 0)
        rc = r2;
      break;
    }
    rc = 0;
  }
  if (rc == 0 && b.n_taken == 0)
    rc = CPC_EAGAIN;
  if (rc == 0 && b.n_blocks == 0 && b.n_presences == 0) {
    commit(s, p, &b); /* holds only, nothing to tell */
    build_free(&b);
    note_ready(s, p);
    return CPC_EAGAIN;
  }
  if (rc == 0) {
    cpc_bitswap_message m;
    memset(&m, 0, sizeof m);
    m.blocks = b.blocks;
    m.n_blocks = b.n_blocks;
    m.presences = b.presences;
    m.n_presences = b.n_presences;
    uint64_t left = p->ledger.pending_bytes;
    m.pending_bytes = left > INT32_MAX ? INT32_MAX : (int32_t)left;
    rc = cpc_bitswap_message_encode(&m, p->v, out, out_len);
  }
  if (rc == 0) {
    commit(s, p, &b);
  } else {
    for (size_t i = 0; i < b.n_taken; i++)
      (void)pend(p, b.taken[i].w); /* room was there a moment ago */
  }
  build_free(&b);
  note_ready(s, p);
  return rc;
}

int cpc_bitswap_server_block_fetched(cpc_bitswap_server *s,
                                     const cpc_cid *cid) {
  cpc__cid_key key;
  if (!s || !cid || cpc__cid_key_of(cid, &key) != 0)
    return CPC_EINVAL;
  if (!s->cfg.superseed)
    return 0;
  return cpc__seeded_fetched(&s->seeded, &key, s->now);
}

/* ---- clock -------------------------------------------------------------- */

void cpc_bitswap_server_tick(cpc_bitswap_server *s, uint64_t now_ms) {
  if (!s)
    return;
  if (now_ms > s->now)
    s->now = now_ms;
  cpc__seeded_expire(&s->seeded, s->now);
  for (size_t i = 0; i < s->n_peers; i++) {
    struct speer *p = s->peers[i];
    int released = 0;
    while (p->hhead && s->now >= p->hhead->held_at + s->cfg.seed_hold_ms) {
      struct swant *w = p->hhead;
      hold_remove(p, w);
      if (pend(p, w) != 0) {
        hold_add(p, w); /* no memory: try again at the next tick */
        break;
      }
      released = 1;
    }
    if (released)
      note_ready(s, p);
  }
}

void cpc_bitswap_server_stats_get(const cpc_bitswap_server *s,
                                  cpc_bitswap_server_stats *st) {
  if (!s || !st)
    return;
  *st = s->st;
  st->seeded = s->seeded.map.count;
}
