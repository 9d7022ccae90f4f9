/*
 * cpc/kad.h: the libp2p Kademlia DHT ("/ipfs/kad/1.0.0", libp2p/specs
 * kad-dht/README.md), sans-IO.
 *
 * A cpc_kad does no I/O and starts no timers. It holds the routing table
 * (k-buckets, k = 20), the provider and value stores, and the state of
 * iterative lookups, and it talks to the network through one callback
 * (cpc_kad_transport.send) plus a few entry points the host calls:
 *
 *   outbound  send(ctx, req_id, peer, framed, len, expect_response)
 *             The host opens a stream to peer (PeerId + addresses) for
 *             CPC_KAD_PROTOCOL_ID, writes framed[0..len) (already
 *             length-prefixed), and when expect_response reads one framed
 *             message back (cpc_kad_frame_parse) and reports it with
 *             cpc_kad_on_response(req_id, ...), or reports any failure
 *             (dial, negotiation, reset, EOF, oversized) with
 *             cpc_kad_on_failure(req_id, rc, ...). Without expect_response
 *             (ADD_PROVIDER) it closes the stream after writing and reports
 *             nothing. send must not call back into the cpc_kad: queue the
 *             work and report from the event loop.
 *   timeouts  cpc_kad_tick(now) fails requests that took longer than
 *             request_timeout_ms (calling transport.cancel so the host can
 *             reset the stream), refreshes buckets, republishes provider
 *             records, drops expired ones, and rejoins through the
 *             bootstrap peers when the routing table has emptied. Call it
 *             every second or at cpc_kad_next_wakeup().
 *   inbound   for each framed message read on an inbound stream:
 *             cpc_kad_handle_request(from, msg) gives the framed response
 *             to write (or none); on an error return, reset the stream.
 *             Register the protocol handler in server mode only.
 *   peers     cpc_kad_add_peer() when identify says a connected peer
 *             speaks CPC_KAD_PROTOCOL_ID (a DHT server); peers that answer
 *             our requests are added automatically.
 *
 * Keyspace: a key's position is SHA-256 of its bytes; distance is XOR.
 * Peers sit at SHA-256 of their binary PeerId (the multihash bytes);
 * provider records at SHA-256 of the content's multihash bytes (not the
 * CID: "key" in ADD_PROVIDER / GET_PROVIDERS is the multihash, as go and js
 * send it); values at SHA-256 of the record key ("/pk/…", "/cpc/…").
 *
 * Routing table: bucket i holds up to k peers whose key shares exactly i
 * leading bits with ours. Long-lived peers are preferred: when a bucket is
 * full a newcomer goes to the bucket's replacement cache, and the bucket's
 * least-recently-seen peer is pinged (if not seen for ping_after_ms); it is
 * evicted, and the newest replacement promoted, only if the ping fails.
 * A peer that fails max_failures requests in a row is evicted the same way.
 *
 * Lookups: iterative, at most alpha requests in flight, seeded with the k
 * closest peers of the routing table (and bootstrap peers). A lookup ends
 * when the k closest peers it has heard of (failed ones excluded) have all
 * answered, or when nothing is left to ask; GET_PROVIDERS and GET_VALUE
 * lookups end sooner once enough providers / records are in. Hops: every
 * candidate carries the depth at which it was learned (peers from the
 * routing table: 1; peers named in a depth-d response: d + 1), so
 * stats.hops is the length of the request chain that produced the result.
 *
 * Values: PUT_VALUE / GET_VALUE records are validated by namespace:
 *   /pk/<PeerId bytes>  value is a libp2p PublicKey protobuf whose PeerId is
 *                       the key's PeerId (as go and js check it).
 *   /cpc/<PeerId bytes>[/<name>]  value is a cpc.kad.v1.SignedValue
 *                       (proto/cpc/kad/v1/signed_value.proto): owner_key
 *                       (PublicKey protobuf), payload, seq, signature. Valid
 *                       when owner_key's PeerId is the key's PeerId and the
 *                       signature verifies over
 *                         "cpc-kad-record:" || uvarint(len key) || key ||
 *                         uvarint(len payload) || payload || seq (u64 BE).
 *                       Of two valid records the higher seq wins; a stored
 *                       record is replaced only by a higher seq (the same
 *                       seq with the same bytes just refreshes it).
 * Other namespaces are refused (CPC_EUNSUPPORTED).
 *
 * Caps: a framed message is at most CPC_KAD_MAX_MESSAGE bytes; keys
 * CPC_KAD_MAX_KEY, values CPC_KAD_MAX_VALUE; at most CPC_KAD_MAX_PEERS peers
 * per list and CPC_KAD_MAX_ADDRS addresses per peer are kept (more are
 * dropped, as are addresses we cannot parse); the stores have the caps of
 * cpc_kad_config.
 *
 * Times: every now_ms is milliseconds since the Unix epoch (it also
 * stamps Record.timeReceived). Tests pass made-up times.
 * Threading: none; one cpc_kad is used from one thread.
 */
