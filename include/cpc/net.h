/*
 * cpc/net.h: the libp2p-compatible network host (DESIGN.md section 5):
 * TCP connections upgraded with multistream-select, Noise and Yamux,
 * protocol streams, identify, ping, a connection manager and a peer store,
 * all driven by a libuv loop the caller owns.
 *
 *   cpc_net_builder *b;  cpc_net *net;
 *   cpc_net_builder_new(loop, &b);
 *   cpc_net_builder_with_tcp(b);
 *   cpc_net_builder_listen(b, &ma);            (any number; optional)
 *   cpc_net_builder_build(b, &net);            listening from here on
 *   cpc_net_builder_free(b);
 *   cpc_net_handle(net, "/my/proto/1.0.0", on_stream, ud);
 *   cpc_net_dial(net, &ma, on_dialed, ud);
 *   uv_run(loop, UV_RUN_DEFAULT);
 *   ... cpc_net_close(net, on_closed, ud);     frees net asynchronously
 *
 * Built in: identify (/ipfs/id/1.0.0, run on every new connection, and
 * /ipfs/id/push/1.0.0), ping (/ipfs/ping/1.0.0) and echo (/cpc/echo/1.0.0).
 *
 * Signals: libuv does not ignore SIGPIPE; a process using this host should
 * (signal(SIGPIPE, SIG_IGN)), or a peer that vanishes can kill it.
 *
 * Threading: none. Every function must be called on the loop's thread.
 * Callbacks run from libuv callbacks of that loop, never from inside the
 * cpc_net_* call that caused them, except where a comment says otherwise.
 *
 * Handle lifetimes:
 *  - cpc_net: from build until the close callback.
 *  - cpc_net_conn: handed out by the dial callback, on_conn_open and
 *    cpc_net_stream_conn(); valid until on_conn_close returns.
 *  - cpc_net_stream: valid until its final callback (on_close) returns, or
 *    until the caller gives it up with cpc_net_stream_close() or
 *    cpc_net_stream_reset() (after which no callback names it again).
 */
#ifndef CPC_NET_H
#define CPC_NET_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "cpc/keys.h"
#include "cpc/multiaddr.h"
#include "cpc/peer_id.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CPC_NET_IDENTIFY_PROTOCOL "/ipfs/id/1.0.0"
#define CPC_NET_IDENTIFY_PUSH_PROTOCOL "/ipfs/id/push/1.0.0"
#define CPC_NET_PING_PROTOCOL "/ipfs/ping/1.0.0"
#define CPC_NET_ECHO_PROTOCOL "/cpc/echo/1.0.0"
#define CPC_NET_DEFAULT_AGENT "cpc/0.1.0"
#define CPC_NET_PROTOCOL_VERSION "ipfs/0.1.0"

/* Longest protocol id a handler may register (multistream's cap). */
#define CPC_NET_MAX_PROTOCOL_LEN 1023
/* Most handlers (built-in ones included). */
#define CPC_NET_MAX_HANDLERS 64
/* Most addresses a host listens on. */
#define CPC_NET_MAX_LISTEN 16

typedef struct cpc_net cpc_net;
typedef struct cpc_net_builder cpc_net_builder;
typedef struct cpc_net_conn cpc_net_conn;
typedef struct cpc_net_stream cpc_net_stream;

/* Connection manager limits; start from cpc_net_limits_default(). */
typedef struct cpc_net_limits {
  size_t max_connections;        /* open + upgrading, both ways (1024); at
                                    the limit the connection idle longest
                                    (no streams) is closed to make room,
                                    else new ones are refused */
  size_t max_streams_per_conn;   /* yamux streams per connection (1024) */
  size_t max_pending_inbound;    /* inbound streams still negotiating (64) */
  uint64_t idle_timeout_ms;      /* close a connection without streams (60 s;
                                    0: never) */
  uint64_t keepalive_ms;         /* a yamux ping on a connection the peer has
                                    been silent on this long; no byte back
                                    within as long again closes it with
                                    CPC_ETIMEDOUT (30 s; 0: never) */
  uint64_t handshake_timeout_ms; /* TCP accept/connect to yamux (10 s) */
  uint64_t dial_timeout_ms;      /* TCP connect (10 s) */
  uint64_t stream_negotiation_timeout_ms; /* multistream on a stream (10 s) */
  size_t max_preupgrade_bytes; /* bytes read before yamux runs (256 KiB) */
  size_t stream_write_queue;   /* per-stream write queue limit (256 KiB) */
  size_t max_conn_output;      /* unsent bytes per connection before it is
                                  dropped as not reading (8 MiB) */
  size_t max_host_socket_output; /* bytes handed to all sockets and not yet
                                    written, over which each connection
                                    keeps one write of at most 256 KiB in
                                    flight (64 MiB; bounds the memory of
                                    serving many slow readers) */
  uint64_t backoff_base_ms;    /* first dial backoff after a failure (1 s) */
  uint64_t backoff_max_ms;     /* backoff cap (5 min) */
  size_t max_peers;            /* peer store entries (4096) */
  uint64_t upload_bps;         /* host-wide cap on bytes written to all
                                  connections per second, token bucket with
                                  a burst of at most 1/4 s of rate (now
                                  1/10 s; handshakes count too; 0:
                                  unlimited) */
  uint64_t download_bps;       /* host-wide cap on bytes read per second
                                  (reading pauses when the bucket is empty;
                                  0: unlimited) */
} cpc_net_limits;

