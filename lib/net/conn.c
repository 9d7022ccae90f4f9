/*
 * conn.c: one connection of the host: socket I/O, the upgrade
 * (multistream-select /noise, Noise XX, multistream-select /yamux/1.0.0
 * inside the encrypted channel, yamux), the write path (yamux output ->
 * Noise frames -> socket), timeouts and teardown.
 */
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/net.h"
#include "net/host_int.h"

static const char *const SECURITY[] = {CPC_NOISE_PROTOCOL_ID};
static const char *const MUXERS[] = {CPC_YAMUX_PROTOCOL_ID};

/* One socket write: the request and a copy of the bytes. Buffers of
 * CPC__NET_WBUF_CAP bytes come from and go back to the host's pool; they
 * serve every write over WREQ_SMALL bytes (a fresh allocation that large
 * would be mapped, faulted in and zeroed by the kernel for each write). */
#define WREQ_SMALL (64u * 1024u)

struct cpc__wreq {
  uv_write_t req;
  cpc_net_conn *conn;
  struct cpc__wreq *next_free;
  size_t len, cap;
  uint8_t data[];
};

static struct cpc__wreq *wreq_new(cpc_net *net, size_t cap) {
  struct cpc__wreq *w;
  if (cap <= CPC__NET_WBUF_CAP && cap > WREQ_SMALL) {
    net->wpool_used = 1;
    if ((w = net->wpool) != NULL) {
      net->wpool = w->next_free;
      net->n_wpool--;
      return w;
    }
    cap = CPC__NET_WBUF_CAP;
  }
  w = malloc(sizeof *w + cap);
  if (w)
    w->cap = cap;
  return w;
}

static void wreq_free(cpc_net *net, struct cpc__wreq *w) {
  if (w->cap == CPC__NET_WBUF_CAP && net->n_wpool < CPC__NET_WPOOL_MAX) {
    w->next_free = net->wpool;
    net->wpool = w;
    net->n_wpool++;
    return;
  }
  free(w);
}

void cpc__conn_wpool_trim(cpc_net *net, int all) {
  if (!all && net->wpool_used) {
    net->wpool_used = 0;
    return;
  }
  while (net->wpool) {
    struct cpc__wreq *w = net->wpool;
    net->wpool = w->next_free;
    free(w);
  }
  net->n_wpool = 0;
}

static void close_cb(uv_handle_t *h);

void cpc__conn_mark_dirty(cpc_net_conn *c) {
  if (c->dirty || uv_is_closing((uv_handle_t *)&c->tcp))
    return;
  c->dirty = 1;
  cpc__list_push(&c->net->dirty, &c->dlink);
  cpc__net_kick(c->net);
}

int cpc__conn_new(cpc_net *net, int outbound, cpc_net_conn **out) {
  cpc_net_conn *c = calloc(1, sizeof *c);
  *out = NULL;
  if (!c)
    return CPC_ENOMEM;
  c->net = net;
  c->outbound = outbound;
  c->state = CPC__CONN_CONNECTING;
  c->t_start = c->t_active = cpc__net_now(net);
  cpc__list_init(&c->streams);
  cpc__list_init(&c->dlink);
  uv_tcp_init(net->loop, &c->tcp);
  c->tcp.data = c;
  net->handles++;
  cpc__list_push(&net->conns, &c->link);
  net->n_conns++;
  *out = c;
  return 0;
}

void cpc__conn_fail(cpc_net_conn *c, int reason) {
  if (c->reconnecting) { /* the reconnect's close callback finishes it */
    if (!c->closing)
      c->reason = reason;
    c->closing = 1;
    return;
  }
  if (uv_is_closing((uv_handle_t *)&c->tcp))
    return;
  if (!c->closing)
    c->reason = reason;
  c->closing = 1;
  uv_close((uv_handle_t *)&c->tcp, close_cb);
}

static void reconnect_cb(uv_handle_t *h) {
  cpc_net_conn *c = h->data;
  c->reconnecting = 0;
  uv_tcp_init(c->net->loop, &c->tcp); /* same handle count: one closed */
  c->tcp.data = c;
  if (c->closing || c->net->closing) {
    c->closing = 1;
    uv_close((uv_handle_t *)&c->tcp, close_cb);
    return;
  }
  cpc__dial_next(c);
}