#ifndef CPC_KAD_H
#define CPC_KAD_H

#include <stddef.h>
#include <stdint.h>

#include "cpc/keys.h"
#include "cpc/multiaddr.h"
#include "cpc/peer_id.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CPC_KAD_PROTOCOL_ID "/ipfs/kad/1.0.0"
#define CPC_KAD_K 20
#define CPC_KAD_ALPHA 3
#define CPC_KAD_KEY_LEN 32 /* SHA-256 */
/* Largest message (length prefix excluded) read or written. go and js
 * accept up to 4 MiB; real messages are a few KiB. */
#define CPC_KAD_MAX_MESSAGE (1024u * 1024u)
#define CPC_KAD_MAX_KEY 1024
#define CPC_KAD_MAX_VALUE (64u * 1024u)
#define CPC_KAD_MAX_PEERS 256
#define CPC_KAD_MAX_ADDRS 8

enum cpc_kad_msg_type {
  CPC_KAD_PUT_VALUE = 0,
  CPC_KAD_GET_VALUE = 1,
  CPC_KAD_ADD_PROVIDER = 2,
  CPC_KAD_GET_PROVIDERS = 3,
  CPC_KAD_FIND_NODE = 4,
  CPC_KAD_PING = 5,
};

/* ---- peers -------------------------------------------------------------- */

/*
 * A peer as the DHT passes it around: its PeerId and up to
 * CPC_KAD_MAX_ADDRS binary multiaddrs, stored back to back in addr_bytes
 * (heap, owned by the struct; NULL when n_addrs is 0). Initialise with
 * {0} or cpc_kad_peer_set(); release with cpc_kad_peer_clear(). Peers that
 * the DHT hands out in callbacks are borrowed: copy them to keep them.
 */
typedef struct cpc_kad_peer {
  cpc_peer_id id;
  size_t n_addrs;
  uint16_t addr_len[CPC_KAD_MAX_ADDRS];
  uint8_t *addr_bytes;
  int connection; /* ConnectionType as received (0 not connected .. 3) */
} cpc_kad_peer;

/*
 * Set p to id with addrs[0..n) (borrowed; only the first CPC_KAD_MAX_ADDRS
 * are kept). p must be initialised (zero or a previous set); its old
 * addresses are freed. Errors: CPC_EINVAL (an empty multiaddr),
 * CPC_ENOMEM (p is then cleared).
 */
int cpc_kad_peer_set(cpc_kad_peer *p, const cpc_peer_id *id,
                     const cpc_multiaddr *addrs, size_t n);
/* Address i of p into *out. CPC_ENOENT if i >= p->n_addrs. */
int cpc_kad_peer_addr(const cpc_kad_peer *p, size_t i, cpc_multiaddr *out);
/* Deep copy of src into dst (dst initialised; its old content freed).
 * CPC_ENOMEM. */