void cpc_net_limits_default(cpc_net_limits *l);

/* Bytes the host has moved over TCP since it was built (all connections,
 * handshakes included), for metrics. */
typedef struct cpc_net_traffic {
  uint64_t bytes_sent;
  uint64_t bytes_received;
  size_t connections; /* open now */
  size_t socket_output; /* bytes handed to sockets, not yet written */
} cpc_net_traffic;

/* Host-level events; any may be NULL. */
typedef struct cpc_net_events {
  /* A connection finished its upgrade (both directions). */
  void (*on_conn_open)(cpc_net *net, cpc_net_conn *conn, void *ud);
  /* A connection that was open is gone; reason is 0 for a local close,
   * else a CPC_E* code (CPC_ECLOSED: the peer closed, CPC_ETIMEDOUT: idle,
   * CPC_EIO, CPC_EPROTO...). conn is invalid after the return. */
  void (*on_conn_close)(cpc_net *net, cpc_net_conn *conn, int reason, void *ud);
  /* Identify on conn finished: status 0 and the peer store updated, or a
   * negative code (the remote did not answer, lied about its key...). */
  void (*on_identify)(cpc_net *net, cpc_net_conn *conn, int status, void *ud);
  /* The peer on conn pushed a new identify (/ipfs/id/push/1.0.0: its
   * protocols or addresses changed) and the peer store holds it. A push
   * that fails to decode or verify is dropped without an event. */
  void (*on_identify_push)(cpc_net *net, cpc_net_conn *conn, void *ud);
} cpc_net_events;

/* --- builder --------------------------------------------------------- */

/*
 * A builder for a host on loop (borrowed: it must outlive the host).
 * *out is freed with cpc_net_builder_free(). CPC_ENOMEM, CPC_EINVAL.
 */
int cpc_net_builder_new(uv_loop_t *loop, cpc_net_builder **out);

/* Free b (wiping its identity key). NULL ok. Built hosts are unaffected. */
void cpc_net_builder_free(cpc_net_builder *b);

/* Add the TCP transport (IPv4 and IPv6). Returns 0. */
int cpc_net_builder_with_tcp(cpc_net_builder *b);

/*
 * Transports and services that do not exist yet: each returns
 * CPC_EUNSUPPORTED and sets cpc_net_builder_error() to a sentence saying
 * so; the builder stays usable.
 */
int cpc_net_builder_with_quic(cpc_net_builder *b);
int cpc_net_builder_with_gossipsub(cpc_net_builder *b);

/* Kademlia modes: a server answers /ipfs/kad/1.0.0 requests and is put in
 * other peers' routing tables; a client only asks. */
#define CPC_NET_KAD_SERVER 0
#define CPC_NET_KAD_CLIENT 1
/* Most bootstrap addresses. */
#define CPC_NET_MAX_BOOTSTRAP 64

/*
 * Run the Kademlia DHT (cpc/dht.h; reach it with cpc_net_dht()) in mode,
 * joining the network through bootstrap[0..n) (copied; may be empty, e.g.
 * for the first peer), each /ip4|ip6/A/tcp/P/p2p/<PeerId>; an address of
 * our own is skipped at build. A second call replaces the first. Errors:
 * CPC_EINVAL (another mode, an address without /p2p/), CPC_EUNSUPPORTED
 * (another address shape), CPC_ETOOBIG (over CPC_NET_MAX_BOOTSTRAP),
 * CPC_ENOMEM; cpc_net_builder_error() says which.
 */
