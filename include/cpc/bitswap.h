/*
 * cpc/bitswap.h: the Bitswap block exchange protocol (ipfs/specs
 * src/bitswap-protocol.md), versions /ipfs/bitswap/1.2.0, 1.1.0 and 1.0.0,
 * as sans-IO engines.
 *
 * Nothing here does I/O, starts timers or reads the block store itself:
 *   - messages: cpc_bitswap_message_encode / _decode (protobuf, the field
 *     numbers of upstream's message.proto), framed on a stream by an
 *     unsigned-varint length; cpc_bitswap_reader splits a stream into
 *     messages. A message is at most 4 MiB (a larger length prefix is an
 *     error: disconnect the peer), a block at most 2 MiB.
 *   - a server engine (cpc_bitswap_server) answers other peers' wantlists
 *     from a block source given as callbacks (cpc_bitswap_source);
 *   - a client engine (cpc_bitswap_client) runs sessions that fetch sets of
 *     blocks from several peers, verifying each by its hash.
 *
 * Wiring to streams (the caller, e.g. lib/net):
 *   - Both engines address peers by cpc_peer_id. For every inbound Bitswap
 *     stream, feed its bytes to a cpc_bitswap_reader; decode each message
 *     once and hand it to both cpc_bitswap_server_receive (wantlist) and
 *     cpc_bitswap_client_receive (blocks, HAVE / DONT_HAVE).
 *   - Outgoing: each engine says when it has something for a peer (on_ready
 *     callback, or poll *_next_ready); the caller opens (or reuses) an
 *     outbound stream to that peer and, each time the stream can take more,
 *     pulls one framed message (*_pull) and writes it. Engines build a
 *     message only when pulled, so what waits for a slow peer is its
 *     wantlist, never a queue of encoded blocks: at most one message
 *     (<= 4 MiB) per peer and engine is in the caller's hands at a time.
 *   - Time: the client's timeouts run on the clock given to
 *     cpc_bitswap_client_tick (milliseconds, any monotonic origin).
 *
 * Threading: none; each engine is used from one thread.
 */
#ifndef CPC_BITSWAP_H
#define CPC_BITSWAP_H

#include <stddef.h>
#include <stdint.h>

#include "cpc/cid.h"
#include "cpc/peer_id.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CPC_BITSWAP_PROTOCOL_120 "/ipfs/bitswap/1.2.0"
#define CPC_BITSWAP_PROTOCOL_110 "/ipfs/bitswap/1.1.0"
#define CPC_BITSWAP_PROTOCOL_100 "/ipfs/bitswap/1.0.0"
/* The unversioned id old go-ipfs nodes also offer; it speaks 1.0.0. */
#define CPC_BITSWAP_PROTOCOL_LEGACY "/ipfs/bitswap"

/* Largest message (protobuf bytes, without the length prefix). */
#define CPC_BITSWAP_MAX_MESSAGE (4u * 1024u * 1024u)
/* Largest block sent or accepted. */
#define CPC_BITSWAP_MAX_BLOCK (2u * 1024u * 1024u)
/*
 * Caps on one decoded message, checked before anything is allocated for
 * it: wantlist entries, blocks (1.0.0 and 1.1.0 fields together), block
 * presences, and protobuf fields of any kind at any depth (unknown fields
 * included), so that a 4 MiB message never costs more than a few MiB.
 */
#define CPC_BITSWAP_MAX_ENTRIES 16384
#define CPC_BITSWAP_MAX_BLOCKS 16384
#define CPC_BITSWAP_MAX_PRESENCES 16384
#define CPC_BITSWAP_MAX_FIELDS 131072
/* A CID prefix: four varints. */
#define CPC_BITSWAP_PREFIX_MAX (4 * 9)

enum cpc_bitswap_version {
  CPC_BITSWAP_1_0_0 = 100, /* blocks as bare bytes (CIDv0 implied) */
  CPC_BITSWAP_1_1_0 = 110, /* blocks with CID prefixes (any CID) */
  CPC_BITSWAP_1_2_0 = 120, /* want-have, HAVE / DONT_HAVE, pendingBytes */
};

/* The protocol id of v (static string), or NULL for an unknown value. */
const char *cpc_bitswap_protocol_id(enum cpc_bitswap_version v);