int cpc_kad_peer_copy(cpc_kad_peer *dst, const cpc_kad_peer *src);
/* Free p's addresses and zero it. p may be NULL. */
void cpc_kad_peer_clear(cpc_kad_peer *p);

/* ---- messages and framing ----------------------------------------------- */

/*
 * A decoded Message. Every pointer is owned by the struct (heap); free
 * with cpc_kad_message_clear(). To encode, fill the fields with borrowed
 * pointers (the encoder copies nothing and frees nothing).
 */
typedef struct cpc_kad_message {
  enum cpc_kad_msg_type type;
  int32_t cluster_level;
  uint8_t *key; /* NULL when key_len is 0 */
  size_t key_len;
  int has_record;
  uint8_t *rec_key;
  size_t rec_key_len;
  uint8_t *rec_value;
  size_t rec_value_len;
  char *rec_time; /* NUL-terminated RFC 3339 text; NULL if absent */
  cpc_kad_peer *closer;
  size_t n_closer;
  cpc_kad_peer *providers;
  size_t n_providers;
} cpc_kad_message;

/*
 * Decode one message (length prefix already removed) from in[0..len)
 * (borrowed) into *msg (overwritten, not freed first). Peers whose id is
 * not a valid PeerId, and addresses that do not parse, are skipped; lists
 * are cut at CPC_KAD_MAX_PEERS and CPC_KAD_MAX_ADDRS. Errors: CPC_ETOOBIG
 * (len over CPC_KAD_MAX_MESSAGE, a key over CPC_KAD_MAX_KEY, a value over
 * CPC_KAD_MAX_VALUE), CPC_EMALFORMED (not a Message), CPC_EUNSUPPORTED (a
 * type above PING), CPC_ENOMEM. On error *msg is left zeroed.
 */
int cpc_kad_message_decode(const uint8_t *in, size_t len, cpc_kad_message *msg);
/*
 * Encode msg as a framed message (uvarint length || protobuf) into a new
 * buffer *out (malloc; the caller frees) of *out_len bytes. Peers are
 * written with their PeerId and addresses. Errors: CPC_ETOOBIG (over
 * CPC_KAD_MAX_MESSAGE or a cap above), CPC_EINVAL (a type above PING),
 * CPC_ENOMEM.
 */
int cpc_kad_message_encode(const cpc_kad_message *msg, uint8_t **out,
                           size_t *out_len);
/* Free what msg owns and zero it. msg may be NULL. */
void cpc_kad_message_clear(cpc_kad_message *msg);

/*
 * Find one framed message at the start of in[0..len) (stream bytes the
 * host buffered). On 0, *msg / *msg_len point inside in at the message
 * (length prefix removed) and *used is the frame's total length. Errors:
 * CPC_ETRUNC (not all there yet: read more), CPC_ETOOBIG (the prefix
 * announces more than max bytes, 0 meaning CPC_KAD_MAX_MESSAGE: reset the
 * stream), CPC_EMALFORMED (bad varint).
 */
int cpc_kad_frame_parse(const uint8_t *in, size_t len, size_t max,
                        const uint8_t **msg, size_t *msg_len, size_t *used);

/* ---- keyspace ----------------------------------------------------------- */

/* The DHT position of key[0..len): SHA-256. */
void cpc_kad_key_hash(const uint8_t *key, size_t len,
                      uint8_t out[CPC_KAD_KEY_LEN]);
/* out = a XOR b. */
void cpc_kad_distance(const uint8_t a[CPC_KAD_KEY_LEN],
                      const uint8_t b[CPC_KAD_KEY_LEN],
                      uint8_t out[CPC_KAD_KEY_LEN]);
/* Number of leading bits a and b share (0..256). */
unsigned cpc_kad_common_prefix_len(const uint8_t a[CPC_KAD_KEY_LEN],
                                   const uint8_t b[CPC_KAD_KEY_LEN]);
