/*
 * kad_int.h: what the files of the Kademlia DHT share (lib/kad/).
 *
 *   peer.c           cpc_kad_peer helpers
 *   key_table.c      a hash table keyed by byte strings (SipHash, chained)
 *   keyspace.c       SHA-256 positions, XOR distance
 *   message.c        Message protobuf <-> cpc_kad_message, framing
 *   record.c         /pk/ and /cpc/ record validation and signing
 *   routing_table.c  k-buckets with replacement caches
 *   provider_store.c provider records with expiry and caps
 *   value_store.c    PUT_VALUE records with expiry and caps
 *   lookup.c         the iterative lookup state machine
 *   server.c         answers to inbound requests
 *   dht.c            the cpc_kad object: requests, ticks, public lookups
 */
#ifndef CPC_KAD_INT_H
#define CPC_KAD_INT_H

#include <stddef.h>
#include <stdint.h>

#include "cpc/kad.h"

/* ---- peer.c ------------------------------------------------------------- */

/* Append the binary multiaddr in[0..len) to p if it parses and p has room.
 * 0 appended, CPC_ENOSPC full (dropped), CPC_EMALFORMED / CPC_EUNSUPPORTED /
 * CPC_ETRUNC / CPC_ETOOBIG (not a multiaddr we read), CPC_ENOMEM. */
int cpc__kad_peer_add_addr(cpc_kad_peer *p, const uint8_t *in, size_t len);
/* Byte offset of address i inside p->addr_bytes. */
size_t cpc__kad_peer_addr_off(const cpc_kad_peer *p, size_t i);
/* 1 if p has the address in[0..len). */
int cpc__kad_peer_has_addr(const cpc_kad_peer *p, const uint8_t *in,
                           size_t len);
/* Add to dst the addresses of src it lacks (while room). CPC_ENOMEM. */
int cpc__kad_peer_merge_addrs(cpc_kad_peer *dst, const cpc_kad_peer *src);

/* ---- key_table.c -------------------------------------------------------- */

typedef struct cpc__kad_tentry {
  struct cpc__kad_tentry *next;
  uint64_t hash;
  void *val;
  size_t key_len;
  uint8_t key[]; /* key_len bytes */
} cpc__kad_tentry;

typedef struct cpc__kad_table {
  cpc__kad_tentry **slots;
  size_t n_slots; /* power of two, or 0 before the first put */
  size_t count;
  uint8_t sip_key[16];
} cpc__kad_table;

/* An empty table with a random SipHash key. */
void cpc__kad_table_init(cpc__kad_table *t);
/* The value under key, or NULL. */
void *cpc__kad_table_get(const cpc__kad_table *t, const uint8_t *key,
                         size_t len);
/* Set key to val (replacing any value, which is not freed). CPC_ENOMEM. */
int cpc__kad_table_put(cpc__kad_table *t, const uint8_t *key, size_t len,
                       void *val);
/* Remove key; returns its value (the caller frees it) or NULL. */
void *cpc__kad_table_remove(cpc__kad_table *t, const uint8_t *key, size_t len);
/* Call fn on every entry; entries for which it returns 0 are removed
 * (fn has then taken care of the value). */
void cpc__kad_table_filter(cpc__kad_table *t,
                           int (*fn)(void *ctx, const uint8_t *key, size_t len,
                                     void *val),
                           void *ctx);
/* Call fn on every entry (fn must not change the table). */
void cpc__kad_table_foreach(const cpc__kad_table *t,
                            void (*fn)(void *ctx, const uint8_t *key,
                                       size_t len, const void *val),
                            void *ctx);
/* Free every entry, calling free_val (may be NULL) on each value. */
void cpc__kad_table_free(cpc__kad_table *t, void (*free_val)(void *val));

/* ---- routing_table.c ---------------------------------------------------- */

typedef struct cpc__kad_entry {
  cpc_kad_peer peer;
  uint8_t key[CPC_KAD_KEY_LEN];
  uint64_t added_ms, last_seen_ms;
  unsigned failures;
} cpc__kad_entry;

typedef struct cpc__kad_bucket {
  cpc__kad_entry *e; /* k slots, allocated on first use */
  size_t n;
  cpc__kad_entry *repl; /* replacement cache, oldest first, k slots */
  size_t n_repl;
  uint64_t ping_req; /* request id of the liveness ping, 0 if none */
  uint64_t last_refresh_ms;
  uint64_t refresh_lookup; /* lookup id refreshing it, 0 if none */
} cpc__kad_bucket;

#define CPC__KAD_BUCKETS 256

typedef struct cpc__kad_rt {
  uint8_t self_key[CPC_KAD_KEY_LEN];
  size_t k;
  size_t count;
  cpc__kad_bucket b[CPC__KAD_BUCKETS];
} cpc__kad_rt;

