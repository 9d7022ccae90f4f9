/*
 * nonce_memory.c: the in-memory nonce store (one process, bounded).
 *
 * Pairs are stored as 16-byte keyed-BLAKE3 digests of (PeerId, nonce) in a
 * chained hash table whose entries come from a fixed pool of cap entries
 * (indices, 0 meaning "none"). The key is random per store, so clients
 * cannot aim nonces at one bucket. Expired entries are unlinked when a
 * chain is walked and by a cursor that sweeps two buckets per insert; when
 * the pool is empty, the whole table is swept once before giving up with
 * CPC_ENOSPC (and not again within the same second if that freed nothing).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cpc/blake3.h"
#include "cpc/error.h"
#include "cpc/http.h"
#include "crypto/crypto_int.h"
#include "http/http_int.h"

#define DEFAULT_CAP 262144u
#define MAX_CAP (1u << 26)
#define DIGEST_LEN 16
#define SWEEP_PER_INSERT 2

struct entry {
  uint8_t digest[DIGEST_LEN];
  int64_t expiry;
  uint32_t next; /* index + 1 of the next entry in the chain or free list */
};

struct mem_store {
  cpc_nonce_store base;
  pthread_mutex_t mu;
  uint8_t key[CPC_BLAKE3_KEY_LEN];
  size_t cap;
  size_t count;
  size_t nbuckets;              /* a power of two */
  size_t cursor;                /* next bucket the incremental sweep looks at */
  int64_t no_full_sweep_before; /* after a full sweep that freed nothing */
  uint32_t free_head;
  uint32_t *buckets;
  struct entry *entries;
};

/* Unlink expired entries of bucket b; returns how many. Lock held. */
static size_t sweep_bucket(struct mem_store *s, size_t b, int64_t now) {
  uint32_t *link = &s->buckets[b];
  size_t n = 0;

  while (*link) {
    struct entry *e = &s->entries[*link - 1];
    if (e->expiry <= now) {
      uint32_t idx = *link;
      *link = e->next;
      e->next = s->free_head;
      s->free_head = idx;
      s->count--;
      n++;
    } else {
      link = &e->next;
    }
  }
  return n;
}

static int mem_check_and_insert(cpc_nonce_store *base, const cpc_peer_id *peer,
                                const char *nonce, size_t nonce_len,
                                int64_t expiry, int64_t now) {
  struct mem_store *s = (struct mem_store *)base;
  cpc_blake3_hasher h;
  uint8_t digest[DIGEST_LEN], len8 = (uint8_t)peer->len;
  uint64_t hv;
  size_t b;
  uint32_t idx;
  int rc = 0;

  cpc_blake3_hasher_init_keyed(&h, s->key);
  cpc_blake3_hasher_update(&h, &len8, 1);
  cpc_blake3_hasher_update(&h, peer->bytes, peer->len);
  cpc_blake3_hasher_update(&h, nonce, nonce_len);
  cpc_blake3_hasher_finalize(&h, digest, sizeof digest);
  memcpy(&hv, digest, sizeof hv);
  b = (size_t)hv & (s->nbuckets - 1);

  pthread_mutex_lock(&s->mu);
  sweep_bucket(s, b, now);
  for (idx = s->buckets[b]; idx; idx = s->entries[idx - 1].next) {
    if (sodium_memcmp(s->entries[idx - 1].digest, digest, DIGEST_LEN) == 0) {
      rc = CPC_EEXIST;
      goto out;
    }
  }
  for (int i = 0; i < SWEEP_PER_INSERT; i++) {
    sweep_bucket(s, s->cursor, now);
    s->cursor = (s->cursor + 1) & (s->nbuckets - 1);
  }
  /* Full: sweep everything, at most once a second while it frees nothing
   * (a full table then costs each refused insert O(1), not O(cap)). */
  if (!s->free_head && now >= s->no_full_sweep_before) {
    size_t freed = 0;
    for (size_t k = 0; k < s->nbuckets; k++)
      freed += sweep_bucket(s, k, now);
    if (freed == 0)
      s->no_full_sweep_before = now + 1;
  }
  if (!s->free_head) {
    rc = CPC_ENOSPC;
    goto out;
  }
  idx = s->free_head;
  s->free_head = s->entries[idx - 1].next;
  memcpy(s->entries[idx - 1].digest, digest, DIGEST_LEN);
  s->entries[idx - 1].expiry = expiry;
  s->entries[idx - 1].next = s->buckets[b];
  s->buckets[b] = idx;
  s->count++;
out:
  pthread_mutex_unlock(&s->mu);
  return rc;
}

static void mem_destroy(cpc_nonce_store *base) {
  struct mem_store *s = (struct mem_store *)base;
  pthread_mutex_destroy(&s->mu);
  sodium_memzero(s->key, sizeof s->key);
  free(s->buckets);
  free(s->entries);
  free(s);
}

static const cpc_nonce_store_ops mem_ops = {
    .check_and_insert = mem_check_and_insert,
    .destroy = mem_destroy,
};

int cpc_nonce_store_memory_new(size_t cap, cpc_nonce_store **out) {
  struct mem_store *s;
  int rc;

  *out = NULL;
  if (cap == 0)
    cap = DEFAULT_CAP;
  if (cap > MAX_CAP)
    return CPC_ETOOBIG;
  if ((rc = cpc__sodium_ready()) != 0)
    return rc;
  s = calloc(1, sizeof *s);
  if (!s)
    return CPC_ENOMEM;
  s->base.ops = &mem_ops;
  s->cap = cap;
  s->nbuckets = 1;
  while (s->nbuckets < cap)
    s->nbuckets <<= 1;
  s->buckets = calloc(s->nbuckets, sizeof *s->buckets);
  s->entries = calloc(cap, sizeof *s->entries);
  if (!s->buckets || !s->entries || pthread_mutex_init(&s->mu, NULL) != 0) {
    free(s->buckets);
    free(s->entries);
    free(s);
    return CPC_ENOMEM;
  }
  for (size_t i = 0; i < cap; i++)
    s->entries[i].next = (uint32_t)(i + 1 < cap ? i + 2 : 0);
  s->free_head = 1;
  randombytes_buf(s->key, sizeof s->key);
  *out = &s->base;
  return 0;
}

size_t cpc_nonce_store_memory_count(cpc_nonce_store *base) {
  struct mem_store *s = (struct mem_store *)base;
  size_t n;

  if (!base || base->ops != &mem_ops)
    return 0;
  pthread_mutex_lock(&s->mu);
  n = s->count;
  pthread_mutex_unlock(&s->mu);
  return n;
}

int cpc_nonce_store_check_and_insert(cpc_nonce_store *s,
                                     const cpc_peer_id *peer, const char *nonce,
                                     size_t nonce_len, int64_t expiry,
                                     int64_t now) {
  if (!s || !s->ops || !s->ops->check_and_insert || !peer || !nonce)
    return CPC_EINVAL;
  return s->ops->check_and_insert(s, peer, nonce, nonce_len, expiry, now);
}

void cpc_nonce_store_free(cpc_nonce_store *s) {
  if (s && s->ops && s->ops->destroy)
    s->ops->destroy(s);
}