void cpc__conn_reconnect(cpc_net_conn *c) {
  if (c->reconnecting || uv_is_closing((uv_handle_t *)&c->tcp))
    return;
  c->reconnecting = 1;
  uv_close((uv_handle_t *)&c->tcp, reconnect_cb);
}

/* The host's socket output fell under its budget: every connection held
 * back by it gets its turn again. */
static void wake_host_waiters(cpc_net *net) {
  net->inflight_waiters = 0;
  for (struct cpc__list *l = net->conns.next; l != &net->conns; l = l->next) {
    cpc_net_conn *c = CPC__CONTAINER(l, cpc_net_conn, link);
    if (c->wait_host) {
      c->wait_host = 0;
      cpc__conn_mark_dirty(c);
    }
  }
}

static void write_cb(uv_write_t *req, int status) {
  struct cpc__wreq *w = CPC__CONTAINER(req, struct cpc__wreq, req);
  cpc_net_conn *c = w->conn;
  cpc_net *net = c->net;
  c->inflight -= w->len;
  net->inflight -= w->len;
  wreq_free(net, w);
  if (net->inflight_waiters &&
      net->inflight < net->lim.max_host_socket_output)
    wake_host_waiters(net);
  if (status < 0) {
    cpc__conn_fail(c, CPC_EIO);
    return;
  }
  if (!c->closing)
    cpc__conn_mark_dirty(c);
}

static int submit(cpc_net_conn *c, struct cpc__wreq *w) {
  uv_buf_t buf = uv_buf_init((char *)w->data, (unsigned)w->len);
  int rc;
  if (c->inflight + w->len > c->net->lim.max_conn_output) {
    wreq_free(c->net, w);
    return CPC_ENOSPC; /* the peer is not reading */
  }
  w->conn = c;
  rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, write_cb);
  if (rc != 0) {
    wreq_free(c->net, w);
    return CPC_EIO;
  }
  c->inflight += w->len;
  c->net->inflight += w->len;
  cpc__throttle_sent(c->net, w->len);
  return 0;
}

/* Write a copy of data[0..len) as it is (before Noise is up). */
static int write_raw(cpc_net_conn *c, const uint8_t *data, size_t len) {
  struct cpc__wreq *w;
  if (uv_is_closing((uv_handle_t *)&c->tcp))
    return CPC_ECLOSED;
  w = wreq_new(c->net, len);
  if (!w)
    return CPC_ENOMEM;
  w->len = len;
  memcpy(w->data, data, len);
  return submit(c, w);
}

/* Encrypt plain[0..len) into Noise frames and write them. */
static int write_secure(cpc_net_conn *c, const uint8_t *plain, size_t len) {
  size_t cap = cpc_noise_encrypted_size(len), n = 0;
  struct cpc__wreq *w;
  int rc;
  if (uv_is_closing((uv_handle_t *)&c->tcp))
    return CPC_ECLOSED;
  w = wreq_new(c->net, cap);
  if (!w)
    return CPC_ENOMEM;
  rc = cpc_noise_session_encrypt(c->noise, plain, len, w->data, cap, &n);
  if (rc != 0) {
    wreq_free(c->net, w);
    return rc;
  }
  w->len = n;
  return submit(c, w);
}

/* Send what the connection-level multistream has queued. */
static int flush_mss(cpc_net_conn *c, int secure) {
  const uint8_t *p;
  size_t n = cpc_mss_output(c->mss, &p);
  int rc;
  if (n == 0)
    return 0;
  rc = secure ? write_secure(c, p, n) : write_raw(c, p, n);
  if (rc == 0)
    cpc_mss_output_done(c->mss, n);
  return rc;
}

/* Feed the connection-level multistream; *used gets the bytes it took. */
static int feed_mss(cpc_net_conn *c, const uint8_t *in, size_t len, int secure,
                    size_t *used) {
  size_t off = 0, u;
  int rc = 0;
  while (off < len) {
    rc = cpc_mss_feed(c->mss, in + off, len - off, &u);
    off += u;
    if (rc == 0)
      rc = flush_mss(c, secure);
    if (rc != 0 || cpc_mss_state(c->mss) != CPC_MSS_NEGOTIATING || u == 0)
      break;
  }
  *used = off;
  return rc;
}

/* How much of the yamux output conn_flush sends. */
enum flush_mode {
  FLUSH_PACED, /* while the socket keeps up and the upload cap allows */
  FLUSH_ROOM,  /* until yamux is under its output budget (input can go on) */
  FLUSH_ALL,   /* everything (closing) */
};

