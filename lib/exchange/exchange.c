/*
 * exchange.c: the Bitswap service: protocol handlers, one reader per
 * stream feeding both engines, one outbound stream per peer fed by the
 * engines' pull API under the stream's back-pressure, the timeout clock,
 * connection loss, and the deferred work list (the kick).
 */
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "exchange/exchange_int.h"

/* Versions tried for an outbound stream, best first. */
static const enum cpc_bitswap_version versions[] = {
    CPC_BITSWAP_1_2_0, CPC_BITSWAP_1_1_0, CPC_BITSWAP_1_0_0};
#define N_VERSIONS ((int)(sizeof versions / sizeof versions[0]))

/* Protocol ids we answer. */
static const char *const protocols[] = {
    CPC_BITSWAP_PROTOCOL_120, CPC_BITSWAP_PROTOCOL_110,
    CPC_BITSWAP_PROTOCOL_100, CPC_BITSWAP_PROTOCOL_LEGACY};
#define N_PROTOCOLS (sizeof protocols / sizeof protocols[0])

void cpc_exchange_config_default(cpc_exchange_config *c) {
  memset(c, 0, sizeof *c);
  cpc_bitswap_server_config_default(&c->server);
  cpc_bitswap_client_config_default(&c->client);
  c->tick_ms = 100;
  c->superseed = 1;
  c->superseed_serve = 1;
  c->swarm_lookup_ms = 2000;
  c->max_swarm_peers = 16;
}

/* ---- block source: the store ------------------------------------------ */

static int src_has(void *ud, const cpc_cid *cid, size_t *size) {
  cpc_exchange *ex = ud;
  if (!ex->bs)
    return CPC_ENOENT;
  return cpc_blockstore_size(ex->bs, cid, size);
}

static int src_get(void *ud, const cpc_cid *cid, uint8_t **data, size_t *len) {
  cpc_exchange *ex = ud;
  if (!ex->bs)
    return CPC_ENOENT;
  return cpc_blockstore_get_alloc(ex->bs, cid, data, len);
}

/* ---- peers ------------------------------------------------------------- */

struct cpc__xpeer *cpc__xpeer_find(cpc_exchange *ex, const cpc_peer_id *id) {
  for (struct cpc__xpeer *p = ex->peers; p; p = p->next)
    if (cpc_peer_id_equal(&p->id, id))
      return p;
  return NULL;
}

int cpc__xpeer_get(cpc_exchange *ex, const cpc_peer_id *id,
                   struct cpc__xpeer **out) {
  struct cpc__xpeer *p = cpc__xpeer_find(ex, id);
  if (!p) {
    p = calloc(1, sizeof *p);
    if (!p)
      return CPC_ENOMEM;
    p->ex = ex;
    p->id = *id;
    p->next = ex->peers;
    if (ex->peers)
      ex->peers->prev = p;
    ex->peers = p;
    ex->n_peers++;
  }
  *out = p;
  return 0;
}

/* Free p if nothing refers to it any more. */
static void peer_maybe_free(struct cpc__xpeer *p) {
  cpc_exchange *ex = p->ex;
  if (p->conn || p->n_streams || p->kicked || p->out)
    return;
  if (p->in_client)
    cpc_bitswap_client_peer_gone(ex->client, &p->id);
  cpc_bitswap_server_peer_gone(ex->server, &p->id);
  if (p->prev)
    p->prev->next = p->next;
  else
    ex->peers = p->next;
  if (p->next)
    p->next->prev = p->prev;
  ex->n_peers--;
  free(p->pending);
  free(p);
}

static void start_kick(cpc_exchange *ex);

void cpc__xpeer_kick(struct cpc__xpeer *p) {
  if (p->kicked || p->ex->closing)
    return;
  p->kicked = 1;
  p->knext = p->ex->kick_head;
  p->ex->kick_head = p;
  start_kick(p->ex);
}

static void engine_on_ready(void *ud, const cpc_peer_id *id) {
  cpc_exchange *ex = ud;
  struct cpc__xpeer *p = cpc__xpeer_find(ex, id);
  if (p)
    cpc__xpeer_kick(p);
}

/* ---- streams ----------------------------------------------------------- */

static void stream_unlink(struct cpc__xstream *xs) {
  cpc_exchange *ex = xs->ex;
  if (xs->prev)
    xs->prev->next = xs->next;
  else
    ex->streams = xs->next;
  if (xs->next)
    xs->next->prev = xs->prev;
  xs->prev = xs->next = NULL;
}

