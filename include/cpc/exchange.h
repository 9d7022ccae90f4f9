/*
 * cpc/exchange.h: the Bitswap service: the sans-IO engines of cpc/bitswap.h
 * wired to a libuv libp2p host (cpc/net.h) and a block store
 * (cpc/blockstore.h).
 *
 *   cpc_exchange *ex;
 *   cpc_exchange_new(loop, net, bs, NULL, &ex);      serves bs from here on
 *   ... host events: on_conn_close -> cpc_exchange_conn_closed(ex, conn)
 *   cpc_exchange_fetch_start(ex, cids, n, addrs, n_addrs, NULL, 0, &cb, ud,
 *                            &f);               dial, fetch, verify, store
 *   ... cb.on_done(ud, rc): cpc_exchange_fetch_free(f)
 *   cpc_exchange_close(ex, on_closed, ud);      before cpc_net_close()
 *
 * Server: /ipfs/bitswap/1.2.0, 1.1.0, 1.0.0 (and the unversioned
 * /ipfs/bitswap) are handled. Each inbound stream is split into messages;
 * wantlists go to the server engine, blocks and presences to the client
 * engine. Answers go out on one outbound stream per peer, opened when
 * there is something to send (1.2.0 is tried first, then 1.1.0, then
 * 1.0.0) and fed by the engines' pull API as the stream drains, so a slow
 * peer costs its wantlist, never a queue of blocks. A length prefix over
 * 4 MiB closes the sender's connection; a message that does not decode
 * resets its stream.
 *
 * Client: a fetch runs one Bitswap session over the given providers; every
 * block is verified by its hash (in the message decoder) before it is
 * stored (without hashing it again: CPC_BLOCKSTORE_PUT_VERIFIED) or handed
 * out, and a block nobody wanted is dropped.
 *
 * Super-seeding and swarming (cfg.superseed, on by default; see
 * docs/adr/0004-super-seeding.md). When several peers fetch the same
 * content from us, each block goes to one of them first and they trade
 * the rest among themselves, as BitTorrent's super-seeding does:
 *   - serving: a want-block for a block we sent to another connected peer
 *     less than server.seed_window_ms ago is held (the peer is told HAVE)
 *     while blocks nobody has yet are served, and sent anyway after
 *     server.seed_hold_ms, so a fetcher alone with us never stalls; a
 *     block we fetched ourselves lately is never held: we are one of its
 *     fetchers (cpc/bitswap.h, cpc_bitswap_server_config.superseed);
 *   - fetching: the session moves a held want to another peer that said
 *     HAVE. Fetchers of the same content find each other two ways: a peer
 *     that asks us for a block of a running fetch of ours joins that
 *     fetch as a provider (we also answer its wants from what we already
 *     have: every fetch stores into the served block store); and, when
 *     the host runs the DHT (cpc_net_dht) and the exchange has a store,
 *     a fetch announces itself as a provider of its swarm key (its first
 *     CID, or cpc_exchange_fetch_swarm_key) once it holds a block of the
 *     fetch, and looks that key's providers up at start and every
 *     swarm_lookup_ms while it runs, dialing up to max_swarm_peers of
 *     them into the fetch. Fetched blocks stay served after the fetch
 *     ends, as long as they are in the store.
 * A fetch of a single CID does not swarm. With superseed 0 the exchange
 * is plain Bitswap: every want is answered
 * at once and a fetch asks only the providers it was given.
 *
 * Host events: the host has one set of event callbacks, owned by the
 * application. Its on_conn_close MUST call cpc_exchange_conn_closed()
 * (the exchange keeps connection pointers, which die with that callback).
 *
 * Threading: none; the loop's thread only. Callbacks never run from inside
 * the cpc_exchange_* call that caused them.
 */
#ifndef CPC_EXCHANGE_H
#define CPC_EXCHANGE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "cpc/bitswap.h"
#include "cpc/blockstore.h"
#include "cpc/cid.h"
#include "cpc/multiaddr.h"
#include "cpc/net.h"
#include "cpc/peer_id.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cpc_exchange cpc_exchange;
typedef struct cpc_exchange_fetch cpc_exchange_fetch;