/* Whether a paced flush of c may write now, and how much at most (*chunk).
 * Over the host's budget, a connection with a write in flight waits for
 * wake_host_waiters. */
static int paced_room(cpc_net_conn *c, size_t inflight_max, size_t *chunk) {
  cpc_net *net = c->net;
  if (c->inflight >= inflight_max)
    return 0;
  if (net->inflight < net->lim.max_host_socket_output)
    return 1;
  if (c->inflight > 0) {
    c->wait_host = 1;
    net->inflight_waiters = 1;
    return 0;
  }
  if (*chunk > CPC__NET_INFLIGHT_SLOW)
    *chunk = CPC__NET_INFLIGHT_SLOW;
  return 1;
}

/* Send yamux output through Noise. Only FLUSH_PACED waits for the upload
 * cap and the host's socket output budget; the others are charged to
 * them. */
static int conn_flush(cpc_net_conn *c, enum flush_mode mode) {
  size_t out_max = c->net->lim.max_conn_output;
  size_t inflight_max =
      CPC__NET_INFLIGHT < out_max / 2 ? CPC__NET_INFLIGHT : out_max / 2;
  size_t chunk_max =
      CPC__NET_WRITE_CHUNK < out_max / 4 ? CPC__NET_WRITE_CHUNK : out_max / 4;
  while (c->yamux && !uv_is_closing((uv_handle_t *)&c->tcp)) {
    const uint8_t *p;
    size_t chunk = chunk_max, n;
    int rc;
    if (mode == FLUSH_PACED && !paced_room(c, inflight_max, &chunk))
      break;
    n = cpc_yamux_output(c->yamux, &p);
    if (n == 0 || (mode == FLUSH_ROOM && n <= c->y_max_output))
      break;
    if (n > chunk)
      n = chunk;
    if (mode == FLUSH_PACED && (n = cpc__throttle_up_allow(c, n)) == 0)
      break;
    if ((rc = write_secure(c, p, n)) != 0)
      return rc;
    cpc_yamux_output_done(c->yamux, n);
  }
  return 0;
}

static int feed_yamux(cpc_net_conn *c, const uint8_t *in, size_t len) {
  while (len > 0 && !c->closing) {
    size_t used = 0;
    int rc = cpc_yamux_feed(c->yamux, in, len, &used);
    in += used;
    len -= used;
    if (rc != 0) {
      (void)conn_flush(c, FLUSH_ALL); /* the GoAway, if the socket takes it */
      return rc;
    }
    if (len > 0 && (rc = conn_flush(c, FLUSH_ROOM)) != 0)
      return rc; /* ENOSPC: output over max_conn_output */
  }
  return 0;
}

static void start_yamux(cpc_net_conn *c) {
  cpc_net *net = c->net;
  cpc_yamux_config cfg;
  cpc_yamux_callbacks cb;
  int rc;
  cpc_yamux_config_default(&cfg, c->outbound);
  cfg.max_streams = net->lim.max_streams_per_conn;
  cfg.max_pending = net->lim.max_pending_inbound;
  memset(&cb, 0, sizeof cb);
  cb.on_stream_open = cpc__stream_on_open;
  cb.on_stream_data = cpc__stream_on_data;
  cb.on_stream_fin = cpc__stream_on_fin;
  cb.on_stream_reset = cpc__stream_on_reset;
  cb.on_stream_writable = cpc__stream_on_writable;
  c->y_max_output = cfg.max_output;
  rc = cpc_yamux_new(&c->yamux, &cfg, &cb, c);
  if (rc != 0) {
    cpc__conn_fail(c, rc);
    return;
  }
  c->state = CPC__CONN_OPEN;
  c->t_active = c->t_rx = cpc__net_now(net);
  cpc__conn_mark_dirty(c); /* announce, and flush the yamux ping */
}

/* --- Noise callbacks ---------------------------------------------------- */

static int noise_send(void *user, const uint8_t *data, size_t len) {
  return write_raw(user, data, len);
}

static int noise_done(void *user, const cpc_noise_remote *remote) {
  cpc_net_conn *c = user;
  int rc;
  c->peer = remote->peer_id;
  if (cpc_peer_id_equal(&c->peer, &c->net->id))
    return CPC_EINVAL; /* a connection to ourselves */
  c->state = CPC__CONN_MUXER;
  if (!(c->mss = malloc(sizeof *c->mss)))
    return CPC_ENOMEM;
  rc = cpc_mss_init(c->mss, c->outbound ? CPC_MSS_DIALER : CPC_MSS_LISTENER,
                    MUXERS, 1);
  return rc ? rc : flush_mss(c, 1);
}

