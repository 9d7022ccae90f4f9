/*
 * bitswap_int.h: internals shared between the files of lib/bitswap.
 */
#ifndef CPC_BITSWAP_INT_H
#define CPC_BITSWAP_INT_H

#include <stddef.h>
#include <stdint.h>

#include "cpc/bitswap.h"

/* ---- CID-keyed hash map (cid_map.c) ------------------------------------- */

/* A CID in binary form, the key of the maps below. */
typedef struct cpc__cid_key {
  uint8_t len;
  uint8_t bytes[CPC_CID_MAX_BYTES];
} cpc__cid_key;

/*
 * Intrusive node: embed it in the value struct (the map never allocates
 * or frees nodes). Keys are hashed with SipHash under a random per-map key,
 * so peers cannot choose CIDs that collide.
 */
typedef struct cpc__cid_node {
  struct cpc__cid_node *next;
  uint64_t hash;
  cpc__cid_key key;
} cpc__cid_node;

typedef struct cpc__cid_map {
  cpc__cid_node **buckets;
  size_t n_buckets; /* a power of two, or 0 before the first insert */
  size_t count;
  uint8_t seed[16];
} cpc__cid_map;

/* The key of cid. CPC_EINVAL if cid cannot be encoded. */
int cpc__cid_key_of(const cpc_cid *cid, cpc__cid_key *k);

/* CPC_ECRYPTO if libsodium cannot start. */
int cpc__cid_map_init(cpc__cid_map *m);
/* Free the bucket array; the nodes belong to the caller. */
void cpc__cid_map_fini(cpc__cid_map *m);
cpc__cid_node *cpc__cid_map_find(const cpc__cid_map *m, const cpc__cid_key *k);
/* Insert node (its key set, not present yet). CPC_ENOMEM. */
int cpc__cid_map_insert(cpc__cid_map *m, cpc__cid_node *node);
/* Remove node, which must be in m. */
void cpc__cid_map_remove(cpc__cid_map *m, cpc__cid_node *node);

/* ---- wire scan (message_scan.c) ---------------------------------------- */

struct cpc__scan_counts {
  size_t fields, entries, blocks, presences;
};

/*
 * Check the protobuf framing of a message in[0..len) and count its fields
 * (any depth), wantlist entries, blocks and presences. CPC_EMALFORMED (bad
 * framing, groups), CPC_ETOOBIG (a count over its CPC_BITSWAP_MAX_* cap).
 */
int cpc__message_scan(const uint8_t *in, size_t len,
                      struct cpc__scan_counts *c);

/* A protobuf varint (up to 10 bytes) at in[*off..len); advances *off.
 * CPC_ETRUNC, CPC_EMALFORMED. */
int cpc__pb_varint(const uint8_t *in, size_t len, size_t *off, uint64_t *v);

/* ---- wire sizes (message.c) --------------------------------------------- */

/* Room kept for the wantlist wrapper, the full flag and pendingBytes. */
#define CPC__MSG_OVERHEAD 32

/* Bytes an entry, block or presence adds to an encoded message of version
 * v (its field tag and length included). */
size_t cpc__entry_wire_size(const cpc_bitswap_entry *e,
                            enum cpc_bitswap_version v);
size_t cpc__block_wire_size(const cpc_cid *cid, size_t len,
                            enum cpc_bitswap_version v);
size_t cpc__presence_wire_size(const cpc_cid *cid);

/* 1 if v is one of the three versions. */
int cpc__version_ok(enum cpc_bitswap_version v);

/* 1 if a and b are the same peer. */
int cpc__peer_eq(const cpc_peer_id *a, const cpc_peer_id *b);

/* ---- super-seeding: blocks sent recently (seeded.c) --------------------- */

/* One block sent lately: when, and to which ledger (its serial; 0: none,
 * or the ledger is gone); or fetched by us lately. Kept oldest (last
 * touched) first. */
struct cpc__seeded_entry {
  cpc__cid_node node; /* first */
  uint64_t sent_at;
  uint64_t to;
  uint64_t fetched_at; /* if fetched */
  int fetched;
  uint64_t touched; /* the later of the two */
  struct cpc__seeded_entry *prev, *next;
};

/* A bounded table: at most cap entries (the oldest goes first), none older
 * than window_ms once cpc__seeded_expire has run. */
typedef struct cpc__seeded {
  cpc__cid_map map;
  struct cpc__seeded_entry *head, *tail; /* oldest .. newest */
  size_t cap;
  uint64_t window_ms;
} cpc__seeded;

/* CPC_ECRYPTO (see cpc__cid_map_init). */
int cpc__seeded_init(cpc__seeded *t, size_t cap, uint64_t window_ms);
void cpc__seeded_fini(cpc__seeded *t);
/* k was sent to ledger `to` at now (it becomes the newest entry). A full
 * table drops its oldest entry first. CPC_ENOMEM (nothing recorded). */
int cpc__seeded_note(cpc__seeded *t, const cpc__cid_key *k, uint64_t to,
                     uint64_t now);
/* We fetched k at now. CPC_ENOMEM (nothing recorded). */
int cpc__seeded_fetched(cpc__seeded *t, const cpc__cid_key *k, uint64_t now);
/* 1 if k went to a live ledger other than `to` less than window_ms ago,
 * and we did not fetch it ourselves less than window_ms ago. */
int cpc__seeded_elsewhere(const cpc__seeded *t, const cpc__cid_key *k,
                          uint64_t to, uint64_t now);
/* Drop entries older than window_ms. */
void cpc__seeded_expire(cpc__seeded *t, uint64_t now);
/* Ledger `to` is gone: its entries no longer count. */
void cpc__seeded_forget(cpc__seeded *t, uint64_t to);

#endif /* CPC_BITSWAP_INT_H */