/* Forget xs (its stream is gone or given up); the peer may go too. */
static void stream_free(struct cpc__xstream *xs) {
  struct cpc__xpeer *p = xs->peer;
  stream_unlink(xs);
  cpc_bitswap_reader_free(&xs->rd);
  if (p) {
    if (p->out == xs)
      p->out = NULL;
    p->n_streams--;
  }
  free(xs);
  if (p)
    peer_maybe_free(p);
}

/* Give the stream up at once (RST) and forget it. */
static void stream_drop(struct cpc__xstream *xs) {
  cpc_net_stream_reset(xs->s);
  stream_free(xs);
}

static struct cpc__xstream *stream_new(cpc_exchange *ex, struct cpc__xpeer *p,
                                       int outbound,
                                       enum cpc_bitswap_version v) {
  struct cpc__xstream *xs = calloc(1, sizeof *xs);
  if (!xs)
    return NULL;
  xs->ex = ex;
  xs->peer = p;
  xs->outbound = outbound;
  xs->v = v;
  cpc_bitswap_reader_init(&xs->rd);
  xs->next = ex->streams;
  if (ex->streams)
    ex->streams->prev = xs;
  ex->streams = xs;
  p->n_streams++;
  return xs;
}

/* One decoded message m from peer p on a stream of version v. */
static void deliver(cpc_exchange *ex, struct cpc__xpeer *p,
                    enum cpc_bitswap_version v, const cpc_bitswap_message *m) {
  int rc = cpc_bitswap_server_receive(ex->server, &p->id, v, m);
  if (rc == CPC_ENOSPC && p->conn) {
    cpc_net_conn_close(p->conn); /* too many ledgers: no room for this peer */
    return;
  }
  if (rc == 0 && p->have_v)
    cpc_bitswap_server_set_version(ex->server, &p->id, p->v);
  cpc_bitswap_client_receive(ex->client, &p->id, m);
  cpc__xswarm_wants(ex, p, m);
}

static void on_data(cpc_net_stream *s, const uint8_t *data, size_t len,
                    void *ud) {
  struct cpc__xstream *xs = ud;
  cpc_exchange *ex = xs->ex;
  (void)s;
  while (len > 0) {
    const uint8_t *msg = NULL;
    size_t used = 0, msg_len = 0;
    int rc = cpc_bitswap_reader_feed(&xs->rd, data, len, &used, &msg, &msg_len);
    if (rc == CPC_ETOOBIG) {
      /* A message over 4 MiB announced: disconnect the sender. */
      cpc_net_conn *c = cpc_net_stream_conn(xs->s);
      ex->st.oversized++;
      stream_drop(xs);
      cpc_net_conn_close(c);
      return;
    }
    if (rc != 0) {
      ex->st.bad_messages++;
      stream_drop(xs);
      return;
    }
    data += used;
    len -= used;
    ex->st.bytes_in += used;
    if (msg) {
      cpc_bitswap_message m;
      ex->st.messages_in++;
      rc = cpc_bitswap_message_decode(msg, msg_len, &m);
      if (rc != 0) {
        ex->st.bad_messages++;
        stream_drop(xs);
        return;
      }
      deliver(ex, xs->peer, xs->v, &m);
      cpc_bitswap_message_free(&m);
    }
  }
}

static void on_eof(cpc_net_stream *s, void *ud) {
  struct cpc__xstream *xs = ud;
  if (xs->outbound)
    return;                /* the peer will not write back; we go on writing */
  cpc_net_stream_close(s); /* the sender is done: close our side too */
  stream_free(xs);
}

static void pump(struct cpc__xpeer *p);

static void on_writable(cpc_net_stream *s, void *ud) {
  struct cpc__xstream *xs = ud;
  (void)s;
  if (xs->peer && xs->peer->out == xs)
    pump(xs->peer);
}

static void on_open(cpc_net_stream *s, void *ud) {
  struct cpc__xstream *xs = ud;
  struct cpc__xpeer *p = xs->peer;
  cpc_exchange *ex = xs->ex;
  (void)s;
  xs->open = 1;
  p->v = xs->v;
  p->have_v = 1;
  p->unsupported = 0;
  (void)cpc_bitswap_server_set_version(ex->server, &p->id, p->v);
  if (cpc_bitswap_client_peer_add(ex->client, &p->id, p->v) == 0) {
    int was = p->in_client;
    p->in_client = 1;
    if (!was)
      cpc__xfetch_peer_state(ex, p, 0);
  }
  pump(p);
}