static int noise_plaintext(void *user, uint8_t *data, size_t len) {
  cpc_net_conn *c = user;
  size_t used = 0;
  int rc;
  /* after a graceful close, the rest of the input is skipped without
   * failing the session: the GoAway must still be encrypted */
  if (c->closing)
    return c->close_graceful ? 0 : CPC_ECLOSED;
  if (c->state == CPC__CONN_MUXER) {
    if ((rc = feed_mss(c, data, len, 1, &used)) != 0)
      return rc;
    if (cpc_mss_state(c->mss) != CPC_MSS_NEGOTIATED)
      return 0;
    free(c->mss);
    c->mss = NULL;
    start_yamux(c);
    if (c->closing)
      return c->close_graceful ? 0 : CPC_ECLOSED;
    data += used;
    len -= used;
  }
  rc = feed_yamux(c, data, len);
  if (rc == 0 && c->closing && !c->close_graceful)
    rc = CPC_ECLOSED;
  return rc;
}

/* --- input -------------------------------------------------------------- */

static int start_noise(cpc_net_conn *c) {
  cpc_noise_config cfg;
  cpc_noise_callbacks cb;
  int rc;
  memset(&cfg, 0, sizeof cfg);
  cfg.initiator = c->outbound;
  cfg.identity = &c->net->key;
  cfg.expected_peer = c->has_expected ? &c->expected : NULL;
  /* no stream muxers in the extensions: js-libp2p would then skip the
   * multistream-select for the muxer, which we always run */
  memset(&cb, 0, sizeof cb);
  cb.send = noise_send;
  cb.handshake_done = noise_done;
  cb.plaintext = noise_plaintext;
  rc = cpc_noise_session_new(&cfg, &cb, c, &c->noise);
  if (rc != 0)
    return rc;
  c->state = CPC__CONN_NOISE;
  return cpc_noise_session_start(c->noise);
}

static int conn_input(cpc_net_conn *c, uint8_t *data, size_t len) {
  int rc;
  if (c->state == CPC__CONN_SECURITY) {
    size_t used = 0;
    if ((rc = feed_mss(c, data, len, 0, &used)) != 0)
      return rc;
    if (cpc_mss_state(c->mss) != CPC_MSS_NEGOTIATED)
      return 0;
    free(c->mss);
    c->mss = NULL;
    if ((rc = start_noise(c)) != 0)
      return rc;
    data += used;
    len -= used;
  }
  if (len == 0)
    return 0;
  return cpc_noise_session_recv(c->noise, data, len);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  cpc_net_conn *c = h->data;
  (void)suggested;
  buf->base = (char *)c->net->rbuf;
  /* 0 under the download cap: read_cb gets UV_ENOBUFS and pauses */
  buf->len = cpc__throttle_read_size(c->net, sizeof c->net->rbuf);
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  cpc_net_conn *c = st->data;
  int rc;
  if (nread == 0 || c->closing)
    return;
  if (nread == UV_ENOBUFS) { /* the download bucket is empty */
    cpc__throttle_read_wait(c);
    return;
  }
  if (nread < 0) {
    cpc__conn_fail(c, nread == UV_EOF ? CPC_ECLOSED : CPC_EIO);
    return;
  }
  (void)cpc__throttle_received(c, (size_t)nread);
  c->t_active = c->t_rx = cpc__net_now(c->net);
  c->t_ping = 0; /* any byte from the peer proves it is alive */
  if (c->state != CPC__CONN_OPEN) {
    c->preupgrade += (size_t)nread;
    if (c->preupgrade > c->net->lim.max_preupgrade_bytes) {
      cpc__conn_fail(c, CPC_ETOOBIG);
      return;
    }
  }
  rc = conn_input(c, (uint8_t *)buf->base, (size_t)nread);
  if (c->closing) { /* a callback closed it; a graceful close goes on */
    if (!c->close_graceful)
      cpc__conn_fail(c, c->reason);
    return;
  }
  /* window updates and pongs go out now, not after the rest of the
   * socket is drained: the sender must not stall on them */
  if (rc == 0 && c->yamux)
    rc = conn_flush(c, FLUSH_PACED);
  if (rc != 0) {
    cpc__conn_fail(c, rc);
    return;
  }
  if (c->yamux)
    cpc__conn_mark_dirty(c);
}