int cpc_net_builder_with_kademlia(cpc_net_builder *b, int mode,
                                  const cpc_multiaddr *bootstrap, size_t n);

/*
 * Settings of the DHT (copied; start from cpc_kad_config_default(); its
 * client_mode is ignored: the mode of _with_kademlia() counts). CPC_EINVAL
 * for a zero or over-cap k, alpha, max_lookups or max_providers_per_key.
 */
struct cpc_kad_config;
int cpc_net_builder_kademlia_config(cpc_net_builder *b,
                                    const struct cpc_kad_config *cfg);

/* The host's identity (Ed25519 or secp256k1), copied (and wiped with the
 * builder). Without one, build generates an Ed25519 key. CPC_EUNSUPPORTED
 * for other key types. */
int cpc_net_builder_identity(cpc_net_builder *b, const cpc_privkey *key);

/* Listen on ma: /ip4/A/tcp/P or /ip6/A/tcp/P (P may be 0: any free port).
 * Copied. CPC_EUNSUPPORTED (another shape), CPC_ETOOBIG (over
 * CPC_NET_MAX_LISTEN). */
int cpc_net_builder_listen(cpc_net_builder *b, const cpc_multiaddr *ma);

/* Agent version sent in identify (copied, 1..256 bytes, printable). */
int cpc_net_builder_agent_version(cpc_net_builder *b, const char *agent);

/* Limits (copied). CPC_EINVAL for a zero count or a zero timeout where
 * one is required (handshake, dial, negotiation). */
int cpc_net_builder_limits(cpc_net_builder *b, const cpc_net_limits *l);

/* Event callbacks (copied) and their user pointer. */
int cpc_net_builder_events(cpc_net_builder *b, const cpc_net_events *ev,
                           void *ud);

/*
 * Create the host and start listening. *out is released with
 * cpc_net_close(). The builder is not consumed. Errors: CPC_EINVAL (no
 * transport: call _with_tcp()), CPC_EIO (a listen address cannot be bound:
 * cpc_net_builder_error() names it and the reason), CPC_ENOMEM,
 * CPC_ECRYPTO.
 */
int cpc_net_builder_build(cpc_net_builder *b, cpc_net **out);

/* Why the last builder call failed (a static or builder-owned sentence),
 * or NULL. */
const char *cpc_net_builder_error(const cpc_net_builder *b);

/* --- host ------------------------------------------------------------ */

typedef void (*cpc_net_close_cb)(void *ud);

/*
 * Close every connection (streams get on_close with CPC_ECLOSED) and
 * listener, then free net and call cb(ud) (cb may be NULL) from a later
 * loop iteration. net must not be used after this call. Calling it twice
 * does nothing the second time.
 */
void cpc_net_close(cpc_net *net, cpc_net_close_cb cb, void *ud);

/* Our PeerId. */
void cpc_net_peer_id(const cpc_net *net, cpc_peer_id *id);

/*
 * The addresses we listen on, each ending in /p2p/<our id>, ports resolved
 * and unspecified hosts (0.0.0.0, ::) expanded to the interface addresses.
 * Writes at most cap into out; *n gets the total count. 0 or CPC_ENOMEM.
 */
int cpc_net_listen_addrs(const cpc_net *net, cpc_multiaddr *out, size_t cap,
                         size_t *n);

/* Open connections (upgraded ones; upgrading ones are not counted). */
size_t cpc_net_conn_count(const cpc_net *net);

/* Fill *t with the host's traffic counters (cpc_net_traffic). */
void cpc_net_traffic_get(const cpc_net *net, cpc_net_traffic *t);

/* --- protocol handlers ------------------------------------------------- */

/*
 * Called for every inbound stream that negotiated protocol. The handler
 * sets the stream's callbacks (cpc_net_stream_set_callbacks), or closes or
 * resets it; until it sets them, incoming data is held (up to the yamux
 * window).
 */
typedef void (*cpc_net_handler_fn)(cpc_net_stream *s, const char *protocol,
                                   void *ud);

/*
 * Register fn for protocol (copied; 1..CPC_NET_MAX_PROTOCOL_LEN bytes, not
 * "na"/"ls", no '\n'). Replaces an earlier handler of the same protocol.
 * Connected peers are told with identify push. CPC_EINVAL, CPC_ETOOBIG
 * (CPC_NET_MAX_HANDLERS), CPC_ENOMEM.
 */