/* <0, 0, >0 as a is closer to, as close as, farther from target than b. */
int cpc_kad_compare_distance(const uint8_t target[CPC_KAD_KEY_LEN],
                             const uint8_t a[CPC_KAD_KEY_LEN],
                             const uint8_t b[CPC_KAD_KEY_LEN]);

/* ---- record keys and values --------------------------------------------- */

/* "/pk/" || id bytes into out (cap bytes), *len its length. CPC_ETOOBIG. */
int cpc_kad_pk_key(const cpc_peer_id *id, uint8_t *out, size_t cap,
                   size_t *len);
/*
 * "/cpc/" || owner bytes, then "/" || name when name is not NULL or empty
 * (name: NUL-terminated, borrowed). CPC_ETOOBIG over cap or
 * CPC_KAD_MAX_KEY.
 */
int cpc_kad_cpc_key(const cpc_peer_id *owner, const char *name, uint8_t *out,
                    size_t cap, size_t *len);
/*
 * Build the signed value of a /cpc/ record for key[0..key_len) (whose
 * PeerId must be owner's) carrying payload[0..payload_len) with sequence
 * number seq. *value (malloc, the caller frees) gets *value_len bytes.
 * Errors: CPC_EINVAL (key not /cpc/ or not owner's), CPC_ETOOBIG (value
 * over CPC_KAD_MAX_VALUE), CPC_ENOMEM, signing errors.
 */
int cpc_kad_cpc_value_sign(const cpc_privkey *owner, const uint8_t *key,
                           size_t key_len, const uint8_t *payload,
                           size_t payload_len, uint64_t seq, uint8_t **value,
                           size_t *value_len);
/*
 * Check a /cpc/ record and give its payload (a new malloc'd copy in
 * *payload, the caller frees; may be NULL when only checking) and seq (may
 * be NULL). Errors: CPC_EMALFORMED (bad key or value encoding),
 * CPC_EMISMATCH (owner_key is not the key's PeerId), CPC_EBADSIG,
 * CPC_EUNSUPPORTED, CPC_ETOOBIG, CPC_ENOMEM.
 */
int cpc_kad_cpc_value_open(const uint8_t *key, size_t key_len,
                           const uint8_t *value, size_t value_len,
                           uint8_t **payload, size_t *payload_len,
                           uint64_t *seq);
/*
 * Validate a record by its namespace (above). 0 if valid; CPC_EUNSUPPORTED
 * for other namespaces; CPC_EMALFORMED, CPC_EMISMATCH, CPC_EBADSIG,
 * CPC_ETOOBIG otherwise.
 */
int cpc_kad_validate_record(const uint8_t *key, size_t key_len,
                            const uint8_t *value, size_t value_len);
/*
 * Of two valid records for key, which is better: >0 if b beats a, 0 if
 * neither does (then keep a), <0 if a beats b. /cpc/: by seq; /pk/: equal.
 */
int cpc_kad_select_record(const uint8_t *key, size_t key_len, const uint8_t *a,
                          size_t a_len, const uint8_t *b, size_t b_len);

/* ---- the DHT ------------------------------------------------------------ */

typedef struct cpc_kad cpc_kad;

typedef struct cpc_kad_transport {
  /*
   * Send framed[0..len) (borrowed for the call) to `to` (borrowed) on a new
   * stream, as described at the top of this file. `to` may come without
   * addresses (a peer named so by another): use what the host knows of it
   * or fail the request. Return 0, or an error code: the request then
   * fails at once (no report needed). Called from inside the lookup
   * functions, cpc_kad_on_response/_on_failure, cpc_kad_add_peer and
   * cpc_kad_tick.
   */
  int (*send)(void *ctx, uint64_t req_id, const cpc_kad_peer *to,
              const uint8_t *framed, size_t len, int expect_response);
  /* Optional (may be NULL): the DHT no longer wants req_id's answer (it
   * timed out, or its lookup ended): reset the stream. */
  void (*cancel)(void *ctx, uint64_t req_id);
  void *ctx;
} cpc_kad_transport;

