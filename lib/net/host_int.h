/*
 * host_int.h: what the files of the libuv-driven host share (host.c,
 * tcp.c, conn.c, stream.c, peer_store.c, identify.c, ping.c, echo.c).
 *
 * Object lifetimes (see cpc/net.h for the public side):
 *  - A connection is freed in its uv close callback, never earlier, so a
 *    cpc_net_conn pointer stays valid through any callback chain that
 *    started while it was open.
 *  - A stream that ends is only marked dead (and counted out of its
 *    connection); it is unlinked and freed by the host's settle pass
 *    (cpc__net_settle, an idle handle), so a callback may reset or close
 *    any stream without pulling memory from under its caller.
 *  - Output is not written from inside callbacks: anything that may have
 *    produced output marks its connection dirty; the settle pass pumps
 *    stream write queues into yamux, yamux into Noise, Noise into the
 *    socket, and delivers held data, EOFs and announcements.
 */
#ifndef CPC_HOST_INT_H
#define CPC_HOST_INT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "cpc/identify.h"
#include "cpc/kad.h"
#include "cpc/multistream.h"
#include "cpc/net.h"
#include "cpc/noise.h"
#include "cpc/yamux.h"

/* One shared read buffer per host: reads are processed synchronously.
 * Many Noise frames (65537 bytes each) per read, so that few frames are
 * split across reads (a split frame is copied aside) and a fast sender
 * needs few read calls. */
#define CPC__NET_READ_BUF (1024u * 1024u)
/* Socket bytes queued before the settle pass stops encrypting more (at
 * most half of max_conn_output), so that the sender keeps encrypting while
 * the kernel drains the socket. */
#define CPC__NET_INFLIGHT (2048u * 1024u)
/* While the host's socket bytes are over lim.max_host_socket_output, each
 * connection writes only when it has nothing in flight, at most this much
 * at a time. */
#define CPC__NET_INFLIGHT_SLOW (256u * 1024u)
/* Plaintext per socket write: 12 whole Noise frames (768 KiB), encrypted
 * straight into one buffer and written with one call (at most a quarter of
 * max_conn_output). Measured with bench/net.sh on 2 cores: 10 to 14 frames
 * send about 2.9 GB/s, 16 frames (over 1 MiB) 2.3 GB/s and 4 frames 2.1
 * GB/s, at more CPU per byte in the sender. */
#define CPC__NET_WRITE_CHUNK (12u * CPC_NOISE_MAX_PLAINTEXT)
/* Socket write buffers of a whole chunk are reused (a pool per host, at
 * most this many kept, released by the sweep once unused). */
#define CPC__NET_WBUF_CAP                                                      \
  (12u * (CPC_NOISE_MAX_PLAINTEXT + CPC_NOISE_FRAME_OVERHEAD))
#define CPC__NET_WPOOL_MAX 4
/* A released stream whose peer never closes is reset after this. */
#define CPC__NET_LINGER_MS 10000u
/* A graceful connection close that does not finish is forced after this. */
#define CPC__NET_CLOSE_GRACE_MS 2000u
/* Identify: bytes read from one identify stream. */
#define CPC__NET_IDENTIFY_READ_MAX (128u * 1024u)
#define CPC__NET_IDENTIFY_TIMEOUT_MS 10000u
#define CPC__NET_PING_LEN 32

/* --- intrusive doubly linked list --------------------------------------- */
struct cpc__list {
  struct cpc__list *prev, *next;
};

static inline void cpc__list_init(struct cpc__list *l) {
  l->prev = l->next = l;
}
static inline int cpc__list_empty(const struct cpc__list *l) {
  return l->next == l;
}
static inline void cpc__list_push(struct cpc__list *head, struct cpc__list *n) {
  n->prev = head->prev;
  n->next = head;
  head->prev->next = n;
  head->prev = n;
}
static inline void cpc__list_remove(struct cpc__list *n) {
  n->prev->next = n->next;
  n->next->prev = n->prev;
  n->prev = n->next = n;
}
#define CPC__CONTAINER(ptr, type, member)                                      \
  ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* --- protocol handlers ---------------------------------------------------- */
struct cpc__handler {
  char *protocol;
  cpc_net_handler_fn fn;
  void *ud;
};

/* An immutable snapshot of the handlers, shared by the listener-side
 * negotiations that started while it was current (refcounted). */
struct cpc__proto_table {
  size_t refs, n;
  const char *names[CPC_NET_MAX_HANDLERS];
  struct cpc__handler h[CPC_NET_MAX_HANDLERS];
};