typedef struct cpc_exchange_config {
  /* Engine settings (their on_ready / ud fields are ignored, and
   * server.superseed is set from superseed below). */
  cpc_bitswap_server_config server;
  cpc_bitswap_client_config client;
  uint32_t tick_ms; /* clock for the engines' timeouts (default 100) */
  int superseed;    /* super-seeding and swarming (default 1; see top) */
  int superseed_serve; /* with superseed: the serving side, holding wants
                          for blocks lately sent to another peer (default
                          1). A PDS turns it off: the nodes that replicate
                          its content are each told to pull every block
                          from it, and do not trade among themselves. */
  int cache_fetched;   /* fetched blocks are stored as a cache, written
                          behind (CPC_BLOCKSTORE_PUT_CACHE; default 0: a
                          plain put). A PDS sets it: what it fetches for
                          reading can be fetched again. */
  uint32_t swarm_lookup_ms; /* DHT provider lookups of a running fetch
                               (default 2000) */
  size_t max_swarm_peers;   /* peers one fetch takes in by swarming
                               (default 16) */
} cpc_exchange_config;

void cpc_exchange_config_default(cpc_exchange_config *c);

/*
 * Start the Bitswap service on net (borrowed; it must outlive the
 * exchange), whose loop is loop (borrowed), serving and storing into bs
 * (borrowed; may be NULL: nothing is served and fetched blocks only go to
 * on_block). cfg (NULL: defaults) is copied. Registers the Bitswap protocol
 * handlers on net. Free with cpc_exchange_close(). Errors: CPC_EINVAL (NULL
 * loop/net/out, a zero tick, a bad engine setting), CPC_ETOOBIG (no room for
 * the handlers), CPC_ENOMEM.
 */
int cpc_exchange_new(uv_loop_t *loop, cpc_net *net, cpc_blockstore *bs,
                     const cpc_exchange_config *cfg, cpc_exchange **out);

/*
 * Stop: unregister the handlers, reset every Bitswap stream, end every
 * fetch (no callback fires for them; free them first if you hold them: a
 * fetch handle is invalid after this call), then free ex and call cb(ud)
 * (cb may be NULL) from a later loop iteration. Call it before closing
 * the host. NULL ex is fine.
 */
void cpc_exchange_close(cpc_exchange *ex, void (*cb)(void *ud), void *ud);

/* conn (an open connection of the host) is gone: call this from the
 * host's on_conn_close. Forgets what the peer was told and asked for
 * (running fetches re-ask other providers). NULL ex is fine. */
void cpc_exchange_conn_closed(cpc_exchange *ex, cpc_net_conn *conn);

/*
 * Counters of the service (both engines together); bytes_out is our
 * Bitswap egress.
 */
typedef struct cpc_exchange_stats {
  uint64_t messages_in, messages_out; /* Bitswap messages, both ways */
  uint64_t bytes_in, bytes_out;       /* their bytes (length prefixes too) */
  uint64_t blocks_received, bytes_received; /* client: wanted blocks */
  uint64_t blocks_unwanted; /* unsolicited, late or forged blocks dropped */
  uint64_t blocks_dropped;  /* dropped by the decoder (bad prefix, size) */
  uint64_t bad_messages;    /* undecodable: stream reset */
  uint64_t oversized;       /* length prefix over 4 MiB: connection closed */
  uint64_t store_errors;    /* fetched blocks the store refused */
  uint64_t holds;           /* want-blocks held by super-seeding */
  uint64_t hold_released;   /* of which sent after their hold ran out */
  uint64_t swarm_peers;     /* providers fetches took in by swarming */
  uint64_t swarm_lookups;   /* DHT provider lookups started */
  size_t peers;             /* peers with state now */
} cpc_exchange_stats;

void cpc_exchange_stats_get(const cpc_exchange *ex, cpc_exchange_stats *st);