static void on_close(cpc_net_stream *s, int status, void *ud) {
  struct cpc__xstream *xs = ud;
  struct cpc__xpeer *p = xs->peer;
  cpc_exchange *ex = xs->ex;
  int was_open = xs->open, outbound = xs->outbound;
  (void)s;
  if (!outbound || p->out != xs) {
    stream_free(xs);
    return;
  }
  p->n_streams++; /* keep p while we decide */
  stream_free(xs);
  p->n_streams--;
  if (!was_open && status == CPC_EUNSUPPORTED && p->vtry + 1 < N_VERSIONS) {
    p->vtry++;
    if (cpc__xpeer_open(p) == 0)
      goto out;
    status = CPC_ECLOSED;
  }
  if (!was_open) {
    /* No version agreed (or the connection went): drop what waited. */
    free(p->pending);
    p->pending = NULL;
    p->vtry = 0;
    if (status == CPC_EUNSUPPORTED)
      p->unsupported = 1;
    cpc__xfetch_peer_state(ex, p, status ? status : CPC_ECLOSED);
  } else if (p->conn) {
    cpc__xpeer_kick(p); /* reopen if the engines still have something */
  }
out:
  peer_maybe_free(p);
}

static const cpc_net_stream_callbacks stream_cbs = {
    .on_open = on_open,
    .on_data = on_data,
    .on_eof = on_eof,
    .on_writable = on_writable,
    .on_close = on_close,
};

int cpc__xpeer_open(struct cpc__xpeer *p) {
  cpc_exchange *ex = p->ex;
  struct cpc__xstream *xs;
  enum cpc_bitswap_version v;
  int rc;
  if (p->out)
    return 0;
  if (!p->conn || ex->closing)
    return CPC_ECLOSED;
  if (p->have_v && p->vtry == 0) {
    for (int i = 0; i < N_VERSIONS; i++)
      if (versions[i] == p->v)
        p->vtry = i;
  }
  v = versions[p->vtry];
  xs = stream_new(ex, p, 1, v);
  if (!xs)
    return CPC_ENOMEM;
  rc = cpc_net_stream_open(p->conn, cpc_bitswap_protocol_id(v), &stream_cbs, xs,
                           &xs->s);
  if (rc != 0) {
    xs->peer = NULL;
    p->n_streams--;
    stream_unlink(xs);
    cpc_bitswap_reader_free(&xs->rd);
    free(xs);
    return rc;
  }
  p->out = xs;
  return 0;
}

static void on_stream(cpc_net_stream *s, const char *protocol, void *ud) {
  cpc_exchange *ex = ud;
  enum cpc_bitswap_version v;
  cpc_net_conn *c = cpc_net_stream_conn(s);
  struct cpc__xpeer *p;
  struct cpc__xstream *xs;
  cpc_peer_id id;
  if (ex->closing ||
      cpc_bitswap_version_from_id(protocol, strlen(protocol), &v) != 0) {
    cpc_net_stream_reset(s);
    return;
  }
  cpc_net_conn_peer_id(c, &id);
  if (cpc__xpeer_get(ex, &id, &p) != 0) {
    cpc_net_stream_reset(s);
    return;
  }
  if (!p->conn)
    p->conn = c;
  xs = stream_new(ex, p, 0, v);
  if (!xs) {
    cpc_net_stream_reset(s);
    peer_maybe_free(p);
    return;
  }
  xs->s = s;
  cpc_net_stream_set_callbacks(s, &stream_cbs, xs);
}

/* ---- sending ------------------------------------------------------------ */

/* The next message for p from either engine, alternating. */
static int pull_one(struct cpc__xpeer *p, uint8_t **out, size_t *len) {
  cpc_exchange *ex = p->ex;
  for (int i = 0; i < 2; i++) {
    int server = (i == 0) == (p->turn != 0);
    int rc;
    if (server)
      rc = cpc_bitswap_server_pull(ex->server, &p->id, out, len);
    else if (p->in_client)
      rc = cpc_bitswap_client_pull(ex->client, &p->id, out, len);
    else
      continue;
    if (rc == 0) {
      p->turn = !server;
      return 0;
    }
  }
  return CPC_EAGAIN;
}

