/*
 * conn.c: one client connection: libuv reads and writes, the nghttp2
 * server session and its callbacks, output back-pressure, teardown.
 *
 * Output path: nghttp2_session_mem_send() is drained into 64 KiB chunks
 * handed to uv_write(), while the bytes in flight stay under
 * cfg.conn_send_buffer; past that, reading from the client stops too
 * (whatever it sends could make us produce more), and both resume from the
 * write callback. nghttp2 is never re-entered: a flush asked from inside
 * one of its callbacks is deferred to the end of mem_recv / mem_send.
 */
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/rpc.h"
#include "rpc/rpc_int.h"

typedef struct write_req {
  uv_write_t req;
  cpc__rpc_conn *conn;
  size_t len, cap;
  uint8_t data[];
} write_req;

static void conn_teardown(cpc__rpc_conn *c);

static cpc_rpc_call *stream_call(nghttp2_session *h2, int32_t id) {
  return nghttp2_session_get_stream_user_data(h2, id);
}

/* ---- nghttp2 callbacks ---------------------------------------------- */

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *frame,
                            void *ud) {
  cpc__rpc_conn *c = ud;
  cpc_rpc_call *call;
  if (frame->hd.type != NGHTTP2_HEADERS ||
      frame->headers.cat != NGHTTP2_HCAT_REQUEST)
    return 0;
  if (cpc__rpc_call_new(c, frame->hd.stream_id, &call) != 0)
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* RST this stream */
  if (nghttp2_session_set_stream_user_data(h2, frame->hd.stream_id, call) !=
      0) {
    cpc__rpc_call_stream_gone(call);
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  }
  return 0;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *frame,
                     const uint8_t *name, size_t namelen, const uint8_t *value,
                     size_t valuelen, uint8_t flags, void *ud) {
  cpc_rpc_call *call;
  if (frame->hd.type != NGHTTP2_HEADERS ||
      frame->headers.cat != NGHTTP2_HCAT_REQUEST)
    return 0; /* request trailers carry nothing gRPC uses */
  call = stream_call(h2, frame->hd.stream_id);
  if (!call)
    return 0;
  if (cpc__rpc_call_header(call, name, namelen, value, valuelen) != 0)
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  return 0;
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *frame,
                         void *ud) {
  cpc__rpc_conn *c = ud;
  cpc_rpc_call *call;
  if (!c->got_frame) {
    c->got_frame = 1; /* the preface was good: no handshake timeout */
    uv_timer_stop(&c->timer);
  }
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
    return 0;
  call = stream_call(h2, frame->hd.stream_id);
  if (!call)
    return 0;
  if (frame->hd.type == NGHTTP2_HEADERS &&
      frame->headers.cat == NGHTTP2_HCAT_REQUEST)
    cpc__rpc_call_headers_done(call);
  if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
    cpc__rpc_call_remote_end(call);
  return 0;
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t id,
                         const uint8_t *data, size_t len, void *ud) {
  cpc_rpc_call *call = stream_call(h2, id);
  if (call)
    cpc__rpc_call_data(call, data, len);
  return 0;
}

static int on_frame_send(nghttp2_session *h2, const nghttp2_frame *frame,
                         void *ud) {
  cpc_rpc_call *call;
  if (frame->hd.type != NGHTTP2_HEADERS)
    return 0;
  call = stream_call(h2, frame->hd.stream_id);
  if (call)
    cpc__rpc_call_frame_sent(call,
                             (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0);
  return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t id, uint32_t code,
                           void *ud) {
  cpc_rpc_call *call = stream_call(h2, id);
  if (call) {
    (void)nghttp2_session_set_stream_user_data(h2, id, NULL);
    cpc__rpc_call_stream_gone(call);
  }
  return 0;
}

static int session_new(cpc__rpc_conn *c) {
  const cpc_rpc_server_config *cfg = &c->srv->cfg;
  nghttp2_session_callbacks *cb = NULL;
  nghttp2_option *opt = NULL;
  nghttp2_settings_entry iv[4];
  int rc = CPC_ENOMEM;
  if (nghttp2_session_callbacks_new(&cb) != 0 || nghttp2_option_new(&opt) != 0)
    goto out;
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
  nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
  /* Our own cap on the request header list is enforced in call.c; tell
   * nghttp2 the same so HPACK state cannot grow past it either. */
  nghttp2_option_set_max_deflate_dynamic_table_size(opt, 4096);
  if (nghttp2_session_server_new2(&c->h2, cb, c, opt) != 0)
    goto out;
  iv[0].settings_id = NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS;
  iv[0].value = cfg->max_concurrent_streams;
  iv[1].settings_id = NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE;
  iv[1].value = cfg->initial_window;
  iv[2].settings_id = NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE;
  iv[2].value = cfg->max_header_list;
  iv[3].settings_id = NGHTTP2_SETTINGS_ENABLE_PUSH;
  iv[3].value = 0;
  if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 4) != 0 ||
      nghttp2_session_set_local_window_size(
          c->h2, NGHTTP2_FLAG_NONE, 0, (int32_t)cfg->connection_window) != 0)
    goto out;
  rc = 0;