int cpc_net_handle(cpc_net *net, const char *protocol, cpc_net_handler_fn fn,
                   void *ud);

/* Remove the handler of protocol. CPC_ENOENT if there is none. */
int cpc_net_unhandle(cpc_net *net, const char *protocol);

/* --- connections ----------------------------------------------------- */

/* status 0: conn is open (upgraded); else a CPC_E* code and conn NULL. */
typedef void (*cpc_net_dial_cb)(cpc_net *net, int status, cpc_net_conn *conn,
                                void *ud);

/*
 * Connect to ma (/ip4|ip6|dns4|dns6|dns/A/tcp/P, optionally /p2p/<id>: the
 * remote must then prove that PeerId in the Noise handshake). A name is
 * looked up (dns4: IPv4 addresses only, dns6: IPv6 only, dns: both) and
 * its addresses are tried in turn until one connects, all within
 * dial_timeout_ms. If an open connection to that PeerId exists it is
 * reused. cb runs once, later. Errors returned at once (cb not called):
 * CPC_EUNSUPPORTED (another address shape, e.g. /dnsaddr or /quic-v1),
 * CPC_EINVAL (dialing ourselves), CPC_EAGAIN (the peer is in dial backoff
 * after failures), CPC_ENOSPC (max_connections), CPC_ECLOSED (net
 * closing), CPC_ENOMEM, CPC_EIO. Errors given to cb: CPC_ETIMEDOUT,
 * CPC_EIO (refused, unreachable, or no answer from DNS), CPC_ENOENT (the
 * name does not exist or has no address of the family), CPC_EMISMATCH
 * (another PeerId answered), CPC_EPROTO, CPC_EAUTH, CPC_EBADSIG,
 * CPC_EUNSUPPORTED (no common security or muxer protocol), CPC_ECLOSED.
 */
int cpc_net_dial(cpc_net *net, const cpc_multiaddr *ma, cpc_net_dial_cb cb,
                 void *ud);

/* The remote's PeerId (authenticated by Noise). */
void cpc_net_conn_peer_id(const cpc_net_conn *c, cpc_peer_id *id);

/* The remote's /ip4|ip6/A/tcp/P address. CPC_EIO if the socket has none. */
int cpc_net_conn_remote_addr(const cpc_net_conn *c, cpc_multiaddr *ma);

/* The address the remote said it sees us at (identify). CPC_ENOENT if it
 * has not said (yet). */
int cpc_net_conn_observed_addr(const cpc_net_conn *c, cpc_multiaddr *ma);

/* 1 if we dialed, 0 if the remote did. */
int cpc_net_conn_outbound(const cpc_net_conn *c);

/* Streams open on c (both directions). */
size_t cpc_net_conn_stream_count(const cpc_net_conn *c);

/*
 * Close c: a yamux GoAway, then queued output is flushed and the socket
 * closed; its streams get on_close(CPC_ECLOSED) and on_conn_close fires
 * with reason 0. Safe to call from any callback; a second call is a no-op.
 */
void cpc_net_conn_close(cpc_net_conn *c);

/* --- streams ---------------------------------------------------------- */

typedef struct cpc_net_stream_callbacks {
  /* Outbound streams: the protocol was agreed; data may flow. (Failure
   * comes as on_close.) */
  void (*on_open)(cpc_net_stream *s, void *ud);
  /* Bytes from the peer, borrowed for the call; not called while reading
   * is stopped. */
  void (*on_data)(cpc_net_stream *s, const uint8_t *data, size_t len, void *ud);
  /* The peer half-closed: no more data (all data was delivered before). */
  void (*on_eof)(cpc_net_stream *s, void *ud);
  /* The write queue fell below its limit after a write returned
   * CPC_EAGAIN or filled it. */
  void (*on_writable)(cpc_net_stream *s, void *ud);
  /*
   * Final call; s is freed when it returns. status 0: both sides closed
   * normally (after on_eof and cpc_net_stream_close_write). Else:
   * CPC_ECLOSED (reset by the peer, or the connection closed),
   * CPC_EUNSUPPORTED (outbound: the peer does not speak the protocol),
   * CPC_ETIMEDOUT (negotiation took too long), CPC_EPROTO, CPC_EIO.
   */
  void (*on_close)(cpc_net_stream *s, int status, void *ud);
} cpc_net_stream_callbacks;