/* Move messages from the engines to p's outbound stream while it takes
 * them; open the stream when there is something to send. */
static void pump(struct cpc__xpeer *p) {
  cpc_exchange *ex = p->ex;
  for (;;) {
    int rc;
    if (p->out && (!p->out->open || !cpc_net_stream_writable(p->out->s)))
      return;
    if (!p->pending && pull_one(p, &p->pending, &p->pending_len) != 0)
      return;
    if (!p->out) {
      if (cpc__xpeer_open(p) != 0) {
        free(p->pending); /* nowhere to send it: the peer is gone */
        p->pending = NULL;
      }
      return;
    }
    rc = cpc_net_stream_write(p->out->s, p->pending, p->pending_len);
    if (rc == CPC_EAGAIN)
      return;
    if (rc == 0) {
      ex->st.messages_out++;
      ex->st.bytes_out += p->pending_len;
    }
    free(p->pending);
    p->pending = NULL;
    if (rc != 0) {
      stream_drop(p->out);
      return;
    }
  }
}

/* ---- the kick: deferred work -------------------------------------------- */

static void kick_cb(uv_idle_t *h) {
  cpc_exchange *ex = h->data;
  while (ex->kick_head) {
    struct cpc__xpeer *p = ex->kick_head;
    ex->kick_head = p->knext;
    p->knext = NULL;
    p->kicked = 0;
    pump(p);
    peer_maybe_free(p);
  }
  for (cpc_exchange_fetch *f = ex->fetches, *next; f; f = next) {
    next = f->next;
    if (f->kicked) {
      f->kicked = 0;
      cpc__xfetch_step(f); /* may free f */
    }
  }
  if (!ex->kick_head) {
    int more = 0;
    for (cpc_exchange_fetch *f = ex->fetches; f; f = f->next)
      more |= f->kicked;
    if (!more) {
      uv_idle_stop(&ex->kick);
      ex->kick_active = 0;
    }
  }
}

static void start_kick(cpc_exchange *ex) {
  if (ex->kick_active || ex->closing)
    return;
  ex->kick_active = 1;
  uv_idle_start(&ex->kick, kick_cb);
}

void cpc__xfetch_kick(cpc_exchange_fetch *f) {
  if (f->ex->closing)
    return;
  f->kicked = 1;
  start_kick(f->ex);
}

static void tick_cb(uv_timer_t *t) {
  cpc_exchange *ex = t->data;
  uint64_t now = uv_now(ex->loop);
  cpc_bitswap_server_tick(ex->server, now);
  cpc_bitswap_client_tick(ex->client, now);
  cpc__xswarm_tick(ex, now);
}

/* ---- the service -------------------------------------------------------- */

int cpc_exchange_new(uv_loop_t *loop, cpc_net *net, cpc_blockstore *bs,
                     const cpc_exchange_config *cfg, cpc_exchange **out) {
  cpc_exchange_config d;
  cpc_bitswap_source src = {src_has, src_get, NULL};
  cpc_bitswap_client_callbacks ccb = {cpc__xfetch_on_block, cpc__xfetch_on_done,
                                      engine_on_ready};
  cpc_exchange *ex;
  size_t registered = 0;
  int rc;

  if (!loop || !net || !out)
    return CPC_EINVAL;
  if (!cfg) {
    cpc_exchange_config_default(&d);
    cfg = &d;
  }
  if (cfg->tick_ms == 0 || (cfg->superseed && cfg->swarm_lookup_ms == 0))
    return CPC_EINVAL;
  ex = calloc(1, sizeof *ex);
  if (!ex)
    return CPC_ENOMEM;
  ex->net = net;
  ex->bs = bs;
  ex->cfg = *cfg;
  ex->cfg.server.on_ready = engine_on_ready;
  ex->cfg.server.ud = ex;
  ex->cfg.server.superseed = cfg->superseed != 0 && cfg->superseed_serve != 0;
  src.ud = ex;
  rc = cpc_bitswap_server_new(&ex->server, &ex->cfg.server, &src);
  if (rc == 0)
    rc = cpc_bitswap_client_new(&ex->client, &ex->cfg.client, &ccb, ex);
  for (; rc == 0 && registered < N_PROTOCOLS; registered++)
    rc = cpc_net_handle(net, protocols[registered], on_stream, ex);
  if (rc != 0) {
    while (registered-- > 0)
      if (registered < N_PROTOCOLS)
        cpc_net_unhandle(net, protocols[registered]);
    cpc_bitswap_client_free(ex->client);
    cpc_bitswap_server_free(ex->server);
    free(ex);
    return rc;
  }
  ex->loop = loop;
  uv_timer_init(ex->loop, &ex->tick);
  uv_idle_init(ex->loop, &ex->kick);
  ex->tick.data = ex->kick.data = ex;
  ex->handles_open = 2;
  /* the engines' clocks start at 0: set them before any session starts */
  cpc_bitswap_server_tick(ex->server, uv_now(loop));
  cpc_bitswap_client_tick(ex->client, uv_now(loop));
  uv_timer_start(&ex->tick, tick_cb, ex->cfg.tick_ms, ex->cfg.tick_ms);
  uv_unref((uv_handle_t *)&ex->tick);
  *out = ex;
  return 0;
}

