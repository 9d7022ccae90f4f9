/*
 * client_conn.c: one client connection: TCP connect (bounded by
 * cfg.connect_timeout_ms until the server's SETTINGS arrive), the nghttp2
 * client session and its callbacks, reads and writes, starting waiting
 * calls within the server's MAX_CONCURRENT_STREAMS, keepalive PINGs,
 * GOAWAY, and teardown (every call still on it ends UNAVAILABLE).
 *
 * nghttp2 is never re-entered: a flush asked from inside one of its
 * callbacks (a user callback run from there included) is deferred to the
 * end of mem_recv, and a close to after it. Received DATA is handed back
 * to the flow-control window (nghttp2_session_consume) only once the
 * call has taken it, on_message included.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/rpc_client.h"
#include "rpc/client_int.h"

typedef struct write_req {
  uv_write_t req;
  cpc__rpc_cconn *conn;
  size_t len, cap;
  uint8_t data[];
} write_req;

static void conn_teardown(cpc__rpc_cconn *c, const char *why);

static cpc_rpc_client_call *stream_call(nghttp2_session *h2, int32_t id) {
  return nghttp2_session_get_stream_user_data(h2, id);
}

/* ---- nghttp2 callbacks ------------------------------------------------- */

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *frame,
                            void *ud) {
  cpc_rpc_client_call *call;
  (void)ud;
  if (frame->hd.type != NGHTTP2_HEADERS)
    return 0;
  call = stream_call(h2, frame->hd.stream_id);
  if (call)
    cpc__rpc_ccall_begin_headers(call);
  return 0;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *frame,
                     const uint8_t *name, size_t namelen, const uint8_t *value,
                     size_t valuelen, uint8_t flags, void *ud) {
  cpc_rpc_client_call *call;
  (void)flags;
  (void)ud;
  if (frame->hd.type != NGHTTP2_HEADERS)
    return 0;
  call = stream_call(h2, frame->hd.stream_id);
  if (call)
    cpc__rpc_ccall_header(call, name, namelen, value, valuelen);
  return 0;
}