void cpc__kad_rt_init(cpc__kad_rt *rt, const uint8_t self_key[CPC_KAD_KEY_LEN],
                      size_t k, uint64_t now_ms);
void cpc__kad_rt_free(cpc__kad_rt *rt);
/* Bucket index of key (its common prefix length with ours, at most 255);
 * -1 for our own key. */
int cpc__kad_rt_bucket_of(const cpc__kad_rt *rt,
                          const uint8_t key[CPC_KAD_KEY_LEN]);
/* The entry for key, or NULL. */
cpc__kad_entry *cpc__kad_rt_find(cpc__kad_rt *rt,
                                 const uint8_t key[CPC_KAD_KEY_LEN]);
/*
 * Add or refresh p (key = its position) as seen now. 0 in the table;
 * CPC_EAGAIN bucket full: p is in the replacement cache and *ping (if not
 * NULL) is set to 1 when the bucket's least-recently-seen entry was not
 * seen for ping_after_ms and no ping is running (the caller pings it);
 * CPC_EINVAL our own key; CPC_ENOMEM.
 */
int cpc__kad_rt_update(cpc__kad_rt *rt, const cpc_kad_peer *p,
                       const uint8_t key[CPC_KAD_KEY_LEN], uint64_t now_ms,
                       uint64_t ping_after_ms, int *ping);
/* The least-recently-seen entry of bucket i, or NULL if empty. */
cpc__kad_entry *cpc__kad_rt_lrs(cpc__kad_rt *rt, int i);
/* Remove key's entry and promote the newest replacement. CPC_ENOENT. */
int cpc__kad_rt_remove(cpc__kad_rt *rt, const uint8_t key[CPC_KAD_KEY_LEN]);
/* Up to cap entries closest to target, nearest first; returns the count. */
size_t cpc__kad_rt_closest(const cpc__kad_rt *rt,
                           const uint8_t target[CPC_KAD_KEY_LEN],
                           const cpc__kad_entry **out, size_t cap);
/* Highest non-empty bucket index, -1 if the table is empty. */
int cpc__kad_rt_max_bucket(const cpc__kad_rt *rt);

/* ---- record.c ----------------------------------------------------------- */

/* 1 if key[0..len) starts with prefix (a C string). */
int cpc__kad_key_has_prefix(const uint8_t *key, size_t len, const char *prefix);
/* The PeerId inside a /pk/ or /cpc/ key. CPC_EMALFORMED. */
int cpc__kad_key_peer(const uint8_t *key, size_t len, cpc_peer_id *id);
/* seq of a valid /cpc/ value (0 for other namespaces). */
uint64_t cpc__kad_record_seq(const uint8_t *key, size_t key_len,
                             const uint8_t *value, size_t value_len);

/* ---- the DHT object (dht.c) --------------------------------------------- */

struct cpc__kad_lookup;

enum cpc__kad_pending_kind {
  CPC__KAD_REQ_LOOKUP, /* a lookup's query */
  CPC__KAD_REQ_PING,   /* liveness check of a bucket's oldest peer */
  CPC__KAD_REQ_STORE,  /* PUT_VALUE of a put_value lookup's second phase */
  CPC__KAD_REQ_FIRE,   /* answer not needed (record corrections) */
};

typedef struct cpc__kad_pending {
  uint64_t req_id;
  uint64_t deadline_ms;
  enum cpc__kad_pending_kind kind;
  uint64_t lookup_id; /* LOOKUP, STORE */
  uint8_t peer_key[CPC_KAD_KEY_LEN];
  int bucket; /* PING */
} cpc__kad_pending;

typedef struct cpc__kad_providing {
  uint64_t next_ms;   /* when to announce again */
  uint64_t lookup_id; /* running announcement, 0 if none */
} cpc__kad_providing;

struct cpc_kad {
  cpc_peer_id self;
  uint8_t self_key[CPC_KAD_KEY_LEN];
  cpc_kad_peer self_peer; /* id + our addresses */
  cpc_kad_config cfg;
  cpc_kad_transport tr;
  cpc__kad_rt rt;

  cpc__kad_table providers; /* mh -> struct of provider_store.c */
  size_t n_provider_records;
  cpc__kad_table values;    /* record key -> struct of value_store.c */
  cpc__kad_table providing; /* mh -> cpc__kad_providing */

  cpc__kad_pending *pending;
  size_t n_pending, cap_pending;
  struct cpc__kad_lookup **lookups;
  size_t n_lookups, cap_lookups;

  uint64_t next_req_id, next_lookup_id;
  uint64_t next_cleanup_ms;

  cpc_kad_peer *seeds; /* the last bootstrap peers, to join again */
  size_t n_seeds;
  uint64_t bootstrap_lookup; /* running bootstrap, 0 if none */
  uint64_t next_rejoin_ms;
  uint64_t rng;
};

/* Send msg to `to`; on success registers a pending request of kind and
 * sets *req_id. Errors from encode or the transport. */