void cpc__proto_table_unref(struct cpc__proto_table *t);

/* --- peer store (peer_store.c) -------------------------------------------- */
struct cpc__addr {
  size_t len;
  uint8_t bytes[];
};

struct cpc__peer {
  cpc_peer_id id;
  int has_key;
  cpc_pubkey key;
  char *agent, *protocol_version;
  char **protocols;
  size_t n_protocols;
  struct cpc__addr **addrs;
  size_t n_addrs;
  uint64_t touched_ms;
};

struct cpc__peer_store {
  struct cpc__peer **peers;
  size_t n, cap, max;
};

/* Entry for id, or NULL. */
struct cpc__peer *cpc__peers_find(const struct cpc__peer_store *ps,
                                  const cpc_peer_id *id);
/* Entry for id, created if needed (evicting the least recently touched
 * entry when full). CPC_ENOMEM. */
int cpc__peers_upsert(struct cpc__peer_store *ps, const cpc_peer_id *id,
                      uint64_t now_ms, struct cpc__peer **out);
/* Fold an identify message into id's entry (its fields replace ours). */
int cpc__peers_apply_identify(struct cpc__peer_store *ps, const cpc_peer_id *id,
                              const cpc_identify_msg *m, uint64_t now_ms);
void cpc__peers_free(struct cpc__peer_store *ps);

/* --- dial backoff (tcp.c) ---------------------------------------------------
 */
#define CPC__BACKOFF_KEY_MAX 64
struct cpc__backoff {
  uint8_t key[CPC__BACKOFF_KEY_MAX]; /* PeerId bytes, or ip4/ip6 + tcp bytes */
  size_t key_len;
  unsigned failures;
  uint64_t until_ms, touched_ms;
};
#define CPC__NET_BACKOFF_SLOTS 64

/* --- the Kademlia DHT service (lib/kad/kad_net.c) -------------------------
 */
/* What the builder collected for it (cpc_net_builder_with_kademlia). */
struct cpc__kad_setup {
  int enabled, mode, has_cfg;
  cpc_multiaddr *seeds; /* each ends in /p2p/ */
  size_t n_seeds;
  cpc_kad_config cfg;
};
struct cpc_dht;
/* Start the service on a built host (listeners up): net->dht is set.
 * CPC_ENOMEM, cpc_kad_new's errors. */
int cpc__dht_start(cpc_net *net, const struct cpc__kad_setup *s);
/* Identify on c ended with status (0: the peer store is updated). */
void cpc__dht_identified(cpc_net *net, cpc_net_conn *c, int status);
/* The host closes: free the service (its timers close later). */
void cpc__dht_stop(cpc_net *net);

/* --- bandwidth caps and traffic counters (throttle.c) ---------------------
 */
/* A token bucket; rate 0: unlimited. tokens may go below 0 (debt). */
struct cpc__bucket {
  uint64_t rate; /* bytes per second */
  double tokens, burst, quantum;
  uint64_t t_ns; /* last refill (uv_hrtime) */
};
/* Set up the buckets from net->lim and the timer (a host handle). */
void cpc__throttle_init(cpc_net *net);
/* Plaintext bytes (<= want) c may encrypt and write now; 0: wait (c is
 * marked dirty again once tokens are back). */
size_t cpc__throttle_up_allow(cpc_net_conn *c, size_t want);
/* n bytes were handed to a socket: count them, charge the upload bucket. */
void cpc__throttle_sent(cpc_net *net, size_t n);
/* Bytes a socket read may take now (<= cap); 0: none. */
size_t cpc__throttle_read_size(cpc_net *net, size_t cap);
/* c read n bytes: count and charge them; 1 if c stopped reading (the
 * bucket is empty; reading resumes from the timer), else 0. */
int cpc__throttle_received(cpc_net_conn *c, size_t n);
/* Stop reading on c until the download bucket has tokens again. */
void cpc__throttle_read_wait(cpc_net_conn *c);

/* --- host -------------------------------------------------------------------
 */
struct cpc__listener {
  cpc_net *net;
  uv_tcp_t tcp;
  cpc_multiaddr addr; /* bound address, port resolved, no /p2p/ */
  int active;
};

struct cpc_net {
  uv_loop_t *loop;
  cpc_privkey key;
  cpc_peer_id id;
  char *agent;
  cpc_net_limits lim;
  cpc_net_events ev;
  void *ev_ud;

  struct cpc__listener *listeners;
  size_t n_listeners;