/* ---- fetching --------------------------------------------------------- */

typedef struct cpc_exchange_fetch_callbacks {
  /* A block of the fetch, verified against cid (and stored, if the
   * exchange has a store). data is borrowed for the call. Fires once per
   * distinct CID; blocks already in the store come first. May be NULL.
   * It must not call cpc_exchange_close or cpc_exchange_fetch_free. */
  void (*on_block)(void *ud, const cpc_cid *cid, const uint8_t *data,
                   size_t len);
  /*
   * The fetch is over: rc 0 (every block arrived), CPC_ENOENT (a block
   * every provider that answered said it does not have), CPC_ETIMEDOUT
   * (providers stopped answering, or left), CPC_EIO (no provider could be
   * reached: cpc_exchange_fetch_stats says why), CPC_EUNSUPPORTED (no
   * provider speaks Bitswap), CPC_ENOSPC (the store is full), another
   * store error. Free the fetch from here or later. Never NULL.
   */
  void (*on_done)(void *ud, int rc);
} cpc_exchange_fetch_callbacks;

typedef struct cpc_exchange_fetch_stats {
  size_t wants;       /* distinct CIDs */
  size_t received;    /* handed to on_block (from_store included) */
  size_t from_store;  /* already in the store */
  size_t providers;   /* providers given, and taken in by swarming */
  size_t swarm;       /* of which taken in by swarming */
  size_t connected;   /* providers whose Bitswap stream opened */
  size_t failed;      /* providers that could not be reached or used */
  int provider_error; /* the first provider's failure (a CPC_E* code, as
                         cpc_net_dial reports it), or 0 */
  size_t timeouts;    /* session timeouts so far */
  int done, rc;
} cpc_exchange_fetch_stats;

/*
 * Fetch cids[0..n) (copied; duplicates count once) from the providers:
 * addrs[0..n_addrs) (copied; /ip4|ip6/A/tcp/P[/p2p/ID], dialed, reusing an
 * open connection to that PeerId) and peers[0..n_peers) (copied; peers
 * connected already). With no provider at all, every peer whose Bitswap
 * stream is open is asked. Blocks in the store are delivered from it.
 * cb (copied) and ud are the fetch's; on_done fires exactly once unless
 * the fetch is freed first. *out is freed with cpc_exchange_fetch_free.
 * Errors (no callback then): CPC_EINVAL (NULL argument, n 0, no on_done),
 * CPC_ETOOBIG (n over the client's max_session_wants), CPC_ECLOSED (ex
 * closing), CPC_ENOMEM.
 */
int cpc_exchange_fetch_start(cpc_exchange *ex, const cpc_cid *cids, size_t n,
                             const cpc_multiaddr *addrs, size_t n_addrs,
                             const cpc_peer_id *peers, size_t n_peers,
                             const cpc_exchange_fetch_callbacks *cb, void *ud,
                             cpc_exchange_fetch **out);

/*
 * Name the swarm of f (super-seeding; see top): the key it announces and
 * looks up on the DHT, by default its first CID. Give the content's id
 * when f fetches some of its chunks, so that every fetcher of the content
 * meets, whatever it has already. key is copied. Call it before the loop
 * runs again after cpc_exchange_fetch_start. Errors: CPC_EINVAL (NULL),
 * CPC_ESTATE (f has started).
 */
int cpc_exchange_fetch_swarm_key(cpc_exchange_fetch *f, const cpc_cid *key);

/* Cancel (if running: its wants are cancelled at the peers; no callback
 * fires) and free f. NULL is fine. */
void cpc_exchange_fetch_free(cpc_exchange_fetch *f);

void cpc_exchange_fetch_stats_get(const cpc_exchange_fetch *f,
                                  cpc_exchange_fetch_stats *st);

/* 1 if cid (one of the fetch's) has been delivered, else 0. */
int cpc_exchange_fetch_has(const cpc_exchange_fetch *f, const cpc_cid *cid);

#ifdef __cplusplus
}
#endif

#endif /* CPC_EXCHANGE_H */