/*
 * The version spoken under protocol id[0..len) (not NUL-terminated; the
 * four ids above). CPC_EUNSUPPORTED for any other id.
 */
int cpc_bitswap_version_from_id(const char *id, size_t len,
                                enum cpc_bitswap_version *v);

/* ---- CID prefixes ------------------------------------------------------- */

/*
 * A CID without its digest, as Bitswap 1.1.0+ sends it before each block:
 * <version><codec><multihash code><digest length>, four varints. A CIDv0
 * has version 0, codec dag-pb, sha2-256, 32.
 */
typedef struct cpc_bitswap_prefix {
  uint64_t version;
  uint64_t codec;
  uint64_t mh_code;
  uint64_t mh_len;
} cpc_bitswap_prefix;

/* The prefix of cid. */
void cpc_bitswap_prefix_of(const cpc_cid *cid, cpc_bitswap_prefix *p);

/*
 * Encode p into out (cap bytes; CPC_BITSWAP_PREFIX_MAX is enough); *written
 * (may be NULL) gets the length. CPC_ETOOBIG if cap is short or a value is
 * >= 2^63.
 */
int cpc_bitswap_prefix_encode(const cpc_bitswap_prefix *p, uint8_t *out,
                              size_t cap, size_t *written);

/*
 * Decode a prefix that is exactly in[0..len) (borrowed). Errors:
 * CPC_ETRUNC, CPC_EMALFORMED (bad varint, trailing bytes, a version other
 * than 0 or 1, a version 0 that is not dag-pb / sha2-256 / 32).
 */
int cpc_bitswap_prefix_decode(const uint8_t *in, size_t len,
                              cpc_bitswap_prefix *p);

/*
 * The CID of block data[0..len) (borrowed) under prefix p: data is hashed
 * with p's multihash code. This is how a received block is verified: a
 * block answers a want only if the CID built here equals the CID wanted.
 * Errors: CPC_ETOOBIG (len over CPC_BITSWAP_MAX_BLOCK, checked before
 * hashing), CPC_EUNSUPPORTED (a hash this code cannot compute, or a
 * truncated sha2-256 / blake3 digest length), CPC_EMISMATCH (an identity
 * multihash whose length is not len), CPC_EMALFORMED (p as decode refuses).
 */
int cpc_bitswap_prefix_cid(const cpc_bitswap_prefix *p, const void *data,
                           size_t len, cpc_cid *cid);

/* ---- messages ----------------------------------------------------------- */

enum cpc_bitswap_want_type {
  CPC_BITSWAP_WANT_BLOCK = 0, /* send me the block */
  CPC_BITSWAP_WANT_HAVE = 1,  /* tell me whether you have it (1.2.0) */
};

typedef struct cpc_bitswap_entry {
  cpc_cid cid;
  int32_t priority;       /* higher is served first */
  uint8_t cancel;         /* 1: revokes the earlier want of cid */
  uint8_t want_type;      /* enum cpc_bitswap_want_type */
  uint8_t send_dont_have; /* 1: answer DONT_HAVE if missing (1.2.0) */
} cpc_bitswap_entry;

typedef struct cpc_bitswap_block {
  cpc_cid cid;         /* decode: built from the prefix and data's hash */
  const uint8_t *data; /* borrowed (from the decoded message, or caller's) */
  size_t len;
} cpc_bitswap_block;

typedef struct cpc_bitswap_presence {
  cpc_cid cid;
  uint8_t dont_have; /* 0: HAVE, 1: DONT_HAVE */
} cpc_bitswap_presence;

/*
 * A Bitswap message. For encoding the caller fills it (all arrays borrowed);
 * decode fills it with arrays it owns (free with cpc_bitswap_message_free).
 */
typedef struct cpc_bitswap_message {
  int full; /* the wantlist replaces the previous one */
  cpc_bitswap_entry *entries;
  size_t n_entries;
  cpc_bitswap_block *blocks;
  size_t n_blocks;
  cpc_bitswap_presence *presences;
  size_t n_presences;
  int32_t pending_bytes; /* 1.2.0: bytes the sender still has queued */
  /* decode only: items dropped from this message because they cannot be
   * used: blocks over 2 MiB, with a bad prefix or a hash we cannot compute,
   * entries and presences whose CID does not parse. */
  size_t n_dropped;
  void *priv_; /* decode's storage; NULL for caller-built messages */
} cpc_bitswap_message;