  struct cpc__proto_table *table; /* current handlers */
  struct cpc__list conns;         /* every cpc_net_conn */
  size_t n_conns;                 /* including upgrading ones */
  size_t n_open;                  /* upgraded */
  struct cpc__list dirty;         /* conns with work for the settle pass */
  struct cpc_net_stream *grave;   /* dead streams, freed by settle */

  uv_idle_t settle;
  uv_timer_t sweep;
  uv_timer_t throttle; /* wakes connections waiting for tokens */
  struct cpc__bucket up, down;
  uint64_t bytes_sent, bytes_received;
  uint64_t sweep_ms;
  size_t handles; /* uv handles not yet closed */
  int closing, push_pending, timers_closed;
  cpc_net_close_cb close_cb;
  void *close_ud;

  size_t inflight;     /* socket bytes not yet written, all connections */
  int inflight_waiters; /* connections held back by max_host_socket_output */

  struct cpc__wreq *wpool; /* free chunk-sized write buffers */
  size_t n_wpool;
  int wpool_used; /* since the last sweep */

  struct cpc__peer_store peers;
  struct cpc__backoff backoff[CPC__NET_BACKOFF_SLOTS];
  struct cpc_dht *dht; /* NULL unless the builder enabled Kademlia */

  uint8_t rbuf[CPC__NET_READ_BUF];
};

uint64_t cpc__net_now(const cpc_net *net);
/* Make sure the settle pass runs soon. */
void cpc__net_kick(cpc_net *net);
/* While closing: close the timers once no connection is left. */
void cpc__net_conns_gone(cpc_net *net);
/* A uv handle of net closed. */
void cpc__net_handle_closed(cpc_net *net);
/* At max_connections: close the open connection idle longest (no streams,
 * no dial waiting on it) so that a new one fits. 1 if one is closing now
 * (the caller may then go over the limit by the connections closing), 0 if
 * none qualifies. */
int cpc__net_make_room(cpc_net *net);
/* The built-in services (identify.c, ping.c, echo.c) register handlers. */
int cpc__identify_register(cpc_net *net);
int cpc__ping_register(cpc_net *net);
int cpc__echo_register(cpc_net *net);
/* Serve s as an echo stream (echo.c; ping's responder too). */
void cpc__echo_serve(cpc_net_stream *s);
/* Our identify message for conn c (observed address = c's remote). */
int cpc__identify_build(cpc_net *net, cpc_net_conn *c, uint8_t **out,
                        size_t *len);
/* Run identify on a freshly opened connection. */
void cpc__identify_start(cpc_net_conn *c);
/* Push our identify to every open connection. */
void cpc__identify_push_all(cpc_net *net);

/* --- connections (conn.c) ---------------------------------------------------
 */
enum cpc__conn_state {
  CPC__CONN_CONNECTING,
  CPC__CONN_SECURITY, /* multistream-select for /noise */
  CPC__CONN_NOISE,
  CPC__CONN_MUXER, /* multistream-select for /yamux/1.0.0, encrypted */
  CPC__CONN_OPEN,
};

struct cpc__dial_waiter {
  struct cpc__dial_waiter *next;
  cpc_net_dial_cb cb;
  void *ud;
};

struct cpc_net_conn {
  cpc_net *net;
  uv_tcp_t tcp;
  uv_connect_t connect_req;
  uv_shutdown_t shutdown_req;
  struct cpc__list link;  /* net->conns */
  struct cpc__list dlink; /* net->dirty while dirty */
  int state, outbound, dirty, closing, close_graceful, announced;
  int wait_up, wait_down; /* waiting for upload / download tokens */
  int wait_host;          /* held back by the host's socket output budget */
  int reason;             /* why it closes (0: locally) */
  uint64_t t_start, t_active, t_closing;
  uint64_t t_rx;   /* last byte from the peer */
  uint64_t t_ping; /* keep-alive ping sent and unanswered since (0: none) */
  size_t preupgrade, inflight;
  size_t y_max_output; /* yamux's output budget */
  /* dialing a /dns* address (tcp.c): the lookup under way, the addresses
   * it gave and the next one to try */
  struct cpc__resolve *resolve;
  struct addrinfo *ai, *ai_next;
  int reconnecting; /* the socket closes, to be replaced (conn_reconnect) */
  int dial_err;     /* why the last address failed */

  cpc_mss *mss;
  cpc_noise_session *noise;
  cpc_yamux *yamux;
  cpc_peer_id peer;
  int has_expected;
  cpc_peer_id expected;
  uint8_t backoff_key[CPC__BACKOFF_KEY_MAX];
  size_t backoff_key_len;