typedef struct cpc_kad_config {
  int client_mode;              /* 1: ask, never answer (default 0) */
  size_t k;                     /* bucket size and replication (20) */
  size_t alpha;                 /* requests in flight per lookup (3) */
  uint64_t request_timeout_ms;  /* one request (10 s) */
  uint64_t provider_ttl_ms;     /* provider record lifetime (48 h) */
  uint64_t republish_ms;        /* re-announce what we provide (22 h) */
  uint64_t record_ttl_ms;       /* stored value lifetime (48 h) */
  uint64_t refresh_ms;          /* refresh a bucket left idle (10 min) */
  uint64_t cleanup_ms;          /* sweep expired records (1 h) */
  uint64_t ping_after_ms;       /* ping a full bucket's LRS peer (1 min) */
  unsigned max_failures;        /* failed requests before eviction (2) */
  size_t max_provider_records;  /* all keys together (100000) */
  size_t max_providers_per_key; /* (64) */
  size_t max_records;           /* stored values (10000) */
  size_t max_lookups;           /* lookups at once (256) */
  uint64_t rng_seed;            /* refresh keys; 0: from the OS */
} cpc_kad_config;

/* Fill c with the defaults above. */
void cpc_kad_config_default(cpc_kad_config *c);

/*
 * A new DHT node with PeerId self (copied). cfg may be NULL (defaults);
 * transport is copied and send must be set. *out is freed with
 * cpc_kad_free(). Errors: CPC_EINVAL (k, alpha or send missing),
 * CPC_ENOMEM.
 */
int cpc_kad_new(const cpc_peer_id *self, const cpc_kad_config *cfg,
                const cpc_kad_transport *transport, uint64_t now_ms,
                cpc_kad **out);
/* Free everything. Lookups still running end without their callbacks;
 * requests in flight are cancelled (transport.cancel). d may be NULL. */
void cpc_kad_free(cpc_kad *d);

/* Our own listen addresses (copied; the first CPC_KAD_MAX_ADDRS kept), as
 * advertised in ADD_PROVIDER and FIND_NODE answers. CPC_ENOMEM. */
int cpc_kad_set_self_addrs(cpc_kad *d, const cpc_multiaddr *addrs, size_t n);

/*
 * A peer known to be a DHT server (copied). Returns 0 if it is in the
 * table (added or refreshed), CPC_EAGAIN if its bucket is full (it waits
 * in the replacement cache and the oldest peer may be pinged), CPC_EINVAL
 * for our own id, CPC_ENOMEM.
 */
int cpc_kad_add_peer(cpc_kad *d, const cpc_kad_peer *p, uint64_t now_ms);
/* Drop a peer (e.g. it went away for good); a replacement is promoted.
 * CPC_ENOENT if it was not in the table. */
int cpc_kad_remove_peer(cpc_kad *d, const cpc_peer_id *id);
/* Number of peers in the routing table. */
size_t cpc_kad_table_size(const cpc_kad *d);
/*
 * Up to cap peers of the routing table closest to key[0..key_len), nearest
 * first, deep-copied into out[] (the caller clears each with
 * cpc_kad_peer_clear()); *n gets the count. CPC_ENOMEM.
 */
int cpc_kad_closest_peers(const cpc_kad *d, const uint8_t *key, size_t key_len,
                          cpc_kad_peer *out, size_t cap, size_t *n);

/*
 * Answer one inbound message msg[0..len) (length prefix removed) from peer
 * `from` (the authenticated remote PeerId). *resp (malloc, the caller
 * frees and writes it) gets the framed response, or NULL when there is
 * none (ADD_PROVIDER). PUT_VALUE is answered by echoing the request, PING
 * by PING. Errors (reset the stream): CPC_ESTATE (client mode), the decode
 * errors, CPC_EINVAL (a required key or record missing, a provider key
 * that is not a multihash, a record key different from the message key),
 * CPC_EPERM (ADD_PROVIDER naming no provider but the sender: nothing
 * stored), record validation errors (CPC_EUNSUPPORTED, CPC_EMISMATCH,
 * CPC_EBADSIG, CPC_EMALFORMED), CPC_EEXIST (PUT_VALUE of a /cpc/ record
 * not newer than ours), CPC_ENOSPC (a store cap), CPC_ENOMEM.
 */