/*
 * Encode m for a peer speaking version v into a malloc'd buffer *out
 * (caller frees) of *out_len bytes: the unsigned-varint length prefix, then
 * the protobuf message, ready to write on a stream. Per version:
 *   1.0.0  blocks go in field 2 (bare bytes); want types, sendDontHave,
 *          presences and pendingBytes are left out;
 *   1.1.0  blocks go in field 3 with their CID prefix; want types,
 *          sendDontHave, presences and pendingBytes are left out;
 *   1.2.0  everything.
 * Errors: CPC_EINVAL (NULL argument, unknown version, a NULL array with a
 * non-zero count), CPC_ETOOBIG (a block over CPC_BITSWAP_MAX_BLOCK, or the
 * message over CPC_BITSWAP_MAX_MESSAGE or over the decode caps above),
 * CPC_ENOMEM.
 */
int cpc_bitswap_message_encode(const cpc_bitswap_message *m,
                               enum cpc_bitswap_version v, uint8_t **out,
                               size_t *out_len);

/*
 * Decode one message in[0..len) (borrowed; without its length prefix) into
 * *m, which owns its arrays afterwards; block data is copied, so in may go
 * once this returns. Every block is hashed here: its cid is the CID of its
 * bytes (CIDv0 for the 1.0.0 field), so comparing it with a wanted CID is
 * the verification. Unusable items are dropped and counted in n_dropped
 * (see above), the rest of the message is kept. Errors (*m is then empty,
 * nothing to free): CPC_ETOOBIG (len over CPC_BITSWAP_MAX_MESSAGE, or a
 * count over the caps above), CPC_EMALFORMED (not a valid protobuf Bitswap
 * message), CPC_ENOMEM.
 */
int cpc_bitswap_message_decode(const uint8_t *in, size_t len,
                               cpc_bitswap_message *m);

/* Free what decode allocated in m and empty it. NULL or empty m is fine. */
void cpc_bitswap_message_free(cpc_bitswap_message *m);

/* ---- framing ------------------------------------------------------------ */

/*
 * Splits the bytes of one inbound stream into messages. A plain struct the
 * caller owns; initialise with cpc_bitswap_reader_init, release with
 * cpc_bitswap_reader_free. Fields are private.
 */
typedef struct cpc_bitswap_reader {
  uint8_t hdr[10];
  size_t hdr_len;
  uint8_t *buf;  /* the message being assembled */
  uint8_t *done; /* the message last handed out, freed on the next call */
  size_t cap;    /* bytes allocated at buf (grows as data arrives) */
  size_t need;   /* its length */
  size_t have;   /* bytes of it received */
  int in_body;   /* the length prefix is read */
  int err;       /* sticky error */
} cpc_bitswap_reader;

void cpc_bitswap_reader_init(cpc_bitswap_reader *r);
void cpc_bitswap_reader_free(cpc_bitswap_reader *r);

/*
 * Consume bytes in[0..len) (borrowed) up to the end of the next complete
 * message. *used gets how many were taken; when a message is complete
 * *msg / *msg_len point at it (into in, or into r's buffer), valid until
 * the next call on r; otherwise *msg is NULL and all of in was taken. Call
 * again with the rest of in. A zero-length message is returned as a
 * non-NULL *msg of length 0. Errors (sticky): CPC_ETOOBIG (a length prefix
 * over CPC_BITSWAP_MAX_MESSAGE: disconnect the peer), CPC_EMALFORMED (a bad
 * length varint), CPC_ENOMEM.
 */
int cpc_bitswap_reader_feed(cpc_bitswap_reader *r, const uint8_t *in,
                            size_t len, size_t *used, const uint8_t **msg,
                            size_t *msg_len);

/* ---- block source ------------------------------------------------------- */

/*
 * Where the server finds blocks (e.g. cpc_blockstore: has = its size
 * function, get = its get_alloc). ud is passed back unchanged.
 */