out:
  nghttp2_session_callbacks_del(cb);
  nghttp2_option_del(opt);
  return rc;
}

/* ---- output ---------------------------------------------------------- */

static void on_write(uv_write_t *req, int status);

static void submit_chunk(cpc__rpc_conn *c, write_req *w) {
  uv_buf_t buf = uv_buf_init((char *)w->data, (unsigned)w->len);
  w->conn = c;
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_write) != 0) {
    free(w);
    conn_teardown(c);
    return;
  }
  c->write_pending += w->len;
}

static void read_control(cpc__rpc_conn *c);

/* Fire on_writable for calls that got room, outside nghttp2. Returns 1 if
 * any fired (they may have queued more output). */
static int run_notifications(cpc__rpc_conn *c) {
  int fired = 0;
  while (c->notify && !c->closed) {
    cpc_rpc_call *call = c->notify;
    c->notify = call->notify_next;
    call->notify_next = NULL;
    call->in_notify = 0;
    if (call->held && !call->cancelled && call->method.on_writable) {
      call->depth++;
      call->method.on_writable(call);
      call->depth--;
      fired = 1;
    }
  }
  return fired;
}

void cpc__rpc_conn_flush(cpc__rpc_conn *c) {
  write_req *w = NULL;
  const uint8_t *data;
  ssize_t n;
  int again;
  if (c->closed)
    return;
  if (c->in_h2 || c->flushing) {
    c->want_flush = 1;
    return;
  }
  c->flushing = 1;
  do {
    c->want_flush = 0;
    while (c->write_pending + (w ? w->len : 0) < c->srv->cfg.conn_send_buffer) {
      c->in_h2 = 1;
      n = nghttp2_session_mem_send(c->h2, &data);
      c->in_h2 = 0;
      if (n < 0) {
        free(w);
        c->flushing = 0;
        conn_teardown(c);
        return;
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
        size_t cap =
            (size_t)n > CPC__RPC_WRITE_CHUNK ? (size_t)n : CPC__RPC_WRITE_CHUNK;
        w = malloc(sizeof *w + cap);
        if (!w) {
          c->flushing = 0;
          conn_teardown(c);
          return;
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
  } while (again && !c->closed &&
           c->write_pending < c->srv->cfg.conn_send_buffer);
out:
  c->flushing = 0;
  if (c->closed)
    return;
  read_control(c);
  if (c->write_pending == 0 &&
      (c->draining || (!nghttp2_session_want_read(c->h2) &&
                       !nghttp2_session_want_write(c->h2))))
    conn_teardown(c);
}

static void on_write(uv_write_t *req, int status) {
  write_req *w = (write_req *)req;
  cpc__rpc_conn *c = w->conn;
  c->write_pending -= w->len;
  free(w);
  if (c->closed)
    return;
  if (status < 0) {
    conn_teardown(c);
    return;
  }
  cpc__rpc_conn_flush(c);
}

/* ---- input ----------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  cpc__rpc_conn *c = h->data;
  *buf = uv_buf_init((char *)c->rbuf, sizeof c->rbuf);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  cpc__rpc_conn *c = stream->data;
  ssize_t rc;
  if (c->closed || nread == 0)
    return;
  if (nread < 0) { /* EOF or error: the client is gone */
    conn_teardown(c);
    return;
  }
  c->in_h2 = 1;
  rc = nghttp2_session_mem_recv(c->h2, (const uint8_t *)buf->base,
                                (size_t)nread);
  c->in_h2 = 0;
  if (rc < 0) {
    /* Bad preface or a connection error: nghttp2 has queued a GOAWAY
     * where one makes sense; send what is queued, then close. */
    cpc__rpc_conn_close(c, rc != NGHTTP2_ERR_BAD_CLIENT_MAGIC);
    return;
  }
  cpc__rpc_conn_flush(c);
}

/* Read while the output is small; stop while the client is not reading. */
static void read_control(cpc__rpc_conn *c) {
  size_t cap = c->srv->cfg.conn_send_buffer;
  if (c->closed || c->draining)
    return;
  if (!c->reading && c->write_pending < cap / 2) {
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
      c->reading = 1;
  } else if (c->reading && c->write_pending >= cap) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
  }
}

