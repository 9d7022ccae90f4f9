/*
 * key_table.c: a chained hash table keyed by byte strings, for the
 * provider and value stores. Keys come from the network, so slots are
 * picked by SipHash-2-4 under a random per-table key (no chosen-collision
 * floods). The table doubles when it holds more entries than slots.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cpc/error.h"
#include "kad/kad_int.h"

static uint64_t hash_of(const cpc__kad_table *t, const uint8_t *key,
                        size_t len) {
  uint8_t h[crypto_shorthash_BYTES];
  uint64_t v = 0;

  crypto_shorthash(h, key, len, t->sip_key);
  for (size_t i = 0; i < sizeof h; i++)
    v = (v << 8) | h[i];
  return v;
}

void cpc__kad_table_init(cpc__kad_table *t) {
  memset(t, 0, sizeof *t);
  randombytes_buf(t->sip_key, sizeof t->sip_key);
}

static cpc__kad_tentry **find_link(const cpc__kad_table *t, uint64_t h,
                                   const uint8_t *key, size_t len) {
  cpc__kad_tentry **link;

  if (t->n_slots == 0)
    return NULL;
  link = &t->slots[h & (t->n_slots - 1)];
  for (; *link; link = &(*link)->next) {
    cpc__kad_tentry *e = *link;
    if (e->hash == h && e->key_len == len && memcmp(e->key, key, len) == 0)
      return link;
  }
  return NULL;
}

void *cpc__kad_table_get(const cpc__kad_table *t, const uint8_t *key,
                         size_t len) {
  cpc__kad_tentry **link = find_link(t, hash_of(t, key, len), key, len);
  return link ? (*link)->val : NULL;
}

static int grow(cpc__kad_table *t) {
  size_t n = t->n_slots ? t->n_slots * 2 : 64;
  cpc__kad_tentry **s = calloc(n, sizeof *s);

  if (!s)
    return CPC_ENOMEM;
  for (size_t i = 0; i < t->n_slots; i++) {
    cpc__kad_tentry *e = t->slots[i];
    while (e) {
      cpc__kad_tentry *next = e->next;
      size_t j = e->hash & (n - 1);
      e->next = s[j];
      s[j] = e;
      e = next;
    }
  }
  free(t->slots);
  t->slots = s;
  t->n_slots = n;
  return 0;
}

int cpc__kad_table_put(cpc__kad_table *t, const uint8_t *key, size_t len,
                       void *val) {
  uint64_t h = hash_of(t, key, len);
  cpc__kad_tentry **link = find_link(t, h, key, len);
  cpc__kad_tentry *e;
  size_t j;

  if (link) {
    (*link)->val = val;
    return 0;
  }
  if (t->count >= t->n_slots && grow(t) != 0)
    return CPC_ENOMEM;
  e = malloc(sizeof *e + len);
  if (!e)
    return CPC_ENOMEM;
  e->hash = h;
  e->val = val;
  e->key_len = len;
  memcpy(e->key, key, len);
  j = h & (t->n_slots - 1);
  e->next = t->slots[j];
  t->slots[j] = e;
  t->count++;
  return 0;
}

void *cpc__kad_table_remove(cpc__kad_table *t, const uint8_t *key, size_t len) {
  cpc__kad_tentry **link = find_link(t, hash_of(t, key, len), key, len);
  cpc__kad_tentry *e;
  void *val;

  if (!link)
    return NULL;
  e = *link;
  *link = e->next;
  val = e->val;
  free(e);
  t->count--;
  return val;
}

void cpc__kad_table_filter(cpc__kad_table *t,
                           int (*fn)(void *ctx, const uint8_t *key, size_t len,
                                     void *val),
                           void *ctx) {
  for (size_t i = 0; i < t->n_slots; i++) {
    cpc__kad_tentry **link = &t->slots[i];
    while (*link) {
      cpc__kad_tentry *e = *link;
      if (fn(ctx, e->key, e->key_len, e->val)) {
        link = &e->next;
        continue;
      }
      *link = e->next;
      free(e);
      t->count--;
    }
  }
}

void cpc__kad_table_foreach(const cpc__kad_table *t,
                            void (*fn)(void *ctx, const uint8_t *key,
                                       size_t len, const void *val),
                            void *ctx) {
  for (size_t i = 0; i < t->n_slots; i++)
    for (const cpc__kad_tentry *e = t->slots[i]; e; e = e->next)
      fn(ctx, e->key, e->key_len, e->val);
}

void cpc__kad_table_free(cpc__kad_table *t, void (*free_val)(void *val)) {
  for (size_t i = 0; i < t->n_slots; i++) {
    cpc__kad_tentry *e = t->slots[i];
    while (e) {
      cpc__kad_tentry *next = e->next;
      if (free_val)
        free_val(e->val);
      free(e);
      e = next;
    }
  }
  free(t->slots);
  memset(t, 0, sizeof *t);
}