typedef struct cpc_bitswap_source {
  /* 0 and the block's size in *size if cid's block can be served;
   * CPC_ENOENT if not; any other negative code is treated as CPC_ENOENT. */
  int (*has)(void *ud, const cpc_cid *cid, size_t *size);
  /* 0 and a malloc'd copy of the block in *data (*len bytes), which the
   * engine frees; CPC_ENOENT (or another error) if it cannot be read. The
   * engine does not re-hash what the source returns. */
  int (*get)(void *ud, const cpc_cid *cid, uint8_t **data, size_t *len);
  void *ud;
} cpc_bitswap_source;

/* ---- server ------------------------------------------------------------- */

typedef struct cpc_bitswap_server cpc_bitswap_server;

typedef struct cpc_bitswap_server_config {
  size_t max_peers;          /* ledgers kept at once (default 1024) */
  size_t max_wants_per_peer; /* wants kept per peer; more are ignored
                                (default 2048) */
  size_t message_target;     /* stop adding blocks to a message once it
                                holds this much (default 1 MiB); a block
                                bigger than that still goes, alone */
  size_t max_inline_have;    /* want-have for a block of at most this many
                                bytes is answered with the block (1.2.0;
                                default 1024, 0 disables) */
  /*
   * Super-seeding (0: off, the default). When several peers want the same
   * blocks, send each block to one of them first and let them exchange it:
   * a want-block for a block sent to another (still connected) peer less
   * than seed_window_ms ago is held instead of answered, so the peer's
   * other wants (blocks nobody got yet) go first. A held want is announced
   * with a HAVE presence (1.2.0 peers; the block follows later) so the
   * peer's client may take it from a peer that has it and cancel it here;
   * it is sent anyway once held seed_hold_ms (a peer alone with us never
   * stalls). Blocks we fetched ourselves lately are never held
   * (cpc_bitswap_server_block_fetched). Want-haves are answered as
   * always. At most max_seeded blocks
   * are remembered (the oldest are forgotten first). The clock is
   * cpc_bitswap_server_tick's.
   */
  int superseed;
  uint32_t seed_window_ms; /* default 20000 */
  uint32_t seed_hold_ms;   /* default 1500 */
  size_t max_seeded;       /* default 16384 */
  /* peer now has something to send (it had nothing before): pull when its
   * stream can take it. Called from receive / block_added / tick. May be
   * NULL. */
  void (*on_ready)(void *ud, const cpc_peer_id *peer);
  void *ud;
} cpc_bitswap_server_config;

/* Per-peer accounting, as the server sees it. */
typedef struct cpc_bitswap_ledger {
  uint64_t bytes_sent;     /* block bytes sent to the peer */
  uint64_t bytes_received; /* block bytes the peer sent us */
  uint64_t blocks_sent;
  uint64_t blocks_received;
  uint64_t haves_sent;
  uint64_t dont_haves_sent;
  uint64_t messages_received;
  uint64_t wants_ignored; /* wants over max_wants_per_peer */
  uint64_t holds;         /* want-blocks held by super-seeding */
  size_t held;            /* wants held now */
  size_t wants;           /* entries in the peer's wantlist now */
  size_t pending;         /* of which still to answer */
  uint64_t pending_bytes; /* sizes of the blocks still to send */
} cpc_bitswap_ledger;

void cpc_bitswap_server_config_default(cpc_bitswap_server_config *c);

/*
 * Create a server reading blocks from src. cfg (NULL: defaults) and src are
 * copied. Free with cpc_bitswap_server_free. Errors: CPC_EINVAL (NULL
 * out/src, a source without has or get, a zero max_peers /
 * max_wants_per_peer / message_target), CPC_ENOMEM.
 */
int cpc_bitswap_server_new(cpc_bitswap_server **out,
                           const cpc_bitswap_server_config *cfg,
                           const cpc_bitswap_source *src);

/* Free the server and every ledger. NULL is fine. */
void cpc_bitswap_server_free(cpc_bitswap_server *s);

