/* cid_map.c: an intrusive hash map keyed by binary CIDs (chained buckets). */
#include <stdlib.h>
#include <string.h>

#include <sodium/crypto_shorthash.h>
#include <sodium/randombytes.h>

#include "bitswap/bitswap_int.h"
#include "cpc/error.h"
#include "crypto/crypto_int.h"

int cpc__cid_key_of(const cpc_cid *cid, cpc__cid_key *k) {
  size_t n = 0;
  if (cpc_cid_encode(cid, k->bytes, sizeof k->bytes, &n) != 0)
    return CPC_EINVAL;
  k->len = (uint8_t)n;
  return 0;
}

int cpc__cid_map_init(cpc__cid_map *m) {
  memset(m, 0, sizeof *m);
  if (cpc__sodium_ready() != 0)
    return CPC_ECRYPTO;
  randombytes_buf(m->seed, sizeof m->seed);
  return 0;
}

void cpc__cid_map_fini(cpc__cid_map *m) {
  free(m->buckets);
  m->buckets = NULL;
  m->n_buckets = 0;
  m->count = 0;
}

static uint64_t key_hash(const cpc__cid_map *m, const cpc__cid_key *k) {
  uint8_t out[crypto_shorthash_BYTES];
  uint64_t h = 0;
  crypto_shorthash(out, k->bytes, k->len, m->seed);
  memcpy(&h, out, sizeof h);
  return h;
}

static int key_eq(const cpc__cid_key *a, const cpc__cid_key *b) {
  return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

cpc__cid_node *cpc__cid_map_find(const cpc__cid_map *m, const cpc__cid_key *k) {
  if (m->n_buckets == 0)
    return NULL;
  uint64_t h = key_hash(m, k);
  for (cpc__cid_node *n = m->buckets[h & (m->n_buckets - 1)]; n; n = n->next)
    if (n->hash == h && key_eq(&n->key, k))
      return n;
  return NULL;
}

static int grow(cpc__cid_map *m) {
  size_t nb = m->n_buckets ? m->n_buckets * 2 : 16;
  cpc__cid_node **b = calloc(nb, sizeof *b);
  if (!b)
    return CPC_ENOMEM;
  for (size_t i = 0; i < m->n_buckets; i++) {
    cpc__cid_node *n = m->buckets[i];
    while (n) {
      cpc__cid_node *next = n->next;
      size_t j = n->hash & (nb - 1);
      n->next = b[j];
      b[j] = n;
      n = next;
    }
  }
  free(m->buckets);
  m->buckets = b;
  m->n_buckets = nb;
  return 0;
}

int cpc__cid_map_insert(cpc__cid_map *m, cpc__cid_node *node) {
  if (m->count >= m->n_buckets) {
    int rc = grow(m);
    if (rc != 0)
      return rc;
  }
  node->hash = key_hash(m, &node->key);
  size_t j = node->hash & (m->n_buckets - 1);
  node->next = m->buckets[j];
  m->buckets[j] = node;
  m->count++;
  return 0;
}

void cpc__cid_map_remove(cpc__cid_map *m, cpc__cid_node *node) {
  cpc__cid_node **p = &m->buckets[node->hash & (m->n_buckets - 1)];
  while (*p && *p != node)
    p = &(*p)->next;
  if (*p) {
    *p = node->next;
    node->next = NULL;
    m->count--;
  }
}