int cpc__kad_send(cpc_kad *d, const cpc_kad_peer *to,
                  const uint8_t to_key[CPC_KAD_KEY_LEN],
                  const cpc_kad_message *msg, int expect_response,
                  enum cpc__kad_pending_kind kind, uint64_t lookup_id,
                  int bucket, uint64_t now_ms, uint64_t *req_id);
/* Drop the pending request req_id (calling transport.cancel). */
void cpc__kad_cancel_request(cpc_kad *d, uint64_t req_id);
/* A peer answered us: it is a server, put it in the table. */
void cpc__kad_peer_seen(cpc_kad *d, const cpc_kad_peer *p,
                        const uint8_t key[CPC_KAD_KEY_LEN], uint64_t now_ms);
/* A request to a peer failed: count it, evict after max_failures. */
void cpc__kad_peer_failed(cpc_kad *d, const uint8_t key[CPC_KAD_KEY_LEN]);
/* A uniformly random 64-bit number (xorshift; not for secrets). */
uint64_t cpc__kad_rand(cpc_kad *d);

/* ---- provider_store.c --------------------------------------------------- */

/* Store or refresh p as a provider of mh until now + provider_ttl_ms.
 * CPC_ENOSPC (a cap), CPC_ENOMEM. */
int cpc__kad_providers_add(cpc_kad *d, const uint8_t *mh, size_t mh_len,
                           const cpc_kad_peer *p, uint64_t now_ms);
/* Borrowed shallow views (do not clear them) of up to cap unexpired
 * providers of mh into out; returns the count. */
size_t cpc__kad_providers_view(const cpc_kad *d, const uint8_t *mh,
                               size_t mh_len, uint64_t now_ms,
                               cpc_kad_peer *out, size_t cap);
/* Drop expired provider records. */
void cpc__kad_providers_sweep(cpc_kad *d, uint64_t now_ms);
void cpc__kad_providers_free(cpc_kad *d);

/* ---- value_store.c ------------------------------------------------------ */

/* Validate and store (see cpc_kad_handle_request for the errors). */
int cpc__kad_values_put(cpc_kad *d, const uint8_t *key, size_t key_len,
                        const uint8_t *value, size_t value_len,
                        uint64_t now_ms);
/* Borrowed view of an unexpired stored value; received time into
 * *received_ms (may be NULL). CPC_ENOENT. */
int cpc__kad_values_get(const cpc_kad *d, const uint8_t *key, size_t key_len,
                        uint64_t now_ms, const uint8_t **value,
                        size_t *value_len, uint64_t *received_ms);
void cpc__kad_values_sweep(cpc_kad *d, uint64_t now_ms);
void cpc__kad_values_free(cpc_kad *d);

/* ---- lookup.c ----------------------------------------------------------- */

enum cpc__kad_purpose {
  CPC__KAD_LP_CLOSEST,
  CPC__KAD_LP_FIND_PEER,
  CPC__KAD_LP_BOOTSTRAP,
  CPC__KAD_LP_REFRESH,
  CPC__KAD_LP_PROVIDE,
  CPC__KAD_LP_PUT,
  CPC__KAD_LP_GET_PROVIDERS,
  CPC__KAD_LP_GET_VALUE,
};

typedef struct cpc__kad_lookup_args {
  enum cpc__kad_purpose purpose;
  const uint8_t *key; /* what goes in Message.key */
  size_t key_len;
  size_t want;          /* GET_PROVIDERS: providers; GET_VALUE: quorum */
  const uint8_t *value; /* PUT: the record value */
  size_t value_len;
  const cpc_kad_peer *seeds; /* extra first candidates (bootstrap) */
  size_t n_seeds;
  int bucket; /* REFRESH: the bucket refreshed */
  cpc_kad_done_cb cb;
  void *arg;
} cpc__kad_lookup_args;

/* Start a lookup (see the public lookup functions for the errors). */
int cpc__kad_lookup_start(cpc_kad *d, const cpc__kad_lookup_args *a,
                          uint64_t now_ms, uint64_t *lookup_id);
/* The running lookup with this id, or NULL. */
struct cpc__kad_lookup *cpc__kad_lookup_find(cpc_kad *d, uint64_t id);
/* An answer (msg decoded, or NULL with rc < 0 for a failure) to a lookup
 * request or a store request of the lookup. */
void cpc__kad_lookup_on_answer(cpc_kad *d, struct cpc__kad_lookup *lk,
                               const cpc__kad_pending *p,
                               const cpc_kad_message *msg, int rc,
                               uint64_t now_ms);
/* End lk without its callback, cancelling its requests. */
void cpc__kad_lookup_cancel(cpc_kad *d, struct cpc__kad_lookup *lk);
uint64_t cpc__kad_lookup_id(const struct cpc__kad_lookup *lk);

#endif /* CPC_KAD_INT_H */