int cpc_kad_handle_request(cpc_kad *d, const cpc_peer_id *from,
                           const uint8_t *msg, size_t len, uint64_t now_ms,
                           uint8_t **resp, size_t *resp_len);

/* The answer to req_id: msg[0..len), length prefix removed. CPC_ENOENT if
 * req_id is not waiting (late or unknown: ignore it); a malformed answer
 * counts as a failure of the request and is reported (CPC_EMALFORMED...). */
int cpc_kad_on_response(cpc_kad *d, uint64_t req_id, const uint8_t *msg,
                        size_t len, uint64_t now_ms);
/* req_id failed with rc (any negative code). CPC_ENOENT if not waiting. */
int cpc_kad_on_failure(cpc_kad *d, uint64_t req_id, int rc, uint64_t now_ms);
/* Time-driven work (see the top). Returns 0 or CPC_ENOMEM. */
int cpc_kad_tick(cpc_kad *d, uint64_t now_ms);
/* The earliest time at which cpc_kad_tick has something to do. */
uint64_t cpc_kad_next_wakeup(const cpc_kad *d);

/* ---- lookups ------------------------------------------------------------ */

typedef struct cpc_kad_lookup_stats {
  size_t queried;     /* requests sent */
  size_t succeeded;   /* answers received */
  size_t failed;      /* errors and timeouts */
  unsigned hops;      /* depth of the answer that gave the result (0: local);
                         for a lookup without a result, its deepest answer */
  unsigned max_depth; /* deepest answer of the lookup */
  uint64_t started_ms, finished_ms;
} cpc_kad_lookup_stats;

/*
 * What a finished lookup hands its callback; everything is borrowed for
 * the duration of the call.
 */
typedef struct cpc_kad_result {
  uint64_t lookup_id;
  int rc; /* 0, or CPC_ENOENT (nothing found), CPC_ENOSPC (no peer took a
             record) */
  cpc_kad_lookup_stats stats;
  const cpc_kad_peer *closest; /* the closest peers that answered, nearest
                                  first (at most k) */
  size_t n_closest;
  const cpc_kad_peer *providers; /* find_providers */
  size_t n_providers;
  const cpc_kad_peer *found; /* find_peer: the peer, or NULL */
  const uint8_t *value;      /* get_value: the best valid value, or NULL */
  size_t value_len;
  size_t stored; /* provide, put_value: peers sent / accepting the record */
} cpc_kad_result;

/*
 * Called once when a lookup ends (not when it is cancelled or the DHT is
 * freed). It may start or cancel lookups; it must not free the DHT.
 */
typedef void (*cpc_kad_done_cb)(void *arg, const cpc_kad_result *res);

/*
 * Each lookup function starts a lookup and returns 0 with its id in
 * *lookup_id (may be NULL); cb (may be NULL) gets the result. cb may run
 * before the function returns (e.g. every request fails at once, or the
 * answer is local). Common errors: CPC_ENOENT (no peer to ask: the routing
 * table is empty), CPC_EAGAIN (max_lookups running), CPC_EINVAL,
 * CPC_ETOOBIG (a key or value over its cap), CPC_ENOMEM.
 */

/* FIND_NODE for a PeerId; res->found is the peer if met. */
int cpc_kad_find_peer(cpc_kad *d, const cpc_peer_id *id, uint64_t now_ms,
                      cpc_kad_done_cb cb, void *arg, uint64_t *lookup_id);
/* FIND_NODE for any key: the k closest peers (res->closest). */
int cpc_kad_get_closest(cpc_kad *d, const uint8_t *key, size_t key_len,
                        uint64_t now_ms, cpc_kad_done_cb cb, void *arg,
                        uint64_t *lookup_id);
