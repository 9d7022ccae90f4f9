/*
 * routing_table.c: 256 k-buckets indexed by the common prefix length with
 * our own key, each with a replacement cache of up to k newcomers that
 * arrived while it was full (newest last). Entries are never evicted for
 * newcomers while they answer; see cpc/kad.h.
 */
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "kad/kad_int.h"

void cpc__kad_rt_init(cpc__kad_rt *rt, const uint8_t self_key[CPC_KAD_KEY_LEN],
                      size_t k, uint64_t now_ms) {
  memset(rt, 0, sizeof *rt);
  memcpy(rt->self_key, self_key, CPC_KAD_KEY_LEN);
  rt->k = k;
  for (size_t i = 0; i < CPC__KAD_BUCKETS; i++)
    rt->b[i].last_refresh_ms = now_ms;
}

void cpc__kad_rt_free(cpc__kad_rt *rt) {
  for (size_t i = 0; i < CPC__KAD_BUCKETS; i++) {
    cpc__kad_bucket *b = &rt->b[i];
    for (size_t j = 0; j < b->n; j++)
      cpc_kad_peer_clear(&b->e[j].peer);
    for (size_t j = 0; j < b->n_repl; j++)
      cpc_kad_peer_clear(&b->repl[j].peer);
    free(b->e);
    free(b->repl);
  }
  memset(rt->b, 0, sizeof rt->b);
  rt->count = 0;
}

int cpc__kad_rt_bucket_of(const cpc__kad_rt *rt,
                          const uint8_t key[CPC_KAD_KEY_LEN]) {
  unsigned cpl = cpc_kad_common_prefix_len(rt->self_key, key);
  return cpl >= CPC__KAD_BUCKETS ? -1 : (int)cpl;
}

static cpc__kad_entry *find_in(cpc__kad_entry *e, size_t n,
                               const uint8_t key[CPC_KAD_KEY_LEN]) {
  for (size_t j = 0; j < n; j++)
    if (memcmp(e[j].key, key, CPC_KAD_KEY_LEN) == 0)
      return &e[j];
  return NULL;
}

cpc__kad_entry *cpc__kad_rt_find(cpc__kad_rt *rt,
                                 const uint8_t key[CPC_KAD_KEY_LEN]) {
  int i = cpc__kad_rt_bucket_of(rt, key);
  if (i < 0)
    return NULL;
  return find_in(rt->b[i].e, rt->b[i].n, key);
}

cpc__kad_entry *cpc__kad_rt_lrs(cpc__kad_rt *rt, int i) {
  cpc__kad_bucket *b = &rt->b[i];
  cpc__kad_entry *best = NULL;
  for (size_t j = 0; j < b->n; j++)
    if (!best || b->e[j].last_seen_ms < best->last_seen_ms)
      best = &b->e[j];
  return best;
}

/* Fill e from p (deep copy). */
static int fill(cpc__kad_entry *e, const cpc_kad_peer *p,
                const uint8_t key[CPC_KAD_KEY_LEN], uint64_t now_ms) {
  memset(e, 0, sizeof *e);
  if (cpc_kad_peer_copy(&e->peer, p) != 0)
    return CPC_ENOMEM;
  e->peer.connection = 0;
  memcpy(e->key, key, CPC_KAD_KEY_LEN);
  e->added_ms = e->last_seen_ms = now_ms;
  return 0;
}

/* Put p in b's replacement cache as its newest entry. */
static int remember(cpc__kad_rt *rt, cpc__kad_bucket *b, const cpc_kad_peer *p,
                    const uint8_t key[CPC_KAD_KEY_LEN], uint64_t now_ms) {
  cpc__kad_entry *old = find_in(b->repl, b->n_repl, key), tmp;
  size_t j;

  if (old) { /* move it to the end, refreshed */
    j = (size_t)(old - b->repl);
    tmp = *old;
    memmove(&b->repl[j], &b->repl[j + 1],
            (b->n_repl - j - 1) * sizeof *b->repl);
    tmp.last_seen_ms = now_ms;
    (void)cpc__kad_peer_merge_addrs(&tmp.peer, p);
    b->repl[b->n_repl - 1] = tmp;
    return 0;
  }
  if (b->n_repl == rt->k) { /* forget the oldest */
    cpc_kad_peer_clear(&b->repl[0].peer);
    memmove(&b->repl[0], &b->repl[1], (b->n_repl - 1) * sizeof *b->repl);
    b->n_repl--;
  }
  if (fill(&b->repl[b->n_repl], p, key, now_ms) != 0)
    return CPC_ENOMEM;
  b->n_repl++;
  return 0;
}

