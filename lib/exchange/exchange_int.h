/*
 * exchange_int.h: what exchange.c (streams, peers, pumping, the service)
 * and fetch.c (the fetch API) share.
 *
 * Lifetimes:
 *  - struct cpc__xpeer: created for a peer when a Bitswap stream with it
 *    opens (either way) or a fetch reaches it; it keeps the connection
 *    pointer last seen for the peer until cpc_exchange_conn_closed, and is
 *    freed once it has no connection and no stream.
 *  - struct cpc__xstream: one per Bitswap stream we hold; freed when the
 *    stream's final callback runs or when we give the stream up.
 *  - Engine callbacks (on_ready, on_done) never act at once: they put the
 *    peer or fetch on a list that the kick (a uv_idle handle) works off, so
 *    no engine is re-entered and user callbacks run from the loop.
 */
#ifndef CPC_EXCHANGE_INT_H
#define CPC_EXCHANGE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "cpc/exchange.h"

struct cpc__xpeer;
struct cpc__xfetch_dial;

struct cpc__xstream {
  cpc_exchange *ex;
  cpc_net_stream *s;
  struct cpc__xpeer *peer;
  int outbound;
  int open;                   /* outbound: the protocol is agreed */
  enum cpc_bitswap_version v; /* inbound: its version; outbound: tried */
  cpc_bitswap_reader rd;
  struct cpc__xstream *prev, *next; /* ex->streams */
};

struct cpc__xpeer {
  cpc_exchange *ex;
  cpc_peer_id id;
  cpc_net_conn *conn;         /* last open connection seen, or NULL */
  struct cpc__xstream *out;   /* our outbound stream, or NULL */
  enum cpc_bitswap_version v; /* of the last outbound stream that opened */
  int have_v;
  int vtry;        /* index into the versions tried for out */
  int in_client;   /* known to the client engine (with v) */
  int unsupported; /* no Bitswap version was agreed on conn */
  size_t n_streams;
  uint8_t *pending; /* a pulled message the stream did not take yet */
  size_t pending_len;
  int turn;   /* 1: the server pulls first next time */
  int kicked; /* on ex->kick list */
  struct cpc__xpeer *prev, *next, *knext;
};

struct cpc_exchange {
  uv_loop_t *loop;
  cpc_net *net;
  cpc_blockstore *bs;
  cpc_exchange_config cfg;
  cpc_bitswap_server *server;
  cpc_bitswap_client *client;
  uv_timer_t tick;
  uv_idle_t kick;
  int kick_active;
  int handles_open; /* uv handles not closed yet */
  int closing;
  void (*close_cb)(void *);
  void *close_ud;
  struct cpc__xpeer *peers, *kick_head;
  struct cpc__xstream *streams;
  cpc_exchange_fetch *fetches; /* running or done, not freed */
  size_t n_peers;
  cpc_exchange_stats st;
};

/* A provider of a fetch. */
enum cpc__xprov_state {
  CPC__XPROV_DIALING,
  CPC__XPROV_OPENING, /* connected: waiting for the outbound stream */
  CPC__XPROV_READY,   /* in the session */
  CPC__XPROV_FAILED,
};

struct cpc__xprov {
  cpc_multiaddr addr; /* unused for peers given by id */
  cpc_peer_id id;
  int has_id;
  int state;
  int err;
  struct cpc__xfetch_dial *dial; /* while DIALING */
};

struct cpc__xwant {
  cpc_cid cid;
  uint8_t key[CPC_CID_MAX_BYTES];
  size_t key_len;
  int delivered;
  int local; /* in the store at start */
};

