/*
 * seeded.c: the super-seeding memory of the server engine: which blocks
 * went to which peer lately, and which we fetched ourselves lately. A CID map plus a list in sending order, so
 * the oldest entry is dropped first when the table is full and expiry
 * stops at the first entry still inside the window.
 */
#include <stdlib.h>
#include <string.h>

#include "bitswap/bitswap_int.h"
#include "cpc/error.h"

int cpc__seeded_init(cpc__seeded *t, size_t cap, uint64_t window_ms) {
  memset(t, 0, sizeof *t);
  t->cap = cap;
  t->window_ms = window_ms;
  return cpc__cid_map_init(&t->map);
}

static void list_remove(cpc__seeded *t, struct cpc__seeded_entry *e) {
  if (e->prev)
    e->prev->next = e->next;
  else
    t->head = e->next;
  if (e->next)
    e->next->prev = e->prev;
  else
    t->tail = e->prev;
  e->prev = e->next = NULL;
}

static void list_append(cpc__seeded *t, struct cpc__seeded_entry *e) {
  e->next = NULL;
  e->prev = t->tail;
  if (t->tail)
    t->tail->next = e;
  else
    t->head = e;
  t->tail = e;
}

static void drop(cpc__seeded *t, struct cpc__seeded_entry *e) {
  list_remove(t, e);
  cpc__cid_map_remove(&t->map, &e->node);
  free(e);
}

void cpc__seeded_fini(cpc__seeded *t) {
  while (t->head) {
    struct cpc__seeded_entry *e = t->head;
    t->head = e->next;
    free(e);
  }
  t->tail = NULL;
  cpc__cid_map_fini(&t->map);
}

/* The entry of k, made the newest (created if need be), or NULL. */
static struct cpc__seeded_entry *touch(cpc__seeded *t, const cpc__cid_key *k,
                                       uint64_t now) {
  struct cpc__seeded_entry *e =
      (struct cpc__seeded_entry *)cpc__cid_map_find(&t->map, k);
  if (e) {
    list_remove(t, e);
  } else {
    while (t->map.count >= t->cap && t->head)
      drop(t, t->head);
    e = calloc(1, sizeof *e);
    if (!e)
      return NULL;
    e->node.key = *k;
    if (cpc__cid_map_insert(&t->map, &e->node) != 0) {
      free(e);
      return NULL;
    }
  }
  e->touched = now;
  list_append(t, e);
  return e;
}

int cpc__seeded_note(cpc__seeded *t, const cpc__cid_key *k, uint64_t to,
                     uint64_t now) {
  struct cpc__seeded_entry *e;
  if (t->cap == 0)
    return 0;
  if (!(e = touch(t, k, now)))
    return CPC_ENOMEM;
  e->sent_at = now;
  e->to = to;
  return 0;
}

int cpc__seeded_fetched(cpc__seeded *t, const cpc__cid_key *k, uint64_t now) {
  struct cpc__seeded_entry *e;
  if (t->cap == 0)
    return 0;
  if (!(e = touch(t, k, now)))
    return CPC_ENOMEM;
  e->fetched_at = now;
  e->fetched = 1;
  return 0;
}

int cpc__seeded_elsewhere(const cpc__seeded *t, const cpc__cid_key *k,
                          uint64_t to, uint64_t now) {
  const struct cpc__seeded_entry *e =
      (const struct cpc__seeded_entry *)cpc__cid_map_find(&t->map, k);
  if (!e || (e->fetched && now < e->fetched_at + t->window_ms))
    return 0;
  return e->to != 0 && e->to != to && now < e->sent_at + t->window_ms;
}

void cpc__seeded_expire(cpc__seeded *t, uint64_t now) {
  while (t->head && now >= t->head->touched + t->window_ms)
    drop(t, t->head);
}

void cpc__seeded_forget(cpc__seeded *t, uint64_t to) {
  for (struct cpc__seeded_entry *e = t->head; e; e = e->next)
    if (e->to == to)
      e->to = 0;
}