static void handle_closed(uv_handle_t *h) {
  cpc_exchange *ex = h->data;
  if (--ex->handles_open > 0)
    return;
  if (ex->close_cb)
    ex->close_cb(ex->close_ud);
  free(ex);
}

void cpc_exchange_close(cpc_exchange *ex, void (*cb)(void *ud), void *ud) {
  if (!ex || ex->closing)
    return;
  ex->closing = 1;
  ex->close_cb = cb;
  ex->close_ud = ud;
  for (size_t i = 0; i < N_PROTOCOLS; i++)
    cpc_net_unhandle(ex->net, protocols[i]);
  while (ex->fetches)
    cpc__xfetch_abandon(ex->fetches);
  while (ex->kick_head) {
    struct cpc__xpeer *p = ex->kick_head;
    ex->kick_head = p->knext;
    p->kicked = 0;
  }
  while (ex->streams)
    stream_drop(ex->streams);
  while (ex->peers) {
    struct cpc__xpeer *p = ex->peers;
    p->conn = NULL;
    peer_maybe_free(p);
  }
  cpc_bitswap_client_free(ex->client);
  cpc_bitswap_server_free(ex->server);
  ex->client = NULL;
  ex->server = NULL;
  uv_timer_stop(&ex->tick);
  uv_idle_stop(&ex->kick);
  uv_close((uv_handle_t *)&ex->tick, handle_closed);
  uv_close((uv_handle_t *)&ex->kick, handle_closed);
}

void cpc_exchange_conn_closed(cpc_exchange *ex, cpc_net_conn *conn) {
  if (!ex || ex->closing || !conn)
    return;
  /* Streams of conn: a peer whose conn this is stays (p->conn is set). */
  for (struct cpc__xstream *xs = ex->streams, *next; xs; xs = next) {
    next = xs->next;
    if (xs->s && cpc_net_stream_conn(xs->s) == conn)
      stream_drop(xs);
  }
  for (struct cpc__xpeer *p = ex->peers, *next; p; p = next) {
    next = p->next;
    if (p->conn != conn)
      continue;
    p->conn = NULL;
    free(p->pending);
    p->pending = NULL;
    p->vtry = 0;
    if (p->in_client) {
      p->in_client = 0;
      cpc_bitswap_client_peer_gone(ex->client, &p->id);
    }
    cpc_bitswap_server_peer_gone(ex->server, &p->id);
    cpc__xfetch_peer_state(ex, p, CPC_ECLOSED);
    peer_maybe_free(p);
  }
}

void cpc_exchange_stats_get(const cpc_exchange *ex, cpc_exchange_stats *st) {
  cpc_bitswap_client_stats cs;
  cpc_bitswap_server_stats ss;
  *st = ex->st;
  if (ex->server) {
    cpc_bitswap_server_stats_get(ex->server, &ss);
    st->holds = ss.holds;
    st->hold_released = ss.hold_released;
  }
  if (ex->client) {
    cpc_bitswap_client_stats_get(ex->client, &cs);
    st->blocks_received = cs.blocks_received;
    st->bytes_received = cs.bytes_received;
    st->blocks_unwanted = cs.blocks_unwanted;
    st->blocks_dropped = cs.blocks_dropped;
  }
  st->peers = ex->n_peers;
}