void cpc__conn_start(cpc_net_conn *c) {
  int rc;
  c->t_start = c->t_active = cpc__net_now(c->net);
  c->state = CPC__CONN_SECURITY;
  if (!(c->mss = malloc(sizeof *c->mss))) {
    cpc__conn_fail(c, CPC_ENOMEM);
    return;
  }
  rc = cpc_mss_init(c->mss, c->outbound ? CPC_MSS_DIALER : CPC_MSS_LISTENER,
                    SECURITY, 1);
  if (rc == 0)
    rc = flush_mss(c, 0);
  if (rc == 0)
    rc = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) ? CPC_EIO : 0;
  if (rc != 0)
    cpc__conn_fail(c, rc);
}

void cpc__conn_read_resume(cpc_net_conn *c) {
  if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) != 0)
    cpc__conn_fail(c, CPC_EIO);
}

/* --- settle, sweep, teardown ---------------------------------------------- */

static void shutdown_cb(uv_shutdown_t *req, int status) {
  cpc_net_conn *c = req->data;
  (void)status;
  cpc__conn_fail(c, c->reason);
}

static void announce(cpc_net_conn *c) {
  cpc_net *net = c->net;
  c->announced = 1;
  net->n_open++;
  if (c->outbound)
    cpc__backoff_result(net, c->backoff_key, c->backoff_key_len, 1);
  if (net->ev.on_conn_open)
    net->ev.on_conn_open(net, c, net->ev_ud);
  if (!c->closing)
    cpc__identify_start(c);
}

void cpc__conn_service(cpc_net_conn *c) {
  struct cpc__list *l;
  int rc;

  if (c->closing) {
    if (c->close_graceful && !uv_is_closing((uv_handle_t *)&c->tcp) &&
        !c->shutdown_req.data) {
      (void)conn_flush(c, FLUSH_ALL);
      c->shutdown_req.data = c;
      if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, shutdown_cb) !=
          0)
        cpc__conn_fail(c, c->reason);
    }
    return;
  }
  if (c->state != CPC__CONN_OPEN)
    return;
  if (!c->announced)
    announce(c);
  while (c->waiters && !c->closing) {
    struct cpc__dial_waiter *w = c->waiters;
    c->waiters = w->next;
    w->cb(c->net, 0, c, w->ud);
    free(w);
  }
  for (l = c->streams.next; l != &c->streams && !c->closing; l = l->next) {
    cpc_net_stream *s = CPC__CONTAINER(l, cpc_net_stream, link);
    if (!s->dead)
      cpc__stream_service(s);
  }
  if (c->closing)
    return;
  if ((rc = conn_flush(c, FLUSH_PACED)) != 0)
    cpc__conn_fail(c, rc);
}

void cpc__conn_sweep(cpc_net_conn *c, uint64_t now) {
  const cpc_net_limits *lim = &c->net->lim;
  struct cpc__list *l;
  if (uv_is_closing((uv_handle_t *)&c->tcp))
    return;
  if (c->closing) {
    if (now - c->t_closing > CPC__NET_CLOSE_GRACE_MS)
      cpc__conn_fail(c, c->reason);
    return;
  }
  switch (c->state) {
  case CPC__CONN_CONNECTING:
    if (now - c->t_start >= lim->dial_timeout_ms)
      cpc__conn_fail(c, CPC_ETIMEDOUT);
    return;
  case CPC__CONN_SECURITY:
  case CPC__CONN_NOISE:
  case CPC__CONN_MUXER:
    if (now - c->t_start >= lim->handshake_timeout_ms)
      cpc__conn_fail(c, CPC_ETIMEDOUT);
    return;
  default: break;
  }
  for (l = c->streams.next; l != &c->streams && !c->closing; l = l->next) {
    cpc_net_stream *s = CPC__CONTAINER(l, cpc_net_stream, link);
    if (!s->dead && s->deadline_ms && now >= s->deadline_ms)
      cpc__stream_fail(s, s->deadline_status);
  }
  if (c->yamux && lim->keepalive_ms) {
    /* Keep-alive: ping a peer that has been silent, drop it if the silence
     * lasts as long again (the answer, or any byte, clears t_ping). */
    if (c->t_ping && now - c->t_ping >= lim->keepalive_ms) {
      cpc__conn_fail(c, CPC_ETIMEDOUT);
      return;
    }
    if (!c->t_ping && now - c->t_rx >= lim->keepalive_ms &&
        cpc_yamux_ping(c->yamux) == 0) {
      c->t_ping = now ? now : 1;
      cpc__conn_mark_dirty(c);
    }
  }
  if (c->yamux && now - c->t_active >= c->net->sweep_ms)
    cpc_yamux_trim(c->yamux); /* quiet: give the output buffer back */
  if (!c->closing && lim->idle_timeout_ms && c->n_streams == 0 &&
      now - c->t_active >= lim->idle_timeout_ms) {
    cpc_net_conn_close(c);
    c->reason = CPC_ETIMEDOUT;
  }
}