struct cpc_exchange_fetch {
  cpc_exchange *ex;
  cpc_exchange_fetch_callbacks cb;
  void *ud;
  struct cpc__xwant *wants; /* sorted by key */
  size_t n_wants;
  struct cpc__xprov *provs;
  size_t n_provs, cap_provs;
  size_t n_swarm;       /* providers taken in by swarming */
  cpc_cid swarm_key;    /* the first CID given: names the swarm */
  int swarm;            /* swarming on for this fetch */
  int provided;         /* announced as a provider on the DHT */
  int lookup_running;   /* a DHT provider lookup is running */
  uint64_t lookup_id;
  uint64_t next_lookup; /* loop time the next lookup may start */
  cpc_bitswap_session *sess;
  size_t received, from_store, timeouts_at_end;
  int started;  /* the kick has run its first step */
  int finished; /* rc set; on_done pending or fired */
  int reported; /* on_done fired */
  int rc;
  int fail_rc;   /* a store error: finish with it from the kick */
  int first_err; /* the first provider failure */
  cpc_exchange_fetch *prev, *next; /* ex->fetches */
  cpc_exchange_fetch *knext;
  int kicked;
};

/* exchange.c */
struct cpc__xpeer *cpc__xpeer_find(cpc_exchange *ex, const cpc_peer_id *id);
/* The peer's record, created if needed. CPC_ENOMEM. */
int cpc__xpeer_get(cpc_exchange *ex, const cpc_peer_id *id,
                   struct cpc__xpeer **out);
/* Make sure peer has an outbound stream (opened on its connection).
 * CPC_ECLOSED (no connection), or cpc_net_stream_open's errors. */
int cpc__xpeer_open(struct cpc__xpeer *p);
void cpc__xpeer_kick(struct cpc__xpeer *p);
/* Schedule f's next step on the kick. */
void cpc__xfetch_kick(cpc_exchange_fetch *f);

/* fetch.c */
/* peer's outbound stream opened (p->in_client is set) or failed for good
 * (rc < 0). */
void cpc__xfetch_peer_state(cpc_exchange *ex, struct cpc__xpeer *p, int rc);
/* Run f's pending step from the kick: local blocks, the report. */
void cpc__xfetch_step(cpc_exchange_fetch *f);
/* The client engine's callbacks, routed to the fetch (sess_ud). */
void cpc__xfetch_on_block(void *ud, cpc_bitswap_session *sess, void *sess_ud,
                          const cpc_cid *cid, const uint8_t *data, size_t len);
void cpc__xfetch_on_done(void *ud, cpc_bitswap_session *sess, void *sess_ud,
                         int rc);
/* Drop f from ex without any callback (exchange closing). */
void cpc__xfetch_abandon(cpc_exchange_fetch *f);
/* 1 if cid is one of f's CIDs. */
int cpc__xfetch_wants(cpc_exchange_fetch *f, const cpc_cid *cid);
/* 1 if peer id is one of f's providers already. */
int cpc__xfetch_has_provider(const cpc_exchange_fetch *f,
                             const cpc_peer_id *id);
/*
 * Take a provider found by swarming into running fetch f: p (connected
 * now), or id reached at addr (dialed). Errors: CPC_EEXIST (a provider
 * already), CPC_ENOSPC (f took max_swarm_peers), CPC_ESTATE (f is not
 * running), CPC_ENOMEM.
 */
int cpc__xfetch_add_peer(cpc_exchange_fetch *f, struct cpc__xpeer *p);
int cpc__xfetch_add_addr(cpc_exchange_fetch *f, const cpc_peer_id *id,
                         const cpc_multiaddr *addr);

/* swarm.c: how fetchers of the same content find each other */
/* peer p sent us m: a running fetch wanting one of m's CIDs takes p in. */
void cpc__xswarm_wants(cpc_exchange *ex, struct cpc__xpeer *p,
                       const cpc_bitswap_message *m);
/* The exchange's clock: announcements and lookups of running fetches. */
void cpc__xswarm_tick(cpc_exchange *ex, uint64_t now);
/* f holds a block of its own: announce it (once) on the DHT. */
void cpc__xswarm_have(cpc_exchange_fetch *f);
/* f is over or going: stop its lookup. */
void cpc__xswarm_stop(cpc_exchange_fetch *f);

#endif /* CPC_EXCHANGE_INT_H */
