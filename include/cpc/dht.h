/*
 * cpc/dht.h: the Kademlia DHT (cpc/kad.h) wired to a libp2p host
 * (cpc/net.h). Enable it on the builder:
 *
 *   cpc_net_builder_with_kademlia(b, CPC_NET_KAD_SERVER, seeds, n_seeds);
 *   cpc_net_builder_build(b, &net);
 *   cpc_dht *dht = cpc_net_dht(net);
 *   cpc_dht_on_joined(dht, joined, ud);          optional
 *   cpc_kad_find_providers(cpc_dht_kad(dht), mh, mh_len, 0,
 *                          cpc_dht_now_ms(), done, ud, NULL);
 *
 * What the service does for the sans-IO core (the contract at the top of
 * cpc/kad.h):
 *  - outbound requests: each on a new /ipfs/kad/1.0.0 stream, over an
 *    open connection to the peer or a new one dialed through the peer's
 *    addresses (those the request names, then those of the host's peer
 *    store; /ip4|ip6/A/tcp/P only), one address after the other until one
 *    connects. The answer is read with the caps of cpc/kad.h (a frame over
 *    CPC_KAD_MAX_MESSAGE resets the stream) and handed to the core from
 *    the stream callback; failures (dial, negotiation, reset, EOF before a
 *    whole frame) are reported the same way.
 *  - inbound (server mode only): every framed request on a stream is
 *    answered in order on the same stream; a request the core refuses, or
 *    an oversized frame, resets the stream.
 *  - peers: when identify on a connection finishes and the peer lists
 *    /ipfs/kad/1.0.0, it is offered to the routing table with the listen
 *    addresses it announced.
 *  - time: a timer calls cpc_kad_tick at cpc_kad_next_wakeup (at most a
 *    second apart); times are wall-clock milliseconds (cpc_dht_now_ms).
 *  - our addresses: the host's listen addresses (cpc_net_listen_addrs,
 *    without /p2p/), set when the service starts.
 *  - joining: at start the core bootstraps from the builder's seeds (their
 *    addresses also go to the host's peer store); cpc_dht_on_joined tells
 *    when that first lookup is over.
 *
 * Lifetime: the service belongs to the host; it is created by
 * cpc_net_builder_build and freed by cpc_net_close (lookups still running
 * end without their callbacks). Threading: the host's loop thread only.
 */
#ifndef CPC_DHT_H
#define CPC_DHT_H

#include <stddef.h>
#include <stdint.h>

#include "cpc/kad.h"
#include "cpc/net.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cpc_dht cpc_dht;

/* The DHT of net, or NULL when the builder did not enable it. */
cpc_dht *cpc_net_dht(const cpc_net *net);

/* The sans-IO core, for lookups, stores and the routing table (borrowed;
 * valid as long as the host). Pass cpc_dht_now_ms() as now_ms. */
cpc_kad *cpc_dht_kad(cpc_dht *d);

/* Milliseconds since the Unix epoch (the clock the core runs on). */
uint64_t cpc_dht_now_ms(void);

/*
 * rc 0: the bootstrap lookup is over and the routing table is not empty
 * (or there were no seeds); CPC_ENOENT: no seed answered and the table is
 * empty (the core retries every minute by itself).
 */
typedef void (*cpc_dht_joined_cb)(cpc_dht *d, int rc, void *ud);

/*
 * Call cb(d, rc, ud) once, from the loop, when the join at start is over
 * (at once, i.e. from the next loop iteration, if it already is). Replaces
 * an earlier callback that has not run. 0, or CPC_ECLOSED (host closing).
 */
int cpc_dht_on_joined(cpc_dht *d, cpc_dht_joined_cb cb, void *ud);

/*
 * Re-read the host's listen addresses into the core (e.g. after learning
 * an address). 0, CPC_ENOMEM.
 */
int cpc_dht_refresh_self_addrs(cpc_dht *d);

/*
 * Outbound requests still under way (dialing, waiting for an answer, or an
 * ADD_PROVIDER whose stream is still negotiating). A process that wants its
 * announcements delivered waits for 0 before cpc_net_close(), which resets
 * what is left.
 */
size_t cpc_dht_requests_in_flight(const cpc_dht *d);

/* Counters since start. */
typedef struct cpc_dht_stats {
  uint64_t requests;   /* outbound requests handed to the service */
  uint64_t answered;   /* outbound requests answered */
  uint64_t failed;     /* outbound requests failed (dial, stream...) */
  uint64_t dials;      /* connection attempts made for requests */
  uint64_t served;     /* inbound requests answered */
  uint64_t refused;    /* inbound streams reset (bad request, caps) */
  uint64_t peers_seen; /* identified peers offered to the routing table */
} cpc_dht_stats;

void cpc_dht_get_stats(const cpc_dht *d, cpc_dht_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* CPC_DHT_H */