/*
 * A message m (borrowed) arrived from peer on a stream of version v. Its
 * wantlist updates the peer's ledger (created on first use; v becomes the
 * version of our answers until cpc_bitswap_server_set_version says
 * otherwise): a want adds or updates an entry (a want-block is never
 * downgraded to want-have), a cancel removes it, a full wantlist replaces
 * the old one. Wanted blocks are looked up (src->has) now; found or
 * missing-with-DONT_HAVE entries become pending answers. Blocks in m count
 * in the ledger. Errors: CPC_EINVAL, CPC_ENOSPC (max_peers ledgers exist
 * already: drop the peer's streams), CPC_ENOMEM (the ledger may hold part of
 * the message).
 */
int cpc_bitswap_server_receive(cpc_bitswap_server *s, const cpc_peer_id *peer,
                               enum cpc_bitswap_version v,
                               const cpc_bitswap_message *m);

/* Set the version our messages to peer use (that of our outbound stream).
 * CPC_ENOENT if the peer has no ledger, CPC_EINVAL for a bad version. */
int cpc_bitswap_server_set_version(cpc_bitswap_server *s,
                                   const cpc_peer_id *peer,
                                   enum cpc_bitswap_version v);

/*
 * Build the next message for peer into a malloc'd buffer *out (caller
 * frees) of *out_len bytes, length prefix included: pending answers in
 * priority order (then arrival order), blocks read from src now, up to
 * message_target (never over CPC_BITSWAP_MAX_MESSAGE); answered entries
 * leave the wantlist, except missing ones, which wait for
 * cpc_bitswap_server_block_added. For 1.2.0 peers pendingBytes says what
 * remains. Errors: CPC_EAGAIN (nothing to send), CPC_ENOENT (no ledger),
 * CPC_ENOMEM (nothing consumed).
 */
int cpc_bitswap_server_pull(cpc_bitswap_server *s, const cpc_peer_id *peer,
                            uint8_t **out, size_t *out_len);

/*
 * The next peer with something to send, round-robin between peers: each
 * call moves the returned peer to the back. CPC_EAGAIN if none.
 */
int cpc_bitswap_server_next_ready(cpc_bitswap_server *s, cpc_peer_id *peer);

/*
 * A block became available (stored after the want arrived): peers whose
 * wantlist has cid and who were not answered get it (or HAVE) on their
 * next pull. Errors: CPC_EINVAL, CPC_ENOMEM.
 */
int cpc_bitswap_server_block_added(cpc_bitswap_server *s, const cpc_cid *cid);

/*
 * We fetched cid ourselves just now (super-seeding): for seed_window_ms it
 * is never held back, since we are one of its fetchers, not its seed (a
 * fetcher that holds blocks only slows the trading down). No-op with
 * super-seeding off. Errors: CPC_EINVAL, CPC_ENOMEM.
 */
int cpc_bitswap_server_block_fetched(cpc_bitswap_server *s,
                                     const cpc_cid *cid);

/* The peer disconnected: forget its ledger. Unknown peers are ignored. */
void cpc_bitswap_server_peer_gone(cpc_bitswap_server *s,
                                  const cpc_peer_id *peer);

/*
 * Advance the server's clock to now_ms (monotonic; smaller values are
 * ignored): forget seeded blocks older than the window and release held
 * wants whose hold is over (on_ready may fire). Call it every few hundred
 * ms when super-seeding is on. NULL s is fine.
 */
void cpc_bitswap_server_tick(cpc_bitswap_server *s, uint64_t now_ms);

typedef struct cpc_bitswap_server_stats {
  uint64_t holds;         /* want-blocks held (super-seeding) */
  uint64_t hold_released; /* held wants sent after their hold ran out */
  uint64_t hold_cancelled; /* held wants the peer cancelled */
  size_t seeded;          /* blocks remembered as sent lately */
} cpc_bitswap_server_stats;

void cpc_bitswap_server_stats_get(const cpc_bitswap_server *s,
                                  cpc_bitswap_server_stats *st);

/* Copy peer's ledger into *l. CPC_ENOENT if it has none. */
int cpc_bitswap_server_ledger(const cpc_bitswap_server *s,
                              const cpc_peer_id *peer, cpc_bitswap_ledger *l);

/* ---- client and sessions ------------------------------------------------ */

typedef struct cpc_bitswap_client cpc_bitswap_client;
typedef struct cpc_bitswap_session cpc_bitswap_session;