static void keepalive_start(cpc__rpc_cconn *c);

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *frame,
                         void *ud) {
  cpc__rpc_cconn *c = ud;
  cpc_rpc_client *cl = c->cl;
  cpc_rpc_client_call *call;
  switch (frame->hd.type) {
  case NGHTTP2_SETTINGS:
    if (!c->ready && !(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
      c->ready = 1; /* flushing after mem_recv starts the waiting calls */
      keepalive_start(c);
    }
    return 0;
  case NGHTTP2_PING:
    if (frame->hd.flags & NGHTTP2_FLAG_ACK)
      c->ping_sent_ms = 0;
    return 0;
  case NGHTTP2_GOAWAY:
    /* Streams above last_stream_id are closed by nghttp2 (REFUSED_STREAM);
     * the others run to their end; new calls go to a new connection. */
    c->goaway = 1;
    if (cl->conn == c) {
      /* Calls still waiting for a stream here had not run: they fail
       * (UNAVAILABLE) rather than chase the server round a reconnect. */
      cl->conn = NULL;
      while ((call = cl->pend) != NULL)
        cpc__rpc_ccall_end(call, CPC_RPC_UNAVAILABLE,
                           "the server is going away (GOAWAY)");
    }
    return 0;
  case NGHTTP2_HEADERS:
    call = stream_call(h2, frame->hd.stream_id);
    if (call)
      cpc__rpc_ccall_headers_done(
          call, (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0);
    return 0;
  case NGHTTP2_DATA:
    call = stream_call(h2, frame->hd.stream_id);
    if (call && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
      cpc__rpc_ccall_remote_end(call);
    return 0;
  default:
    return 0;
  }
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t id,
                         const uint8_t *data, size_t len, void *ud) {
  cpc_rpc_client_call *call = stream_call(h2, id);
  (void)flags;
  (void)ud;
  if (call && call->state != CPC__CCALL_ENDED)
    cpc__rpc_ccall_data(call, data, len);
  /* Taken (or dropped): the window goes back to the server. */
  return nghttp2_session_consume(h2, id, len) == NGHTTP2_ERR_NOMEM
             ? NGHTTP2_ERR_CALLBACK_FAILURE
             : 0;
}

static int on_frame_send(nghttp2_session *h2, const nghttp2_frame *frame,
                         void *ud) {
  cpc_rpc_client_call *call;
  (void)ud;
  if ((frame->hd.type != NGHTTP2_DATA && frame->hd.type != NGHTTP2_HEADERS) ||
      !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
    return 0;
  call = stream_call(h2, frame->hd.stream_id);
  if (call)
    call->local_ended = 1;
  return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t id, uint32_t code,
                           void *ud) {
  cpc__rpc_cconn *c = ud;
  cpc_rpc_client_call *call = stream_call(h2, id);
  if (c->n_streams > 0)
    c->n_streams--;
  if (call) {
    (void)nghttp2_session_set_stream_user_data(h2, id, NULL);
    cpc__rpc_ccall_stream_closed(call, code);
  }
  return 0;
}

/* ---- the session ------------------------------------------------------- */

static int session_new(cpc__rpc_cconn *c) {
  const cpc_rpc_client_config *cfg = &c->cl->cfg;
  nghttp2_session_callbacks *cb = NULL;
  nghttp2_option *opt = NULL;
  nghttp2_settings_entry iv[3];
  int rc = CPC_ENOMEM;
  if (nghttp2_session_callbacks_new(&cb) != 0 || nghttp2_option_new(&opt) != 0)
    goto out;
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
  nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
  nghttp2_option_set_no_auto_window_update(opt, 1);
  if (nghttp2_session_client_new2(&c->h2, cb, c, opt) != 0)
    goto out;
  iv[0].settings_id = NGHTTP2_SETTINGS_ENABLE_PUSH;
  iv[0].value = 0;
  iv[1].settings_id = NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE;
  iv[1].value = cfg->initial_window;
  iv[2].settings_id = NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE;
  iv[2].value = cfg->max_header_list;
  if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 3) != 0 ||
      nghttp2_session_set_local_window_size(
          c->h2, NGHTTP2_FLAG_NONE, 0, (int32_t)cfg->connection_window) != 0)
    goto out;
  rc = 0;
out:
  nghttp2_session_callbacks_del(cb);
  nghttp2_option_del(opt);
  return rc;
}

/* ---- output ------------------------------------------------------------ */

static void on_write(uv_write_t *req, int status);

static void submit_chunk(cpc__rpc_cconn *c, write_req *w) {
  uv_buf_t buf = uv_buf_init((char *)w->data, (unsigned)w->len);
  int rc;
  w->conn = c;
  rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_write);
  if (rc != 0) {
    free(w);
    conn_teardown(c, uv_strerror(rc));
    return;
  }
  c->write_pending += w->len;
}

/* Start waiting calls while the server's stream limit allows. */
static void start_waiting(cpc__rpc_cconn *c) {
  cpc_rpc_client *cl = c->cl;
  uint32_t max;
  while (cl->pend && cl->conn == c && !c->goaway && !c->closed &&
         !cl->closing) {
    max = nghttp2_session_get_remote_settings(
        c->h2, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
    if (c->n_streams >= max)
      break;
    if (cpc__rpc_ccall_submit(cl->pend, c) == CPC_EAGAIN) {
      /* Stream ids used up: this connection finishes what it has. */
      c->goaway = 1;
      cl->conn = NULL;
    }
  }
}

/* Fire on_writable for calls that got room, outside nghttp2. Returns 1 if
 * any fired (they may have queued more output). */
static int run_notifications(cpc__rpc_cconn *c) {
  int fired = 0;
  while (c->notify && !c->closed) {
    cpc_rpc_client_call *call = c->notify;
    c->notify = call->notify_next;
    call->notify_next = NULL;
    call->in_notify = 0;
    if (call->state != CPC__CCALL_ENDED && call->cb.on_writable) {
      call->cb.on_writable(call, call->ud);
      fired = 1;
    }
  }
  return fired;
}

void cpc__rpc_cconn_flush(cpc__rpc_cconn *c) {
  cpc_rpc_client *cl = c->cl;
  write_req *w = NULL;
  const uint8_t *data;
  ssize_t n;
  int again;
  if (c->closed || !c->h2)
    return;
  if (c->in_h2 || c->flushing) {
    c->want_flush = 1;
    return;
  }
  c->flushing = 1;
  do {
    c->want_flush = 0;
    if (c->ready && !c->draining)
      start_waiting(c);
    for (;;) {
      c->in_h2 = 1;
      n = nghttp2_session_mem_send(c->h2, &data);
      c->in_h2 = 0;
      if (n < 0) {
        free(w);
        w = NULL;
        conn_teardown(c, nghttp2_strerror((int)n));
        goto out;
      }
      if (n == 0)
        break;
      if (w && w->cap - w->len < (size_t)n) {
        submit_chunk(c, w);
        w = NULL;
        if (c->closed)
          goto out;
      }
      if (!w) {
        size_t cap = (size_t)n > CPC__RPC_CLIENT_WRITE_CHUNK
                         ? (size_t)n
                         : CPC__RPC_CLIENT_WRITE_CHUNK;
        w = malloc(sizeof *w + cap);
        if (!w) {
          conn_teardown(c, "out of memory");
          goto out;
        }
        w->len = 0;
        w->cap = cap;
      }
      memcpy(w->data + w->len, data, (size_t)n);
      w->len += (size_t)n;
    }
    if (w) {
      submit_chunk(c, w);
      w = NULL;
      if (c->closed)
        goto out;
    }
    again = run_notifications(c) || c->want_flush;
  } while (again && !c->closed);
out:
  c->flushing = 0;
  if (!c->closed && c->write_pending == 0 &&
      !nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2))
    conn_teardown(c, "connection closed");
  /* This connection takes no more calls: the waiting ones need another. */
  if (!cl->conn && cl->pend)
    cpc__rpc_client_dispatch(cl);
}

static void on_write(uv_write_t *req, int status) {
  write_req *w = (write_req *)req;
  cpc__rpc_cconn *c = w->conn;
  c->write_pending -= w->len;
  free(w);
  if (c->closed)
    return;
  if (status < 0) {
    conn_teardown(c, uv_strerror(status));
    return;
  }
  cpc__rpc_cconn_flush(c);
}

/* ---- input ------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  cpc__rpc_cconn *c = h->data;
  (void)hint;
  *buf = uv_buf_init((char *)c->rbuf, sizeof c->rbuf);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  cpc__rpc_cconn *c = stream->data;
  char why[96];
  ssize_t rc;
  if (c->closed || nread == 0)
    return;
  if (nread < 0) {
    if (nread == UV_EOF)
      conn_teardown(c, "the server closed the connection");
    else
      conn_teardown(c, uv_strerror((int)nread));
    return;
  }
  c->last_read_ms = uv_now(c->cl->loop);
  c->in_h2 = 1;
  rc = nghttp2_session_mem_recv(c->h2, (const uint8_t *)buf->base,
                                (size_t)nread);
  c->in_h2 = 0;
  if (rc < 0) {
    snprintf(why, sizeof why, "HTTP/2 error: %s", nghttp2_strerror((int)rc));
    conn_teardown(c, why);
    return;
  }
  if (c->want_close) {
    cpc__rpc_cconn_close(c);
    return;
  }
  cpc__rpc_cconn_flush(c);
}

/* ---- timers: connect timeout, keepalive, drain -------------------------- */

static void on_timer(uv_timer_t *t) {
  cpc__rpc_cconn *c = t->data;
  uint64_t now = uv_now(c->cl->loop), ka = c->cl->cfg.keepalive_ms;
  if (c->closed)
    return;
  if (!c->ready) {
    conn_teardown(c, "connect timed out");
    return;
  }
  if (c->draining) {
    conn_teardown(c, "client closed");
    return;
  }
  if (c->ping_sent_ms && c->last_read_ms >= c->ping_sent_ms)
    c->ping_sent_ms = 0; /* bytes came in: the server is alive */
  if (c->ping_sent_ms) {
    if (now - c->ping_sent_ms >= ka)
      conn_teardown(c, "keepalive ping not answered");
    return;
  }
  /* Silent for a whole period with calls running: ask for a sign. */
  if (c->n_streams > 0 && now - c->last_read_ms >= ka &&
      nghttp2_submit_ping(c->h2, NGHTTP2_FLAG_NONE, NULL) == 0) {
    c->ping_sent_ms = now ? now : 1;
    cpc__rpc_cconn_flush(c);
  }
}

static void keepalive_start(cpc__rpc_cconn *c) {
  uint64_t ka = c->cl->cfg.keepalive_ms, period;
  uv_timer_stop(&c->timer);
  if (!ka)
    return;
  period = ka / 4 ? ka / 4 : 1; /* silence is noticed within 1.25 ka */
  (void)uv_timer_start(&c->timer, on_timer, period, period);
}

/* ---- lifecycle ----------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h) {
  cpc__rpc_cconn *c = h->data;
  cpc_rpc_client *cl = c->cl;
  if (--c->handles_open > 0)
    return;
  if (c->prev)
    c->prev->next = c->next;
  else
    cl->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  free(c);
  cpc__rpc_client_conn_freed(cl);
}

/* The socket is connected: start HTTP/2 (our preface and SETTINGS). */
static void conn_connected(cpc__rpc_cconn *c) {
  int rc;
  if (session_new(c) != 0) {
    conn_teardown(c, "out of memory");
    return;
  }
  (void)uv_tcp_nodelay(&c->tcp, 1);
  rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  if (rc != 0) {
    conn_teardown(c, uv_strerror(rc));
    return;
  }
  c->last_read_ms = uv_now(c->cl->loop);
  cpc__rpc_cconn_flush(c);
}

static void on_connect(uv_connect_t *req, int status) {
  cpc__rpc_cconn *c = req->data;
  char why[96];
  if (c->closed)
    return;
  if (status < 0) {
    snprintf(why, sizeof why, "connect failed: %s", uv_strerror(status));
    conn_teardown(c, why);
    return;
  }
  conn_connected(c);
}

/* A new connection object, linked in as cl->conn, not yet connected. */
static cpc__rpc_cconn *conn_new(cpc_rpc_client *cl) {
  cpc__rpc_cconn *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->cl = cl;
  (void)uv_tcp_init(cl->loop, &c->tcp);
  (void)uv_timer_init(cl->loop, &c->timer);
  c->tcp.data = c;
  c->timer.data = c;
  c->connect_req.data = c;
  c->handles_open = 2;
  c->next = cl->conns;
  if (cl->conns)
    cl->conns->prev = c;
  cl->conns = c;
  cl->conn = c;
  return c;
}

int cpc__rpc_cconn_open(cpc_rpc_client *cl) {
  cpc__rpc_cconn *c = conn_new(cl);
  char why[96];
  int rc;
  if (!c)
    return CPC_ENOMEM;
  rc = uv_tcp_connect(&c->connect_req, &c->tcp,
                      (const struct sockaddr *)&cl->addr, on_connect);
  if (rc != 0) {
    snprintf(why, sizeof why, "connect failed: %s", uv_strerror(rc));
    conn_teardown(c, why);
    return 0;
  }
  (void)uv_timer_start(&c->timer, on_timer, cl->cfg.connect_timeout_ms, 0);
  return 0;
}

int cpc__rpc_client_open_fd(cpc_rpc_client *cl, uv_os_sock_t fd) {
  cpc__rpc_cconn *c;
  if (!cl || cl->closing || cl->conn)
    return CPC_ESTATE;
  c = conn_new(cl);
  if (!c)
    return CPC_ENOMEM;
  if (uv_tcp_open(&c->tcp, fd) != 0) {
    conn_teardown(c, "bad socket");
    return CPC_EIO;
  }
  (void)uv_timer_start(&c->timer, on_timer, cl->cfg.connect_timeout_ms, 0);
  conn_connected(c);
  return 0;
}

void cpc__rpc_cconn_notify_writable(cpc__rpc_cconn *c,
                                    cpc_rpc_client_call *call) {
  cpc_rpc_client_call **p;
  if (!c || call->in_notify)
    return;
  for (p = &c->notify; *p; p = &(*p)->notify_next)
    ;
  *p = call;
  call->notify_next = NULL;
  call->in_notify = 1;
}

/* Tear down now: end the calls, drop the session, close the handles (c is
 * freed in the close callback). Never from inside an nghttp2 callback. */
static void conn_teardown(cpc__rpc_cconn *c, const char *why) {
  cpc_rpc_client *cl = c->cl;
  cpc_rpc_client_call *call;
  char msg[128];
  if (c->closed)
    return;
  c->closed = 1;
  snprintf(msg, sizeof msg, "%s", why);
  while ((call = c->calls) != NULL) {
    if (c->h2)
      (void)nghttp2_session_set_stream_user_data(c->h2, call->stream_id, NULL);
    cpc__rpc_ccall_detach(call);
    cpc__rpc_ccall_end(call, CPC_RPC_UNAVAILABLE, msg);
  }
  c->notify = NULL;
  if (cl->conn == c) {
    /* The calls waiting for this connection fail with it. */
    cl->conn = NULL;
    while ((call = cl->pend) != NULL)
      cpc__rpc_ccall_end(call, CPC_RPC_UNAVAILABLE, msg);
  }
  nghttp2_session_del(c->h2);
  c->h2 = NULL;
  uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
  uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

void cpc__rpc_cconn_close(cpc__rpc_cconn *c) {
  if (c->closed)
    return;
  if (c->in_h2) {
    c->want_close = 1;
    return;
  }
  c->want_close = 0;
  if (!c->h2 || !c->ready) {
    conn_teardown(c, "client closed");
    return;
  }
  if (c->draining)
    return;
  c->draining = 1;
  c->goaway = 1;
  (void)uv_read_stop((uv_stream_t *)&c->tcp);
  (void)nghttp2_session_terminate_session(c->h2, NGHTTP2_NO_ERROR);
  (void)uv_timer_start(&c->timer, on_timer, CPC__RPC_CLIENT_DRAIN_MS, 0);
  cpc__rpc_cconn_flush(c); /* tears down once the GOAWAY is written */
}