  struct cpc__list streams; /* every cpc_net_stream of this conn */
  size_t n_streams, n_pending_in;
  struct cpc__dial_waiter *waiters;
  cpc_multiaddr *observed; /* from identify, or NULL */
  int identify_started;
};

/* A connection around an accepted or to-be-connected socket; the uv_tcp_t
 * is initialised and counted as a host handle. */
int cpc__conn_new(cpc_net *net, int outbound, cpc_net_conn **out);
/* Free the write buffer pool (all of it, or only when unused since the
 * last call: the sweep). */
void cpc__conn_wpool_trim(cpc_net *net, int all);
/* The TCP socket is connected: start the upgrade. */
void cpc__conn_start(cpc_net_conn *c);
/* Start reading c's socket again (after a download pause). */
void cpc__conn_read_resume(cpc_net_conn *c);
/* Fail c with reason (a CPC_E* code): close at once. */
void cpc__conn_fail(cpc_net_conn *c, int reason);
/* An outbound connection whose connect failed: close its socket and give
 * it a fresh one, then call cpc__dial_next(c), unless c failed meanwhile:
 * then it closes as cpc__conn_fail would. */
void cpc__conn_reconnect(cpc_net_conn *c);
void cpc__conn_mark_dirty(cpc_net_conn *c);
/* The settle pass for one connection. */
void cpc__conn_service(cpc_net_conn *c);
/* Timeouts of one connection and its streams (sweep timer). */
void cpc__conn_sweep(cpc_net_conn *c, uint64_t now);
/* An open connection to id, or NULL. */
cpc_net_conn *cpc__conn_find_peer(cpc_net *net, const cpc_peer_id *id);
/* The multiaddr of a socket address (tcp.c). CPC_EUNSUPPORTED. */
int cpc__sockaddr_to_multiaddr(const struct sockaddr_storage *ss,
                               cpc_multiaddr *ma);
/* Dial result bookkeeping (tcp.c). */
void cpc__backoff_result(cpc_net *net, const uint8_t *key, size_t len, int ok);
/* Connect c to its next resolved address, or fail it (tcp.c). */
void cpc__dial_next(cpc_net_conn *c);
/* c is being freed: drop its name lookup and addresses (tcp.c). */
void cpc__dial_forget(cpc_net_conn *c);

/* --- streams (stream.c) -----------------------------------------------------
 */
struct cpc__chunk {
  struct cpc__chunk *next;
  size_t len, off;
  uint8_t data[];
};

struct cpc_net_stream {
  cpc_net_conn *conn;
  struct cpc__list link; /* conn->streams (until freed) */
  struct cpc_net_stream *grave_next;
  uint32_t id;
  unsigned outbound : 1, negotiating : 1, y_alive : 1, rfin : 1,
      eof_delivered : 1, wfin_req : 1, wfin_sent : 1, released : 1, dead : 1,
      paused : 1, want_writable : 1, has_cb : 1, counted_pending : 1;
  cpc_mss *mss;
  struct cpc__proto_table *table; /* listener-side negotiation */
  char *protocol;
  const char *proposal[1]; /* outbound: what mss proposes (= protocol) */
  cpc_net_stream_callbacks cb;
  void *ud;
  struct cpc__chunk *wq_head, *wq_tail;
  size_t queued;
  uint8_t *rbuf;
  size_t rlen, rcap;
  uint64_t deadline_ms; /* 0: none */
  int deadline_status;  /* on_close status when it passes */
};

/* yamux callbacks for inbound streams and stream events (stream.c). */
void cpc__stream_on_open(void *ud, uint32_t id);
void cpc__stream_on_data(void *ud, uint32_t id, void *sud, const uint8_t *d,
                         size_t n);
void cpc__stream_on_fin(void *ud, uint32_t id, void *sud);
void cpc__stream_on_reset(void *ud, uint32_t id, void *sud);
void cpc__stream_on_writable(void *ud, uint32_t id, void *sud);
/* Settle work for one stream: deliver held data, EOF, writes, final close. */
void cpc__stream_service(cpc_net_stream *s);
/* The connection is gone: final callbacks with status, mark dead. */
void cpc__stream_conn_lost(cpc_net_stream *s, int status);
/* End s with status: reset if still open, on_close unless released. */
void cpc__stream_fail(cpc_net_stream *s, int status);
/* Deadline for s (ms from now); when it passes the stream fails with
 * status. 0 clears it. */
void cpc__stream_deadline(cpc_net_stream *s, uint64_t ms, int status);
/* Free one dead stream (settle). */
void cpc__stream_free(cpc_net_stream *s);

#endif /* CPC_HOST_INT_H */