/* ---- lifecycle ------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h) {
  cpc__rpc_conn *c = h->data;
  cpc_rpc_server *s = c->srv;
  if (--c->handles_open > 0)
    return;
  free(c);
  cpc__rpc_server_conn_freed(s);
}

static void on_timer(uv_timer_t *t) {
  cpc__rpc_conn *c = t->data;
  conn_teardown(c); /* handshake or drain timeout */
}

/* Set up a connection object around a fresh TCP handle: adopt(c) connects
 * it to the client (accept or an existing socket). */
static int conn_start(cpc_rpc_server *s,
                      int (*adopt)(cpc__rpc_conn *c, void *arg), void *arg) {
  cpc__rpc_conn *c;
  c = calloc(1, sizeof *c);
  if (!c)
    return CPC_ENOMEM;
  c->srv = s;
  if (uv_tcp_init(s->loop, &c->tcp) != 0) {
    free(c);
    return CPC_EIO;
  }
  c->tcp.data = c;
  (void)uv_timer_init(s->loop, &c->timer);
  c->timer.data = c;
  c->handles_open = 2;
  s->n_conns++;
  c->next = s->conns;
  if (s->conns)
    s->conns->prev = c;
  s->conns = c;
  if (adopt(c, arg) != 0 || session_new(c) != 0) {
    conn_teardown(c);
    return CPC_EIO;
  }
  (void)uv_tcp_nodelay(&c->tcp, 1);
  (void)uv_timer_start(&c->timer, on_timer, s->cfg.handshake_timeout_ms, 0);
  cpc__rpc_conn_flush(c); /* our SETTINGS, and start reading */
  return 0;
}

static int adopt_accept(cpc__rpc_conn *c, void *arg) {
  return uv_accept((uv_stream_t *)&c->srv->listener, (uv_stream_t *)&c->tcp);
}

static int adopt_fd(cpc__rpc_conn *c, void *arg) {
  return uv_tcp_open(&c->tcp, *(uv_os_sock_t *)arg);
}

int cpc__rpc_conn_accept(cpc_rpc_server *s) {
  if (s->n_conns >= s->cfg.max_connections) {
    /* Take the connection off the backlog and close it at once. */
    uv_tcp_t *t = malloc(sizeof *t);
    if (!t)
      return CPC_ENOMEM;
    if (uv_tcp_init(s->loop, t) != 0) {
      free(t);
      return CPC_EIO;
    }
    (void)uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)t);
    uv_close((uv_handle_t *)t, (uv_close_cb)free);
    return CPC_ENOSPC;
  }
  return conn_start(s, adopt_accept, NULL);
}

int cpc__rpc_conn_open_fd(cpc_rpc_server *s, uv_os_sock_t fd) {
  if (s->closing || s->n_conns >= s->cfg.max_connections)
    return CPC_ESTATE;
  return conn_start(s, adopt_fd, &fd);
}

void cpc__rpc_conn_notify_writable(cpc__rpc_conn *c, cpc_rpc_call *call) {
  cpc_rpc_call **p;
  if (call->in_notify)
    return;
  /* Append, so calls are served in the order they got room. */
  for (p = &c->notify; *p; p = &(*p)->notify_next)
    ;
  *p = call;
  call->notify_next = NULL;
  call->in_notify = 1;
}

/* Tear down now: cancel and detach the calls, drop the session, close the
 * handles (c is freed in the close callback). */
static void conn_teardown(cpc__rpc_conn *c) {
  cpc_rpc_server *s = c->srv;
  if (c->closed)
    return;
  c->closed = 1;
  c->notify = NULL;
  while (c->calls) {
    cpc_rpc_call *call = c->calls;
    call->in_notify = 0;
    call->notify_next = NULL;
    if (c->h2)
      (void)nghttp2_session_set_stream_user_data(c->h2, call->stream_id, NULL);
    cpc__rpc_call_stream_gone(call); /* unlinks call */
  }
  nghttp2_session_del(c->h2);
  c->h2 = NULL;
  if (c->prev)
    c->prev->next = c->next;
  else
    s->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  c->prev = c->next = NULL;
  uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
  uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

/* Never called from inside an nghttp2 callback (the session is deleted). */
void cpc__rpc_conn_close(cpc__rpc_conn *c, int drain) {
  if (c->closed)
    return;
  if (!drain) {
    conn_teardown(c);
    return;
  }
  c->draining = 1;
  if (c->reading) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
  }
  (void)uv_timer_start(&c->timer, on_timer, CPC__RPC_DRAIN_MS, 0);
  cpc__rpc_conn_flush(c); /* tears down once the output is written */
}