typedef struct cpc_bitswap_client_config {
  uint32_t have_timeout_ms;  /* a want-have unanswered this long counts as
                                a timeout (default 5000) */
  uint32_t block_timeout_ms; /* a want-block unanswered this long is asked
                                of another peer (default 15000) */
  uint32_t max_timeouts;     /* a peer with this many timeouts in a session
                                is dropped from it (default 3) */
  uint32_t max_inflight;     /* want-blocks outstanding per peer and session
                                (default 32); more wait, so the wants of a
                                session spread over the peers that have the
                                blocks, faster peers serving more */
  uint32_t max_active;       /* CIDs of a session being asked for at once
                                (default 256): bounds every peer's view of
                                our wantlist */
  size_t max_peers;          /* peers known at once (default 1024) */
  size_t max_session_wants;  /* CIDs in one session (default 65536) */
} cpc_bitswap_client_config;

/*
 * Client callbacks; any may be NULL. They fire at the end of the public
 * call that caused them (on_block while a message is processed). A
 * callback may call *_pull, *_next_ready, the stats functions, and
 * cpc_bitswap_session_free (on_done, on its own session); not
 * cpc_bitswap_client_receive / _tick / _peer_add / _peer_gone / _free.
 */
typedef struct cpc_bitswap_client_callbacks {
  /* A wanted block arrived; its bytes hash to cid (verified in decode).
   * data is borrowed for the call. Fires once per session and CID. */
  void (*on_block)(void *ud, cpc_bitswap_session *sess, void *sess_ud,
                   const cpc_cid *cid, const uint8_t *data, size_t len);
  /* The session is over: rc 0 (every block arrived), CPC_ENOENT (some block
   * no peer has: every peer said DONT_HAVE or timed out and at least one
   * said DONT_HAVE), CPC_ETIMEDOUT (every peer asked for some block timed
   * out or left). Wants are cancelled already. Free the session when
   * convenient (also from this callback). Fires from receive, tick and
   * peer_gone only. */
  void (*on_done)(void *ud, cpc_bitswap_session *sess, void *sess_ud, int rc);
  /* peer now has wantlist changes to send (it had none): pull when its
   * stream can take them. Also fires from session_new, session_add_peer
   * and session_free. */
  void (*on_ready)(void *ud, const cpc_peer_id *peer);
} cpc_bitswap_client_callbacks;

typedef struct cpc_bitswap_session_stats {
  size_t wants;    /* distinct CIDs in the session */
  size_t received; /* handed to on_block */
  size_t failed;   /* given up */
  size_t timeouts; /* want-have and want-block timeouts */
  int done;        /* on_done has fired */
  int rc;          /* its code */
} cpc_bitswap_session_stats;

typedef struct cpc_bitswap_client_stats {
  uint64_t blocks_received; /* wanted blocks */
  uint64_t blocks_unwanted; /* blocks nobody wanted (late, unsolicited or
                               forged: bytes not matching a wanted CID) */
  uint64_t blocks_dropped;  /* dropped by decode (see n_dropped) */
  uint64_t bytes_received;  /* wanted block bytes */
} cpc_bitswap_client_stats;

void cpc_bitswap_client_config_default(cpc_bitswap_client_config *c);

/*
 * Create a client. cfg (NULL: defaults) and cb are copied; ud goes to the
 * callbacks. The clock starts at 0 until the first tick. Errors:
 * CPC_EINVAL (NULL out/cb, zero timeouts, max_inflight, max_peers or
 * max_session_wants), CPC_ENOMEM.
 */
int cpc_bitswap_client_new(cpc_bitswap_client **out,
                           const cpc_bitswap_client_config *cfg,
                           const cpc_bitswap_client_callbacks *cb, void *ud);

/* Free the client, its peers and its sessions (no callbacks). NULL ok. */
void cpc_bitswap_client_free(cpc_bitswap_client *c);

/*
 * peer is connected and speaks v (the version of our outbound stream). A
 * known peer gets its version updated. Sessions created later use it;
 * running sessions only if given it (cpc_bitswap_session_add_peer).
 * Errors: CPC_EINVAL, CPC_ENOSPC (max_peers), CPC_ENOMEM.
 */
int cpc_bitswap_client_peer_add(cpc_bitswap_client *c, const cpc_peer_id *peer,
                                enum cpc_bitswap_version v);