/*
 * GET_PROVIDERS for a multihash mh[0..mh_len); ends once `want` providers
 * (0: k) are known. Providers we store count too.
 * CPC_EINVAL if mh is not a multihash.
 */
int cpc_kad_find_providers(cpc_kad *d, const uint8_t *mh, size_t mh_len,
                           size_t want, uint64_t now_ms, cpc_kad_done_cb cb,
                           void *arg, uint64_t *lookup_id);
/*
 * Announce ourselves as a provider of mh: record it locally, find the k
 * closest peers and send them ADD_PROVIDER (res->stored: how many); the
 * announcement is repeated every republish_ms until cpc_kad_stop_providing.
 * Set our addresses first (cpc_kad_set_self_addrs): js peers ignore
 * provider records without any.
 */
int cpc_kad_provide(cpc_kad *d, const uint8_t *mh, size_t mh_len,
                    uint64_t now_ms, cpc_kad_done_cb cb, void *arg,
                    uint64_t *lookup_id);
/* Stop republishing mh (our local record expires by itself). CPC_ENOENT. */
int cpc_kad_stop_providing(cpc_kad *d, const uint8_t *mh, size_t mh_len);
/*
 * GET_VALUE: the best valid record for key (res->value). Ends once
 * `quorum` valid answers are in (0: run to the end; a record we store
 * counts for one). Peers that answered with a worse record get the best
 * one back (PUT_VALUE).
 */
int cpc_kad_get_value(cpc_kad *d, const uint8_t *key, size_t key_len,
                      size_t quorum, uint64_t now_ms, cpc_kad_done_cb cb,
                      void *arg, uint64_t *lookup_id);
/*
 * PUT_VALUE: validate the record, store it locally, find the k closest
 * peers and send it to each (res->stored: how many accepted). Validation
 * errors are returned at once, as is CPC_EEXIST when we hold a record at
 * least as new (a /cpc/ seq not above ours).
 */
int cpc_kad_put_value(cpc_kad *d, const uint8_t *key, size_t key_len,
                      const uint8_t *value, size_t value_len, uint64_t now_ms,
                      cpc_kad_done_cb cb, void *arg, uint64_t *lookup_id);
/*
 * Join the network: a lookup for our own id seeded with seeds[0..n)
 * (copied, at most CPC_KAD_MAX_PEERS) and the routing table; when it ends
 * every bucket is marked for refresh on the next tick. The seeds are kept:
 * whenever the routing table is empty, cpc_kad_tick joins through them
 * again (at most once a minute).
 */
int cpc_kad_bootstrap(cpc_kad *d, const cpc_kad_peer *seeds, size_t n,
                      uint64_t now_ms, cpc_kad_done_cb cb, void *arg,
                      uint64_t *lookup_id);
/* Stop a lookup without calling its callback. CPC_ENOENT if not running. */
int cpc_kad_cancel_lookup(cpc_kad *d, uint64_t lookup_id);
/* Number of lookups running (including refreshes and republishes). */
size_t cpc_kad_lookups_running(const cpc_kad *d);

/*
 * Local stores, for the host and tests. cpc_kad_get_local_providers fills
 * out[0..cap) with deep copies of the unexpired providers of mh (caller
 * clears them), *n the count. cpc_kad_get_local_value gives a borrowed view
 * of a stored value (valid until the next call into d). CPC_ENOENT.
 */
int cpc_kad_get_local_providers(const cpc_kad *d, const uint8_t *mh,
                                size_t mh_len, uint64_t now_ms,
                                cpc_kad_peer *out, size_t cap, size_t *n);
int cpc_kad_get_local_value(const cpc_kad *d, const uint8_t *key,
                            size_t key_len, uint64_t now_ms,
                            const uint8_t **value, size_t *value_len);

#ifdef __cplusplus
}
#endif

#endif /* CPC_KAD_H */