static void close_cb(uv_handle_t *h) {
  cpc_net_conn *c = h->data;
  cpc_net *net = c->net;
  int reason = c->reason;
  struct cpc__list *l;

  if (c->dirty) {
    cpc__list_remove(&c->dlink);
    c->dirty = 0;
  }
  cpc__list_remove(&c->link);
  net->n_conns--;
  if (c->announced)
    net->n_open--;
  for (l = c->streams.next; l != &c->streams; l = l->next) {
    cpc_net_stream *s = CPC__CONTAINER(l, cpc_net_stream, link);
    if (!s->dead)
      cpc__stream_conn_lost(s, CPC_ECLOSED);
  }
  while (!cpc__list_empty(&c->streams))
    cpc__list_remove(c->streams.next); /* they are in the graveyard */
  while (c->waiters) {
    struct cpc__dial_waiter *w = c->waiters;
    c->waiters = w->next;
    w->cb(net, reason ? reason : CPC_ECLOSED, NULL, w->ud);
    free(w);
  }
  if (c->outbound && !c->announced)
    cpc__backoff_result(net, c->backoff_key, c->backoff_key_len, 0);
  if (c->announced && net->ev.on_conn_close)
    net->ev.on_conn_close(net, c, reason, net->ev_ud);
  cpc__dial_forget(c);
  free(c->mss);
  cpc_noise_session_free(c->noise);
  cpc_yamux_free(c->yamux);
  free(c->observed);
  free(c);
  if (net->grave)
    cpc__net_kick(net);
  cpc__net_conns_gone(net);
  cpc__net_handle_closed(net);
}

cpc_net_conn *cpc__conn_find_peer(cpc_net *net, const cpc_peer_id *id) {
  for (struct cpc__list *l = net->conns.next; l != &net->conns; l = l->next) {
    cpc_net_conn *c = CPC__CONTAINER(l, cpc_net_conn, link);
    if (c->state == CPC__CONN_OPEN && !c->closing &&
        cpc_peer_id_equal(&c->peer, id))
      return c;
  }
  return NULL;
}

/* --- public accessors ------------------------------------------------------
 */

void cpc_net_conn_close(cpc_net_conn *c) {
  if (c->closing)
    return;
  if (c->state != CPC__CONN_OPEN || !c->yamux) {
    cpc__conn_fail(c, 0);
    return;
  }
  (void)cpc_yamux_go_away(c->yamux, CPC_YAMUX_GO_AWAY_NORMAL);
  c->closing = 1;
  c->close_graceful = 1;
  c->reason = 0;
  c->t_closing = cpc__net_now(c->net);
  uv_read_stop((uv_stream_t *)&c->tcp);
  cpc__conn_mark_dirty(c);
}

void cpc_net_conn_peer_id(const cpc_net_conn *c, cpc_peer_id *id) {
  *id = c->peer;
}

int cpc_net_conn_remote_addr(const cpc_net_conn *c, cpc_multiaddr *ma) {
  struct sockaddr_storage ss;
  int len = sizeof ss;
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0)
    return CPC_EIO;
  return cpc__sockaddr_to_multiaddr(&ss, ma) == 0 ? 0 : CPC_EIO;
}

int cpc_net_conn_observed_addr(const cpc_net_conn *c, cpc_multiaddr *ma) {
  if (!c->observed)
    return CPC_ENOENT;
  *ma = *c->observed;
  return 0;
}

int cpc_net_conn_outbound(const cpc_net_conn *c) {
  return c->outbound;
}

size_t cpc_net_conn_stream_count(const cpc_net_conn *c) {
  return c->n_streams;
}