static void drop_repl(cpc__kad_bucket *b, const uint8_t key[CPC_KAD_KEY_LEN]) {
  cpc__kad_entry *old = find_in(b->repl, b->n_repl, key);
  size_t j;

  if (!old)
    return;
  j = (size_t)(old - b->repl);
  cpc_kad_peer_clear(&old->peer);
  memmove(&b->repl[j], &b->repl[j + 1], (b->n_repl - j - 1) * sizeof *b->repl);
  b->n_repl--;
}

int cpc__kad_rt_update(cpc__kad_rt *rt, const cpc_kad_peer *p,
                       const uint8_t key[CPC_KAD_KEY_LEN], uint64_t now_ms,
                       uint64_t ping_after_ms, int *ping) {
  int i = cpc__kad_rt_bucket_of(rt, key);
  cpc__kad_bucket *b;
  cpc__kad_entry *e, *lrs;

  if (ping)
    *ping = 0;
  if (i < 0)
    return CPC_EINVAL;
  b = &rt->b[i];
  e = find_in(b->e, b->n, key);
  if (e) {
    e->last_seen_ms = now_ms;
    e->failures = 0;
    (void)cpc__kad_peer_merge_addrs(&e->peer, p);
    return 0;
  }
  if (!b->e) {
    b->e = calloc(rt->k, sizeof *b->e);
    b->repl = calloc(rt->k, sizeof *b->repl);
    if (!b->e || !b->repl) {
      free(b->e);
      free(b->repl);
      b->e = b->repl = NULL;
      return CPC_ENOMEM;
    }
  }
  if (b->n < rt->k) {
    if (fill(&b->e[b->n], p, key, now_ms) != 0)
      return CPC_ENOMEM;
    b->n++;
    rt->count++;
    drop_repl(b, key);
    return 0;
  }
  if (remember(rt, b, p, key, now_ms) != 0)
    return CPC_ENOMEM;
  lrs = cpc__kad_rt_lrs(rt, i);
  if (ping && b->ping_req == 0 && lrs->last_seen_ms + ping_after_ms <= now_ms)
    *ping = 1;
  return CPC_EAGAIN;
}

int cpc__kad_rt_remove(cpc__kad_rt *rt, const uint8_t key[CPC_KAD_KEY_LEN]) {
  int i = cpc__kad_rt_bucket_of(rt, key);
  cpc__kad_bucket *b;
  cpc__kad_entry *e;

  if (i < 0)
    return CPC_ENOENT;
  b = &rt->b[i];
  e = find_in(b->e, b->n, key);
  if (!e)
    return CPC_ENOENT;
  cpc_kad_peer_clear(&e->peer);
  *e = b->e[b->n - 1];
  memset(&b->e[b->n - 1], 0, sizeof *e);
  b->n--;
  rt->count--;
  if (b->n_repl > 0) { /* promote the newest replacement */
    b->e[b->n++] = b->repl[b->n_repl - 1];
    memset(&b->repl[b->n_repl - 1], 0, sizeof *b->repl);
    b->n_repl--;
    rt->count++;
  }
  return 0;
}

size_t cpc__kad_rt_closest(const cpc__kad_rt *rt,
                           const uint8_t target[CPC_KAD_KEY_LEN],
                           const cpc__kad_entry **out, size_t cap) {
  size_t n = 0;

  if (cap == 0)
    return 0;
  for (size_t i = 0; i < CPC__KAD_BUCKETS; i++) {
    const cpc__kad_bucket *b = &rt->b[i];
    for (size_t j = 0; j < b->n; j++) {
      const cpc__kad_entry *e = &b->e[j];
      size_t pos = n;
      /* insertion into out[0..n), nearest first */
      while (pos > 0 &&
             cpc_kad_compare_distance(target, e->key, out[pos - 1]->key) < 0)
        pos--;
      if (pos >= cap)
        continue;
      if (n < cap)
        n++;
      memmove(&out[pos + 1], &out[pos], (n - 1 - pos) * sizeof *out);
      out[pos] = e;
    }
  }
  return n;
}

int cpc__kad_rt_max_bucket(const cpc__kad_rt *rt) {
  for (int i = CPC__KAD_BUCKETS - 1; i >= 0; i--)
    if (rt->b[i].n > 0)
      return i;
  return -1;
}