/*
 * peer disconnected: everything asked of it counts as timed out and is
 * asked elsewhere; its queued wantlist changes are dropped. May fire
 * on_done. Unknown peers are ignored.
 */
void cpc_bitswap_client_peer_gone(cpc_bitswap_client *c,
                                  const cpc_peer_id *peer);

/*
 * A message m (borrowed) arrived from peer: wanted blocks go to their
 * sessions (on_block) and are cancelled with the other peers; HAVE and
 * DONT_HAVE steer who is asked for what. May fire on_block, on_done and
 * on_ready. Messages from unknown peers only count their blocks (a block
 * from them is still accepted if wanted). Errors: CPC_EINVAL, CPC_ENOMEM.
 */
int cpc_bitswap_client_receive(cpc_bitswap_client *c, const cpc_peer_id *peer,
                               const cpc_bitswap_message *m);

/*
 * Build the next wantlist update for peer into a malloc'd *out (caller
 * frees) of *out_len bytes, length prefix included. Errors: CPC_EAGAIN
 * (nothing to send), CPC_ENOENT (unknown peer), CPC_ENOMEM.
 */
int cpc_bitswap_client_pull(cpc_bitswap_client *c, const cpc_peer_id *peer,
                            uint8_t **out, size_t *out_len);

/* The next peer with changes to send, round-robin. CPC_EAGAIN if none. */
int cpc_bitswap_client_next_ready(cpc_bitswap_client *c, cpc_peer_id *peer);

/*
 * Advance the clock to now_ms (monotonic; smaller values are ignored) and
 * act on timeouts: may fire on_done and on_ready. Call it at least every
 * few hundred ms while sessions run (cpc_bitswap_client_next_deadline
 * says when it is next needed).
 */
void cpc_bitswap_client_tick(cpc_bitswap_client *c, uint64_t now_ms);

/* The earliest time a tick has work to do into *when_ms; CPC_ENOENT if no
 * timer is running. */
int cpc_bitswap_client_next_deadline(const cpc_bitswap_client *c,
                                     uint64_t *when_ms);

void cpc_bitswap_client_stats_get(const cpc_bitswap_client *c,
                                  cpc_bitswap_client_stats *st);

/*
 * Start a session fetching cids[0..n) (copied; duplicates count once) from
 * peers[0..n_peers) (copied; must be known to the client), or, with
 * n_peers 0, from every known peer. Want-haves (want-blocks for 1.0.0 and
 * 1.1.0 peers, which cannot answer want-have) are queued at once; only
 * on_ready fires from here. A session with no peers waits for
 * cpc_bitswap_session_add_peer and fails with CPC_ETIMEDOUT after
 * have_timeout_ms. sess_ud goes to the callbacks. *out is freed with
 * cpc_bitswap_session_free. Errors: CPC_EINVAL (NULL argument, n 0),
 * CPC_ENOENT (a peer the client does not know), CPC_ETOOBIG (n over
 * max_session_wants), CPC_ENOMEM.
 */
int cpc_bitswap_session_new(cpc_bitswap_client *c, const cpc_cid *cids,
                            size_t n, const cpc_peer_id *peers, size_t n_peers,
                            void *sess_ud, cpc_bitswap_session **out);

/*
 * Ask peer too (e.g. a provider found later). Wants not yet satisfied are
 * sent to it. Errors: CPC_EINVAL, CPC_ENOENT (unknown peer), CPC_ESTATE
 * (session over), CPC_ENOMEM. Adding a peer twice is a no-op.
 */
int cpc_bitswap_session_add_peer(cpc_bitswap_session *sess,
                                 const cpc_peer_id *peer);

/* End the session: its outstanding wants are cancelled (queued for the
 * peers; on_ready may fire). NULL is fine. */
void cpc_bitswap_session_free(cpc_bitswap_session *sess);

void cpc_bitswap_session_stats_get(const cpc_bitswap_session *sess,
                                   cpc_bitswap_session_stats *st);

/* Blocks of this session that peer delivered (0 for a peer not in it). */
size_t cpc_bitswap_session_peer_blocks(const cpc_bitswap_session *sess,
                                       const cpc_peer_id *peer);

#ifdef __cplusplus
}
#endif

#endif /* CPC_BITSWAP_H */