/*
 * Open a stream on c for protocol (copied). cb (copied; may be NULL for
 * no callbacks) and ud are the stream's. Data written before on_open is
 * queued and sent once the protocol is agreed. *out is valid at once.
 * Errors: CPC_EINVAL (bad protocol id), CPC_ENOSPC (stream limit),
 * CPC_ECLOSED (connection closing, GoAway), CPC_ENOMEM.
 */
int cpc_net_stream_open(cpc_net_conn *c, const char *protocol,
                        const cpc_net_stream_callbacks *cb, void *ud,
                        cpc_net_stream **out);

/* Replace s's callbacks (copied; NULL: none) and user pointer. Data held
 * since negotiation is delivered from the next loop iteration. */
void cpc_net_stream_set_callbacks(cpc_net_stream *s,
                                  const cpc_net_stream_callbacks *cb, void *ud);

/*
 * Queue data[0..len) (copied) on s. Accepted whole if the queue holds less
 * than stream_write_queue bytes, else CPC_EAGAIN (nothing taken; wait for
 * on_writable). Errors: CPC_EAGAIN, CPC_ECLOSED (write side closed, stream
 * reset or connection gone), CPC_ENOMEM. len 0 is a no-op.
 */
int cpc_net_stream_write(cpc_net_stream *s, const void *data, size_t len);

/* 1 if a write would be accepted now, else 0. */
int cpc_net_stream_writable(const cpc_net_stream *s);

/* Bytes queued on s and not yet handed to yamux. */
size_t cpc_net_stream_write_queue_size(const cpc_net_stream *s);

/* Stop / resume on_data. While stopped, data is held and the peer is
 * stopped by the yamux window. */
void cpc_net_stream_read_stop(cpc_net_stream *s);
void cpc_net_stream_read_start(cpc_net_stream *s);

/* Half-close: a FIN follows the queued data; reading goes on. A second
 * call is a no-op. CPC_ECLOSED if the stream is gone. */
int cpc_net_stream_close_write(cpc_net_stream *s);

/* Give s up gracefully: queued data is sent, then a FIN; data from the
 * peer is discarded. No callback names s afterwards. */
void cpc_net_stream_close(cpc_net_stream *s);

/* Give s up at once: queued data is dropped and a RST sent. No callback
 * names s afterwards. */
void cpc_net_stream_reset(cpc_net_stream *s);

/* The agreed protocol (borrowed, valid as long as s), or NULL while an
 * outbound stream still negotiates. */
const char *cpc_net_stream_protocol(const cpc_net_stream *s);

/* The connection s runs on. */
cpc_net_conn *cpc_net_stream_conn(const cpc_net_stream *s);

/* --- ping --------------------------------------------------------------- */

/* status 0 and the round trip in ns, or a CPC_E* code. */
typedef void (*cpc_net_ping_cb)(cpc_net *net, int status, uint64_t rtt_ns,
                                void *ud);

/*
 * One ping on a new /ipfs/ping/1.0.0 stream of c: 32 random bytes, which
 * the peer must echo. cb runs once, later. Errors given to cb: CPC_EPROTO
 * (wrong echo), CPC_ECLOSED, CPC_ETIMEDOUT (no answer within the
 * negotiation timeout), CPC_EUNSUPPORTED. Returned: as cpc_net_stream_open.
 */
int cpc_net_ping(cpc_net_conn *c, cpc_net_ping_cb cb, void *ud);

/* --- peer store -------------------------------------------------------- */

/* What we know about a peer; a copy, freed with cpc_net_peer_info_free(). */
typedef struct cpc_net_peer_info {
  cpc_peer_id id;
  int has_public_key;
  cpc_pubkey public_key;
  char *agent_version;    /* NULL if unknown */
  char *protocol_version; /* NULL if unknown */
  char **protocols;
  size_t n_protocols;
  cpc_multiaddr *addrs; /* listen addresses it announced */
  size_t n_addrs;
} cpc_net_peer_info;

/* A copy of the entry for id into *out. CPC_ENOENT, CPC_ENOMEM. */
int cpc_net_peer_info_get(const cpc_net *net, const cpc_peer_id *id,
                          cpc_net_peer_info **out);

void cpc_net_peer_info_free(cpc_net_peer_info *info);

/* Add addresses for id (e.g. from configuration; copied, duplicates and
 * any beyond 64 per peer ignored). A full peer store drops its least
 * recently touched entry. CPC_ENOMEM. */
int cpc_net_peer_add_addrs(cpc_net *net, const cpc_peer_id *id,
                           const cpc_multiaddr *addrs, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* CPC_NET_H */
