/*
 * test_rpc_client.c: the gRPC client (cpc/rpc_client.h) against the
 * in-process cpc_rpc_server on an ephemeral loopback port (127.0.0.1, and
 * ::1 once): every call kind, 1000 messages on a server stream, 3 MiB each
 * way, metadata, flow control with a tiny send buffer, deadline, cancel,
 * calls queued while connecting and beyond MAX_CONCURRENT_STREAMS, the
 * server closing mid-call and a reconnect, a refused connect, an
 * oversized response, close with calls running. Then a raw-socket fake
 * server for what cpc_rpc_server never sends: garbage, a bad preface, a
 * huge header block, HTTP errors, a wrong content-type, two messages on
 * a unary call, RST_STREAM, GOAWAY, a server that stops answering PINGs.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <nghttp2/nghttp2.h>
#include <uv.h>

#include "cpc/error.h"
#include "cpc/rpc.h"
#include "cpc/rpc_client.h"

#define MiB (1024u * 1024u)

static uv_loop_t loop;
static cpc_rpc_server *srv;
static uint16_t srv_port;
static unsigned srv_cancels, srv_calls;
static int64_t srv_remaining; /* cpc_rpc_call_remaining_ms in Hang */
static cpc_rpc_call *srv_held;

/* ---- loop helpers ----------------------------------------------------- */

static void on_guard(uv_timer_t *t) {
  *(int *)t->data = 1;
}

/* Run the loop until *flag is set; fail after 10 s. */
static void run_until(const int *flag) {
  uv_timer_t guard;
  int expired = 0;
  uv_timer_init(&loop, &guard);
  guard.data = &expired;
  uv_timer_start(&guard, on_guard, 10000, 0);
  while (!*flag && !expired)
    uv_run(&loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&guard, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
  assert_false(expired);
}

static void sleep_loop(uint64_t ms) {
  int flag = 0;
  uv_timer_t t;
  uv_timer_init(&loop, &t);
  t.data = &flag;
  uv_timer_start(&t, on_guard, ms, 0);
  while (!flag)
    uv_run(&loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
}

/* ---- the server's methods (raw bytes, no protobuf) ----------------------- */

static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* Echo: the request back, x-md echoed as x-md-echo, trailer x-trailer.
 * "fail" finishes FAILED_PRECONDITION (Trailers-Only) with a message that
 * needs percent-encoding. "big" + u32: a response of that many bytes. */
static void on_echo(cpc_rpc_call *call, const uint8_t *msg, size_t len) {
  const char *md = cpc_rpc_call_metadata(call, "x-md");
  uint8_t *big;
  uint32_t n, i;
  srv_calls++;
  if (md)
    assert_int_equal(cpc_rpc_call_add_metadata(call, 0, "x-md-echo", md), 0);
  assert_int_equal(cpc_rpc_call_add_metadata(call, 1, "x-trailer", "t1"), 0);
  if (len == 4 && memcmp(msg, "fail", 4) == 0) {
    assert_int_equal(cpc_rpc_call_finish(call, CPC_RPC_FAILED_PRECONDITION,
                                         "bad: 100% sure \xe2\x9c\x93\nline 2"),
                     0);
    return;
  }
  if (len == 7 && memcmp(msg, "big", 3) == 0) {
    n = get32(msg + 3);
    big = malloc(n);
    assert_non_null(big);
    for (i = 0; i < n; i++)
      big[i] = (uint8_t)(i * 31);
    assert_int_equal(cpc_rpc_call_send(call, big, n), 0);
    free(big);
  } else {
    assert_int_equal(cpc_rpc_call_send(call, msg, len), 0);
  }
  assert_int_equal(cpc_rpc_call_finish(call, CPC_RPC_OK, NULL), 0);
}

/* Count: request u32 n, u32 size; n messages of size bytes, the first 4
 * the index; paced by on_writable. */
typedef struct count_state {
  uint32_t n, i, size;
} count_state;

static void count_pump(cpc_rpc_call *call) {
  count_state *st = cpc_rpc_call_data(call);
  uint8_t buf[4096];
  int rc;
  memset(buf, 0x5a, sizeof buf);
  while (st->i < st->n) {
    put32(buf, st->i);
    rc = cpc_rpc_call_send(call, buf, st->size);
    if (rc == CPC_EAGAIN)
      return;
    assert_int_equal(rc, 0);
    st->i++;
  }
  free(st);
  cpc_rpc_call_set_data(call, NULL);
  assert_int_equal(cpc_rpc_call_finish(call, CPC_RPC_OK, NULL), 0);
}

static void on_count(cpc_rpc_call *call, const uint8_t *msg, size_t len) {
  count_state *st = calloc(1, sizeof *st);
  srv_calls++;
  assert_non_null(st);
  assert_int_equal(len, 8);
  st->n = get32(msg);
  st->size = get32(msg + 4);
  assert_true(st->size >= 4 && st->size <= 4096);
  cpc_rpc_call_set_data(call, st);
  count_pump(call);
}

static void on_count_cancel(cpc_rpc_call *call, int reason) {
  (void)reason;
  srv_cancels++;
  free(cpc_rpc_call_data(call));
  (void)cpc_rpc_call_finish(call, CPC_RPC_CANCELLED, NULL);
}

/* Sum: client stream; answers u32 count, u32 total bytes, u32 checksum. */
typedef struct sum_state {
  uint32_t count, bytes, check;
} sum_state;

static void on_sum(cpc_rpc_call *call, const uint8_t *msg, size_t len) {
  (void)msg;
  (void)len;
  srv_calls++;
  cpc_rpc_call_set_data(call, calloc(1, sizeof(sum_state)));
  assert_non_null(cpc_rpc_call_data(call));
}

static void on_sum_msg(cpc_rpc_call *call, const uint8_t *msg, size_t len) {
  sum_state *st = cpc_rpc_call_data(call);
  size_t i;
  st->count++;
  st->bytes += (uint32_t)len;
  for (i = 0; i < len; i++)
    st->check = st->check * 31 + msg[i];
}

static void on_sum_end(cpc_rpc_call *call) {
  sum_state *st = cpc_rpc_call_data(call);
  uint8_t out[12];
  put32(out, st->count);
  put32(out + 4, st->bytes);
  put32(out + 8, st->check);
  free(st);
  cpc_rpc_call_set_data(call, NULL);
  assert_int_equal(cpc_rpc_call_send(call, out, sizeof out), 0);
  assert_int_equal(cpc_rpc_call_finish(call, CPC_RPC_OK, NULL), 0);
}

static void on_stream_cancel(cpc_rpc_call *call, int reason) {
  (void)reason;
  srv_cancels++;
  free(cpc_rpc_call_data(call));
  (void)cpc_rpc_call_finish(call, CPC_RPC_CANCELLED, NULL);
}

/* Chat: bidi echo of every message. */
static void on_chat(cpc_rpc_call *call, const uint8_t *msg, size_t len) {
  (void)msg;
  (void)len;
  srv_calls++;
}

static void on_chat_msg(cpc_rpc_call *call, const uint8_t *msg, size_t len) {
  assert_int_equal(cpc_rpc_call_send(call, msg, len), 0);
}

static void on_chat_end(cpc_rpc_call *call) {
  assert_int_equal(cpc_rpc_call_finish(call, CPC_RPC_OK, NULL), 0);
}

/* Hang: never answers; held until cancelled. */
static void on_hang(cpc_rpc_call *call, const uint8_t *msg, size_t len) {
  (void)msg;
  (void)len;
  srv_calls++;
  srv_held = call;
  srv_remaining = cpc_rpc_call_remaining_ms(call);
}

static void on_hang_cancel(cpc_rpc_call *call, int reason) {
  (void)reason;
  srv_cancels++;
  if (srv_held == call)
    srv_held = NULL;
  (void)cpc_rpc_call_finish(call, CPC_RPC_CANCELLED, NULL);
}

static void server_start(const char *addr, uint16_t port, uint32_t max_streams,
                         int expect_ok) {
  cpc_rpc_server_config cfg;
  cpc_rpc_method m;
  int rc;
  cpc_rpc_server_config_default(&cfg);
  if (max_streams)
    cfg.max_concurrent_streams = max_streams;
  assert_int_equal(cpc_rpc_server_new(&srv, &loop, &cfg), 0);
  memset(&m, 0, sizeof m);
  m.path = "/t.T/Echo";
  m.on_call = on_echo;
  assert_int_equal(cpc_rpc_server_add_method(srv, &m), 0);
  m.path = "/t.T/Hang";
  m.on_call = on_hang;
  m.on_cancel = on_hang_cancel;
  assert_int_equal(cpc_rpc_server_add_method(srv, &m), 0);
  m.path = "/t.T/Count";
  m.kind = CPC_RPC_SERVER_STREAM;
  m.on_call = on_count;
  m.on_writable = count_pump;
  m.on_cancel = on_count_cancel;
  assert_int_equal(cpc_rpc_server_add_method(srv, &m), 0);
  m.path = "/t.T/Sum";
  m.kind = CPC_RPC_CLIENT_STREAM;
  m.on_call = on_sum;
  m.on_message = on_sum_msg;
  m.on_end = on_sum_end;
  m.on_writable = NULL;
  m.on_cancel = on_stream_cancel;
  assert_int_equal(cpc_rpc_server_add_method(srv, &m), 0);
  m.path = "/t.T/Chat";
  m.kind = CPC_RPC_BIDI;
  m.on_call = on_chat;
  m.on_message = on_chat_msg;
  m.on_end = on_chat_end;
  m.on_cancel = on_hang_cancel;
  assert_int_equal(cpc_rpc_server_add_method(srv, &m), 0);
  rc = cpc_rpc_server_listen(srv, addr, port, &srv_port);
  if (expect_ok)
    assert_int_equal(rc, 0);
}

static int server_closed;
static void on_server_closed(void *ud) {
  (void)ud;
  server_closed = 1;
}

static void server_stop(void) {
  server_closed = 0;
  cpc_rpc_server_close(srv, on_server_closed, NULL);
  srv = NULL;
  run_until(&server_closed);
}

static int setup(void **state) {
  (void)state;
  assert_int_equal(uv_loop_init(&loop), 0);
  srv_cancels = srv_calls = 0;
  srv_held = NULL;
  server_start("127.0.0.1", 0, 0, 1);
  return 0;
}

static void close_left(uv_handle_t *h, void *arg) {
  ++*(int *)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

static int teardown(void **state) {
  int left = 0;
  (void)state;
  if (srv)
    server_stop();
  uv_run(&loop, UV_RUN_NOWAIT);
  /* A test that failed inside a callback leaves handles behind: close
   * them so the next test runs; a passing test leaves none. */
  uv_walk(&loop, close_left, &left);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
  assert_int_equal(left, 0);
  return 0;
}

/* ---- the client side --------------------------------------------------------- */

static int client_closed;
static void on_client_closed(void *ud) {
  *(int *)ud = 1;
}

typedef struct result {
  int done, status;
  char message[256];
  unsigned n_msgs;
  size_t bytes;
  uint8_t first[64];
  size_t first_len;
  int in_order;          /* Count: indices 0,1,2... */
  uint32_t check;        /* checksum of every message byte */
  char md_echo[64];      /* x-md-echo seen in on_message */
  char trailer[64];      /* x-trailer seen in on_done */
  unsigned cancel_after; /* cancel in on_message after this many */
  cpc_rpc_client *close_client; /* closed from on_message if set */
  cpc_rpc_client *retry_client; /* a new call from on_done if set */
  struct result *retry;
  cpc_rpc_client_call *call;
} result;

static const cpc_rpc_client_callbacks cbs;

static void on_message(cpc_rpc_client_call *call, const uint8_t *msg,
                       size_t len, void *ud) {
  result *r = ud;
  const char *v;
  size_t i;
  assert_false(r->done);
  if (r->n_msgs == 0) {
    r->first_len = len < sizeof r->first ? len : sizeof r->first;
    if (len)
      memcpy(r->first, msg, r->first_len);
    v = cpc_rpc_client_call_metadata(call, "x-md-echo");
    if (v)
      snprintf(r->md_echo, sizeof r->md_echo, "%s", v);
    assert_null(cpc_rpc_client_call_metadata(call, "x-trailer"));
  }
  if (len >= 4 && get32(msg) != r->n_msgs)
    r->in_order = 0;
  for (i = 0; i < len; i++)
    r->check = r->check * 31 + msg[i];
  r->n_msgs++;
  r->bytes += len;
  if (r->cancel_after && r->n_msgs == r->cancel_after)
    cpc_rpc_client_call_cancel(call);
  if (r->close_client) {
    cpc_rpc_client_close(r->close_client, on_client_closed, &client_closed);
    r->close_client = NULL;
    /* The call ended: nothing more is delivered, sends are refused. */
    assert_int_equal(cpc_rpc_client_call_send(call, msg, 0), CPC_ESTATE);
  }
}

static void on_done(cpc_rpc_client_call *call, int status, const char *message,
                    void *ud) {
  result *r = ud;
  const char *v = cpc_rpc_client_call_metadata(call, "x-trailer");
  assert_false(r->done);
  assert_non_null(message);
  r->done = 1;
  r->status = status;
  snprintf(r->message, sizeof r->message, "%s", message);
  if (v)
    snprintf(r->trailer, sizeof r->trailer, "%s", v);
  if (r->retry_client)
    assert_int_equal(cpc_rpc_client_unary(r->retry_client, "/t.T/Echo", NULL,
                                          0, (const uint8_t *)"retry", 5, 0,
                                          &cbs, r->retry, NULL),
                     0);
}

static const cpc_rpc_client_callbacks cbs = {on_message, NULL, on_done};

static void result_init(result *r) {
  memset(r, 0, sizeof *r);
  r->in_order = 1;
}

static void client_stop(cpc_rpc_client *cl) {
  client_closed = 0;
  cpc_rpc_client_close(cl, on_client_closed, &client_closed);
  run_until(&client_closed);
}

static cpc_rpc_client *client_new(const char *host, uint16_t port,
                                  const cpc_rpc_client_config *cfg) {
  cpc_rpc_client *cl;
  assert_int_equal(cpc_rpc_client_new(&cl, &loop, host, port, cfg), 0);
  return cl;
}

/* ---- tests: arguments ------------------------------------------------------- */

static void test_arguments(void **state) {
  cpc_rpc_client *cl;
  cpc_rpc_client_config cfg;
  cpc_rpc_metadata md[1];
  result r;
  (void)state;
  assert_int_equal(cpc_rpc_client_new(&cl, &loop, "localhost", 1, NULL),
                   CPC_EINVAL);
  assert_int_equal(cpc_rpc_client_new(&cl, &loop, "1.2.3", 1, NULL),
                   CPC_EINVAL);
  assert_int_equal(cpc_rpc_client_new(NULL, &loop, "::1", 1, NULL),
                   CPC_EINVAL);
  cpc_rpc_client_config_default(&cfg);
  cfg.initial_window = 0x80000000u;
  assert_int_equal(cpc_rpc_client_new(&cl, &loop, "::1", 1, &cfg), CPC_EINVAL);
  cl = client_new("127.0.0.1", srv_port, NULL);
  assert_int_equal(cpc_rpc_client_connected(cl), 0);
  result_init(&r);
  assert_int_equal(cpc_rpc_client_start(cl, "noslash", CPC_RPC_UNARY, NULL, 0,
                                        0, &cbs, &r, NULL),
                   CPC_EINVAL);
  assert_int_equal(cpc_rpc_client_start(cl, "/t.T/Echo", (enum cpc_rpc_kind)7,
                                        NULL, 0, 0, &cbs, &r, NULL),
                   CPC_EINVAL);
  md[0].name = "grpc-x";
  md[0].value = "v";
  assert_int_equal(cpc_rpc_client_start(cl, "/t.T/Echo", CPC_RPC_UNARY, md, 1,
                                        0, &cbs, &r, NULL),
                   CPC_EINVAL);
  md[0].name = "Upper";
  assert_int_equal(cpc_rpc_client_start(cl, "/t.T/Echo", CPC_RPC_UNARY, md, 1,
                                        0, &cbs, &r, NULL),
                   CPC_EINVAL);
  md[0].name = "x-ok";
  md[0].value = "line\nbreak";
  assert_int_equal(cpc_rpc_client_start(cl, "/t.T/Echo", CPC_RPC_UNARY, md, 1,
                                        0, &cbs, &r, NULL),
                   CPC_EINVAL);
  assert_int_equal(cpc_rpc_client_unary(cl, "/t.T/Echo", NULL, 0,
                                        (const uint8_t *)"x", 5 * MiB, 0, &cbs,
                                        &r, NULL),
                   CPC_ETOOBIG);
  client_stop(cl);
  assert_false(r.done); /* refused calls never get on_done */
}

/* ---- tests: call kinds --------------------------------------------------------- */

static void unary_roundtrip(const char *host) {
  cpc_rpc_client *cl = client_new(host, srv_port, NULL);
  cpc_rpc_metadata md[2] = {{"x-md", "hello md"}, {"authorization", "k=v"}};
  result r;
  result_init(&r);
  assert_int_equal(cpc_rpc_client_unary(cl, "/t.T/Echo", md, 2,
                                        (const uint8_t *)"hello", 5, 0, &cbs,
                                        &r, &r.call),
                   0);
  assert_false(r.done); /* never from inside start */
  run_until(&r.done);
  assert_int_equal(r.status, CPC_RPC_OK);
  assert_string_equal(r.message, "");
  assert_int_equal(r.n_msgs, 1);
  assert_int_equal(r.first_len, 5);
  assert_memory_equal(r.first, "hello", 5);
  assert_string_equal(r.md_echo, "hello md");
  assert_string_equal(r.trailer, "t1");
  assert_int_equal(cpc_rpc_client_connected(cl), 1);
  /* A zero-length request and reply. */
  result_init(&r);
  assert_int_equal(cpc_rpc_client_unary(cl, "/t.T/Echo", NULL, 0, NULL, 0, 0,
                                        &cbs, &r, NULL),
                   0);
  run_until(&r.done);
  assert_int_equal(r.status, CPC_RPC_OK);
  assert_int_equal(r.n_msgs, 1);
  assert_int_equal(r.bytes, 0);
  client_stop(cl);
}

static void test_unary(void **state) {
  (void)state;
  unary_roundtrip("127.0.0.1");
}

static void test_unary_ipv6(void **state) {
  (void)state;
  server_stop();
  server_start("::1", 0, 0, 0);
  if (srv_port == 0) {
    skip(); /* no IPv6 loopback here */
  }
  unary_roundtrip("::1");
}

static void test_error_status(void **state) {
  cpc_rpc_client *cl = client_new("127.0.0.1", srv_port, NULL);
  result r;
  (void)state;
  result_init(&r);
  assert_int_equal(cpc_rpc_client_unary(cl, "/t.T/Echo", NULL, 0,
                                        (const uint8_t *)"fail", 4, 0, &cbs,
                                        &r, NULL),
                   0);
  run_until(&r.done);
  assert_int_equal(r.status, CPC_RPC_FAILED_PRECONDITION);
  assert_string_equal(r.message, "bad: 100% sure \xe2\x9c\x93\nline 2");
  assert_string_equal(r.trailer, "t1"); /* Trailers-Only keeps metadata */
  assert_int_equal(r.n_msgs, 0);
  /* An unknown method: the server's UNIMPLEMENTED. */
  result_init(&r);
  assert_int_equal(cpc_rpc_client_unary(cl, "/t.T/Nope", NULL, 0,
                                        (const uint8_t *)"x", 1, 0, &cbs, &r,
                                        NULL),
                   0);
  run_until(&r.done);
  assert_int_equal(r.status, CPC_RPC_UNIMPLEMENTED);
  client_stop(cl);
}

static void start_count(cpc_rpc_client *cl, result *r, uint32_t n,
                        uint32_t size) {
  cpc_rpc_client_call *call;
  uint8_t req[8];
  put32(req, n);
  put32(req + 4, size);
  assert_int_equal(cpc_rpc_client_start(cl, "/t.T/Count",
                                        CPC_RPC_SERVER_STREAM, NULL, 0, 0, &cbs,
                                        r, &call),
                   0);
  r->call = call;
  assert_int_equal(cpc_rpc_client_call_send(call, req, sizeof req), 0);
  assert_int_equal(cpc_rpc_client_call_send(call, req, sizeof req),
                   CPC_ESTATE);
  assert_int_equal(cpc_rpc_client_call_close_send(call), 0);
  assert_int_equal(cpc_rpc_client_call_close_send(call), CPC_ESTATE);
}

static void test_server_stream(void **state) {
  cpc_rpc_client_config cfg;
  cpc_rpc_client *cl;
  result r;
  (void)state;
  /* A small window: the 4 MB stream needs many WINDOW_UPDATEs. */
  cpc_rpc_client_config_default(&cfg);
  cfg.initial_window = 65535;
  cfg.connection_window = 65535;
  cl = client_new("127.0.0.1", srv_port, &cfg);
  result_init(&r);
  start_count(cl, &r, 1000, 4000);
  run_until(&r.done);
  assert_int_equal(r.status, CPC_RPC_OK);
  assert_int_equal(r.n_msgs, 1000);
  assert_int_equal(r.bytes, 1000u * 4000u);
  assert_true(r.in_order);
  client_stop(cl);
}

/* Client streaming through a 1 KiB send buffer: sends are refused with
 * CPC_EAGAIN and resumed from on_writable. */
typedef struct pump {
  result r;
  unsigned next, total, eagain;
  uint32_t check;
} pump;

static void pump_send(cpc_rpc_client_call *call, void *ud) {
  pump *p = ud;
  uint8_t buf[300];
  size_t len, i;
  int rc;
  while (p->next < p->total) {
    len = 1 + p->next % sizeof buf;
    for (i = 0; i < len; i++)
      buf[i] = (uint8_t)(p->next + i);
    rc = cpc_rpc_client_call_send(call, buf, len);
    if (rc == CPC_EAGAIN) {
      p->eagain++;
      return;
    }
    assert_int_equal(rc, 0);
    for (i = 0; i < len; i++)
      p->check = p->check * 31 + buf[i];
    p->next++;
  }
  assert_int_equal(cpc_rpc_client_call_close_send(call), 0);
}

static void pump_message(cpc_rpc_client_call *call, const uint8_t *msg,
                         size_t len, void *ud) {
  on_message(call, msg, len, &((pump *)ud)->r);
}

static void pump_done(cpc_rpc_client_call *call, int status, const char *msg,
                      void *ud) {
  on_done(call, status, msg, &((pump *)ud)->r);
}

static void test_client_stream(void **state) {
  static const cpc_rpc_client_callbacks pcbs = {pump_message, pump_send,
                                                pump_done};
  cpc_rpc_client_config cfg;
  cpc_rpc_client *cl;
  cpc_rpc_client_call *call;
  pump p;
  size_t expect_bytes = 0;
  unsigned i;
  (void)state;
  cpc_rpc_client_config_default(&cfg);
  cfg.call_send_buffer = 1024;
  cl = client_new("127.0.0.1", srv_port, &cfg);
  memset(&p, 0, sizeof p);
  result_init(&p.r);
  p.total = 2000;
  assert_int_equal(cpc_rpc_client_start(cl, "/t.T/Sum", CPC_RPC_CLIENT_STREAM,
                                        NULL, 0, 0, &pcbs, &p, &call),
                   0);
  pump_send(call, &p);
  run_until(&p.r.done);
  assert_int_equal(p.r.status, CPC_RPC_OK);
  assert_true(p.eagain > 0);
  assert_int_equal(p.r.n_msgs, 1);
  assert_int_equal(p.r.first_len, 12);
  for (i = 0; i < p.total; i++)
    expect_bytes += 1 + i % 300;
  assert_int_equal(get32(p.r.first), p.total);
  assert_int_equal(get32(p.r.first + 4), expect_bytes);
  assert_int_equal(get32(p.r.first + 8), p.check);
  /* Zero messages, then half-close: the server sums nothing. */
  result_init(&p.r);
  assert_int_equal(cpc_rpc_client_start(cl, "/t.T/Sum", CPC_RPC_CLIENT_STREAM,
                                        NULL, 0, 0, &cbs, &p.r, &call),
                   0);
  assert_int_equal(cpc_rpc_client_call_close_send(call), 0);
  assert_int_equal(cpc_rpc_client_call_send(call, (const uint8_t *)"x", 1),
                   CPC_ESTATE);
  run_until(&p.r.done);
  assert_int_equal(p.r.status, CPC_RPC_OK);
  assert_int_equal(get32(p.r.first), 0);
  client_stop(cl);
}

static void test_bidi(void **state) {
  static const char *const words[] = {"a", "bb", "ccc", ""};
  cpc_rpc_client *cl = client_new("127.0.0.1", srv_port, NULL);
  cpc_rpc_client_call *call;
  result r;
  uint32_t check = 0;
  size_t i, j;
  (void)state;
  result_init(&r);
  assert_int_equal(cpc_rpc_client_start(cl, "/t.T/Chat", CPC_RPC_BIDI, NULL, 0,
                                        0, &cbs, &r, &call),
                   0);
  for (i = 0; i < 4; i++) {
    assert_int_equal(cpc_rpc_client_call_send(call, (const uint8_t *)words[i],
                                              strlen(words[i])),
                     0);
    for (j = 0; j < strlen(words[i]); j++)
      check = check * 31 + (uint8_t)words[i][j];
  }
  /* The echoes come back before the client half-closes. */
  while (r.n_msgs < 4)
    uv_run(&loop, UV_RUN_ONCE);
  assert_false(r.done);
  assert_int_equal(cpc_rpc_client_call_close_send(call), 0);
  run_until(&r.done);
  assert_int_equal(r.status, CPC_RPC_OK);
  assert_int_equal(r.n_msgs, 4);
  assert_int_equal(r.bytes, 6);
  assert_int_equal(r.check, check);
  client_stop(cl);
}

static void test_big_messages(void **state) {
  cpc_rpc_client *cl = client_new("127.0.0.1", srv_port, NULL);
  const size_t n = 3 * MiB;
  uint8_t *req = malloc(n);
  uint32_t check = 0;
  result r;
  size_t i;
  (void)state;
  assert_non_null(req);
  for (i = 0; i < n; i++) {
    req[i] = (uint8_t)(i * 7 + (i >> 12));
    check = check * 31 + req[i];
  }
  result_init(&r);
  assert_int_equal(cpc_rpc_client_unary(cl, "/t.T/Echo", NULL, 0, req, n, 0,
                                        &cbs, &r, NULL),
                   0);
  free(req); /* copied */
  run_until(&r.done);
  assert_int_equal(r.status, CPC_RPC_OK);
  assert_int_equal(r.n_msgs, 1);
  assert_int_equal(r.bytes, n);
  assert_int_equal(r.check, check);
  client_stop(cl);
}

/* ---- tests: deadlines, cancel, queueing --------------------------------------- */

static void test_deadline(void **state) {
  cpc_rpc_client *cl = client_new("127.0.0.1", srv_port, NULL);
  result r;
  uint64_t t0;
  (void)state;
  result_init(&r);
  uv_update_time(&loop);
  t0 = uv_now(&loop);
  assert_int_equal(cpc_rpc_client_unary(cl, "/t.T/Hang", NULL, 0,
                                        (const uint8_t *)"x", 1, 150, &cbs, &r,
                                        NULL),
                   0);
  run_until(&r.done);
  assert_int_equal(r.status, CPC_RPC_DEADLINE_EXCEEDED);
  assert_true(uv_now(&loop) - t0 >= 140);
  assert_true(uv_now(&loop) - t0 < 2000);
  /* grpc-timeout went out: the server had a deadline of at most 150 ms. */
  assert_true(srv_remaining > 0 && srv_remaining <= 150);
  /* The server learnt of it too (its own timer or our RST_STREAM). */
  while (srv_cancels < 1)
    uv_run(&loop, UV_RUN_ONCE);
  assert_null(srv_held);
  client_stop(cl);
}

static void test_cancel(void **state) {
  cpc_rpc_client *cl = client_new("127.0.0.1", srv_port, NULL);
  result r, s;
  (void)state;
  result_init(&r);
  assert_int_equal(cpc_rpc_client_unary(cl, "/t.T/Hang", NULL, 0,
                                        (const uint8_t *)"x", 1, 0, &cbs, &r,
                                        &r.call),
                   0);
  while (!srv_held)
    uv_run(&loop, UV_RUN_ONCE);
  cpc_rpc_client_call_cancel(r.call);
  cpc_rpc_client_call_cancel(r.call); /* twice is harmless */
  assert_int_equal(cpc_rpc_client_call_send(r.call, (const uint8_t *)"x", 1),
                   CPC_ESTATE);
  assert_false(r.done);
  run_until(&r.done);
  assert_int_equal(r.status, CPC_RPC_CANCELLED);
  while (srv_cancels < 1)
    uv_run(&loop, UV_RUN_ONCE);
  /* Cancel from on_message, in the middle of a long server stream. */
  result_init(&s);
  s.cancel_after = 10;
  start_count(cl, &s, 100000, 100);
  run_until(&s.done);
  assert_int_equal(s.status, CPC_RPC_CANCELLED);
  assert_int_equal(s.n_msgs, 10);
  while (srv_cancels < 2)
    uv_run(&loop, UV_RUN_ONCE);
  client_stop(cl);
}

/* Keepalive PINGs on a silent call are answered: the call lives on. */
static void test_keepalive_answered(void **state) {
  cpc_rpc_client_config cfg;
  cpc_rpc_client *cl;
  result r;
  (void)state;
  cpc_rpc_client_config_default(&cfg);
  cfg.keepalive_ms = 40;
  cl = client_new("127.0.0.1", srv_port, &cfg);
  result_init(&r);
  assert_int_equal(cpc_rpc_client_unary(cl, "/t.T/Hang", NULL, 0,
                                        (const uint8_t *)"x", 1, 0, &cbs, &r,
                                        &r.call),
                   0);
  sleep_loop(400); /* ten periods of silence */
  assert_false(r.done);
  assert_int_equal(cpc_rpc_client_connected(cl), 1);
  cpc_rpc_client_call_cancel(r.call);
  run_until(&r.done);
  assert_int_equal(r.status, CPC_RPC_CANCELLED);
  client_stop(cl);
}

/* Ten calls started before the loop runs (queued while connecting), on a
 * server allowing two streams at a time. */
static void test_queueing(void **state) {
  cpc_rpc_client *cl;
  result r[10];
  uint8_t req[4];
  int all = 0;
  unsigned i;
  (void)state;
  server_stop();
  server_start("127.0.0.1", 0, 2, 1);
  cl = client_new("127.0.0.1", srv_port, NULL);
  for (i = 0; i < 10; i++) {
    result_init(&r[i]);
    put32(req, i);
    assert_int_equal(cpc_rpc_client_unary(cl, "/t.T/Echo", NULL, 0, req, 4,
                                          5000, &cbs, &r[i], NULL),
                     0);
  }
  assert_int_equal(cpc_rpc_client_connected(cl), 0);
  while (!all) {
    uv_run(&loop, UV_RUN_ONCE);
    for (all = 1, i = 0; i < 10; i++)
      all &= r[i].done;
  }
  for (i = 0; i < 10; i++) {
    assert_int_equal(r[i].status, CPC_RPC_OK);
    assert_int_equal(get32(r[i].first), i);
  }
  /* Two server streams hold the two slots; a third call waits for one. */
  result_init(&r[0]);
  result_init(&r[1]);
  result_init(&r[2]);
  assert_int_equal(cpc_rpc_client_unary(cl, "/t.T/Hang", NULL, 0,
                                        (const uint8_t *)"x", 1, 0, &cbs, &r[0],
                                        &r[0].call),
                   0);
  assert_int_equal(cpc_rpc_client_unary(cl, "/t.T/Hang", NULL, 0,
                                        (const uint8_t *)"x", 1, 0, &cbs, &r[1],
                                        &r[1].call),
                   0);
  assert_int_equal(cpc_rpc_client_unary(cl, "/t.T/Echo", NULL, 0,
                                        (const uint8_t *)"q", 1, 0, &cbs, &r[2],
                                        NULL),
                   0);
  sleep_loop(100);
  assert_false(r[2].done);
  cpc_rpc_client_call_cancel(r[0].call);
  run_until(&r[2].done);
  assert_int_equal(r[2].status, CPC_RPC_OK);
  assert_false(r[1].done);
  client_stop(cl); /* r[1] still running: CANCELLED */
  assert_true(r[1].done);
  assert_int_equal(r[1].status, CPC_RPC_CANCELLED);
}

/* ---- tests: connection failures ------------------------------------------------ */

static void test_server_gone_then_reconnect(void **state) {
  cpc_rpc_client *cl = client_new("127.0.0.1", srv_port, NULL);
  uint16_t port = srv_port;
  result r, s;
  (void)state;
  result_init(&r);
  result_init(&s);
  start_count(cl, &s, 0, 4); /* warm the connection */
  run_until(&s.done);
  assert_int_equal(s.status, CPC_RPC_OK);
  assert_int_equal(cpc_rpc_client_unary(cl, "/t.T/Hang", NULL, 0,
                                        (const uint8_t *)"x", 1, 0, &cbs, &r,
                                        NULL),
                   0);
  while (!srv_held)
    uv_run(&loop, UV_RUN_ONCE);
  server_stop();
  run_until(&r.done);
  assert_int_equal(r.status, CPC_RPC_UNAVAILABLE);
  while (cpc_rpc_client_connected(cl))
    uv_run(&loop, UV_RUN_ONCE);
  /* Nothing listens now: the next call fails to connect. */
  result_init(&r);
  assert_int_equal(cpc_rpc_client_unary(cl, "/t.T/Echo", NULL, 0,
                                        (const uint8_t *)"x", 1, 0, &cbs, &r,
                                        NULL),
                   0);
  run_until(&r.done);
  assert_int_equal(r.status, CPC_RPC_UNAVAILABLE);
  assert_non_null(strstr(r.message, "connect"));
  /* The server is back on the same port: the next call reconnects. */
  server_start("127.0.0.1", port, 0, 1);
  result_init(&r);
  assert_int_equal(cpc_rpc_client_unary(cl, "/t.T/Echo", NULL, 0,
                                        (const uint8_t *)"again", 5, 0, &cbs,
                                        &r, NULL),
                   0);
  run_until(&r.done);
  assert_int_equal(r.status, CPC_RPC_OK);
  assert_memory_equal(r.first, "again", 5);
  assert_int_equal(cpc_rpc_client_connected(cl), 1);
  client_stop(cl);
}

static void test_refused(void **state) {
  cpc_rpc_client *cl;
  uv_tcp_t probe;
  struct sockaddr_in a;
  struct sockaddr_storage ss;
  int len = sizeof ss;
  uint16_t port;
  result r;
  (void)state;
  /* A port nobody listens on: bind one, note it, close it. */
  uv_tcp_init(&loop, &probe);
  uv_ip4_addr("127.0.0.1", 0, &a);
  assert_int_equal(uv_tcp_bind(&probe, (const struct sockaddr *)&a, 0), 0);
  assert_int_equal(uv_tcp_getsockname(&probe, (struct sockaddr *)&ss, &len), 0);
  port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  uv_close((uv_handle_t *)&probe, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
  cl = client_new("127.0.0.1", port, NULL);
  result_init(&r);
  assert_int_equal(cpc_rpc_client_unary(cl, "/t.T/Echo", NULL, 0,
                                        (const uint8_t *)"x", 1, 0, &cbs, &r,
                                        NULL),
                   0);
  run_until(&r.done);
  assert_int_equal(r.status, CPC_RPC_UNAVAILABLE);
  assert_non_null(strstr(r.message, "connect failed"));
  client_stop(cl);
}

static void test_oversized_response(void **state) {
  cpc_rpc_client_config cfg;
  cpc_rpc_client *cl;
  uint8_t req[7] = {'b', 'i', 'g'};
  result r;
  (void)state;
  cpc_rpc_client_config_default(&cfg);
  cfg.max_recv_message = 64 * 1024;
  cl = client_new("127.0.0.1", srv_port, &cfg);
  result_init(&r);
  put32(req + 3, 64 * 1024 + 1);
  assert_int_equal(cpc_rpc_client_unary(cl, "/t.T/Echo", NULL, 0, req, 7, 0,
                                        &cbs, &r, NULL),
                   0);
  run_until(&r.done);
  assert_int_equal(r.status, CPC_RPC_RESOURCE_EXHAUSTED);
  assert_int_equal(r.n_msgs, 0);
  /* Exactly the cap passes, on the same connection. */
  result_init(&r);
  put32(req + 3, 64 * 1024);
  assert_int_equal(cpc_rpc_client_unary(cl, "/t.T/Echo", NULL, 0, req, 7, 0,
                                        &cbs, &r, NULL),
                   0);
  run_until(&r.done);
  assert_int_equal(r.status, CPC_RPC_OK);
  assert_int_equal(r.bytes, 64 * 1024);
  client_stop(cl);
}

static void test_close_with_calls(void **state) {
  cpc_rpc_client *cl = client_new("127.0.0.1", srv_port, NULL);
  result r[4];
  unsigned i;
  (void)state;
  for (i = 0; i < 4; i++)
    result_init(&r[i]);
  assert_int_equal(cpc_rpc_client_unary(cl, "/t.T/Hang", NULL, 0,
                                        (const uint8_t *)"x", 1, 0, &cbs, &r[0],
                                        NULL),
                   0);
  start_count(cl, &r[1], 1000000, 1000);
  while (!srv_held || r[1].n_msgs < 5)
    uv_run(&loop, UV_RUN_ONCE);
  client_closed = 0;
  cpc_rpc_client_close(cl, on_client_closed, &client_closed);
  assert_false(r[0].done);
  run_until(&client_closed);
  assert_true(r[0].done && r[1].done);
  assert_int_equal(r[0].status, CPC_RPC_CANCELLED);
  assert_int_equal(r[1].status, CPC_RPC_CANCELLED);
  /* A call queued behind a connect, closed at once. */
  cl = client_new("127.0.0.1", srv_port, NULL);
  assert_int_equal(cpc_rpc_client_unary(cl, "/t.T/Echo", NULL, 0,
                                        (const uint8_t *)"x", 1, 0, &cbs, &r[2],
                                        NULL),
                   0);
  client_stop(cl);
  assert_true(r[2].done);
  assert_int_equal(r[2].status, CPC_RPC_CANCELLED);
  while (srv_cancels < 2)
    uv_run(&loop, UV_RUN_ONCE);
}

/* Callbacks may call the library: close the client from on_message, start
 * a new call from on_done. */
static void test_reentrant(void **state) {
  cpc_rpc_client *cl = client_new("127.0.0.1", srv_port, NULL);
  result r, retry;
  (void)state;
  result_init(&r);
  result_init(&retry);
  r.retry_client = cl;
  r.retry = &retry;
  assert_int_equal(cpc_rpc_client_unary(cl, "/t.T/Echo", NULL, 0,
                                        (const uint8_t *)"fail", 4, 0, &cbs,
                                        &r, NULL),
                   0);
  run_until(&retry.done);
  assert_int_equal(r.status, CPC_RPC_FAILED_PRECONDITION);
  assert_int_equal(retry.status, CPC_RPC_OK);
  assert_memory_equal(retry.first, "retry", 5);
  result_init(&r);
  r.close_client = cl;
  client_closed = 0;
  start_count(cl, &r, 100000, 100);
  run_until(&client_closed);
  assert_true(r.done);
  assert_int_equal(r.status, CPC_RPC_CANCELLED);
  assert_int_equal(r.n_msgs, 1);
  while (srv_cancels < 1)
    uv_run(&loop, UV_RUN_ONCE);
}

/* ---- a raw fake server ------------------------------------------------------------ */

enum fake_mode {
  FAKE_GARBAGE,        /* an HTTP/1.1 answer */
  FAKE_BAD_PREFACE,    /* PING before SETTINGS */
  FAKE_HUGE_HEADER,    /* a 40 KiB header block over CONTINUATION frames */
  FAKE_JUNK_FRAMES,    /* random bytes after the handshake */
  FAKE_HTTP_404,       /* :status 404, END_STREAM */
  FAKE_HTTP_503_BODY,  /* :status 503 with an HTML body */
  FAKE_BAD_CT,         /* 200, text/html */
  FAKE_TWO_MESSAGES,   /* two messages on a unary call, grpc-status 0 */
  FAKE_NO_MESSAGE,     /* grpc-status 0 and no message on a unary call */
  FAKE_NO_STATUS,      /* trailers without grpc-status */
  FAKE_CUT_MESSAGE,    /* trailers in the middle of a message */
  FAKE_BAD_FLAG,       /* compressed flag 7 */
  FAKE_RST,            /* RST_STREAM REFUSED_STREAM */
  FAKE_GOAWAY,         /* GOAWAY last_stream_id 0 */
  FAKE_SILENT,         /* handshake, then never a byte (keepalive) */
  FAKE_BIG_STATUS,     /* grpc-status 99, message with bad escapes */
  FAKE_NO_SETTINGS,    /* accepts, never says a word (connect timeout) */
  FAKE_GOAWAY_THEN_OK, /* GOAWAY last_stream_id 1, then the answer */
  FAKE_INFORMATIONAL,  /* a 100 response before the real one */
};

typedef struct fake {
  uv_tcp_t listener, conn;
  int mode, accepted, answered;
  uint8_t in[65536];
  size_t in_len;
  uint16_t port;
} fake;

static fake fk;

static void fake_write(const void *data, size_t len) {
  uv_buf_t b = uv_buf_init((char *)(uintptr_t)data, (unsigned)len);
  /* Loopback with small writes: try_write takes it all. */
  assert_int_equal(uv_try_write((uv_stream_t *)&fk.conn, &b, 1), (int)len);
}

static void frame(uint8_t type, uint8_t flags, uint32_t stream,
                  const void *payload, size_t len) {
  uint8_t h[9];
  h[0] = (uint8_t)(len >> 16);
  h[1] = (uint8_t)(len >> 8);
  h[2] = (uint8_t)len;
  h[3] = type;
  h[4] = flags;
  put32(h + 5, stream);
  fake_write(h, 9);
  if (len)
    fake_write(payload, len);
}

/* HEADERS (+ CONTINUATION when over 16 KiB) for stream 1. */
static void headers(const nghttp2_nv *nva, size_t n, int end_stream) {
  nghttp2_hd_deflater *d;
  uint8_t *buf;
  size_t cap = 128 * 1024, off = 0, chunk;
  ssize_t len;
  int first = 1;
  assert_int_equal(nghttp2_hd_deflate_new(&d, 4096), 0);
  buf = malloc(cap);
  assert_non_null(buf);
  len = nghttp2_hd_deflate_hd(d, buf, cap, nva, n);
  assert_true(len > 0);
  do {
    chunk = (size_t)len - off > 16384 ? 16384 : (size_t)len - off;
    frame(first ? NGHTTP2_HEADERS : NGHTTP2_CONTINUATION,
          (uint8_t)((off + chunk == (size_t)len ? NGHTTP2_FLAG_END_HEADERS : 0) |
                    (first && end_stream ? NGHTTP2_FLAG_END_STREAM : 0)),
          1, buf + off, chunk);
    off += chunk;
    first = 0;
  } while (off < (size_t)len);
  free(buf);
  nghttp2_hd_deflate_del(d);
}

#define NV(n, v)                                                               \
  {                                                                            \
    (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1,              \
        NGHTTP2_NV_FLAG_NONE                                                   \
  }

static void grpc_headers(void) {
  nghttp2_nv nv[] = {NV(":status", "200"),
                     NV("content-type", "application/grpc")};
  headers(nv, 2, 0);
}

static void grpc_trailers(const char *status) {
  nghttp2_nv nv[2] = {NV("grpc-status", "0"), NV("grpc-message", "")};
  nv[0].value = (uint8_t *)(uintptr_t)status;
  nv[0].valuelen = strlen(status);
  headers(nv, 1, 1);
}

static void message(const char *text, size_t declared) {
  uint8_t buf[64];
  size_t len = strlen(text);
  cpc_rpc_frame_header(buf, 0, declared);
  memcpy(buf + 5, text, len);
  frame(NGHTTP2_DATA, 0, 1, buf, 5 + len);
}

/* The client's request HEADERS arrived: answer as the mode says. */
static void fake_answer(void) {
  static const uint8_t junk[] = "\x00\x00\x08\x99\xff\x00\x00\x00\x07zzzzzzzz"
                                "\xde\xad\xbe\xef\x00\x01\x02\x03\x04";
  uint8_t buf[64];
  switch (fk.mode) {
  case FAKE_HUGE_HEADER: {
    static char big[40000];
    nghttp2_nv nv[] = {NV(":status", "200"),
                       NV("content-type", "application/grpc"),
                       NV("x-big", "")};
    memset(big, 'a', sizeof big - 1);
    nv[2].value = (uint8_t *)big;
    nv[2].valuelen = 16000;
    nv[2].flags = NGHTTP2_NV_FLAG_NO_INDEX;
    /* Three fields of 16000: each under nghttp2's own field limit, the
     * block over our 16 KiB cap. */
    {
      nghttp2_nv all[5] = {nv[0], nv[1], nv[2], nv[2], nv[2]};
      headers(all, 5, 0);
    }
    break;
  }
  case FAKE_JUNK_FRAMES: fake_write(junk, sizeof junk - 1); break;
  case FAKE_HTTP_404: {
    nghttp2_nv nv[] = {NV(":status", "404")};
    headers(nv, 1, 1);
    break;
  }
  case FAKE_HTTP_503_BODY: {
    nghttp2_nv nv[] = {NV(":status", "503"), NV("content-type", "text/html")};
    headers(nv, 2, 0);
    frame(NGHTTP2_DATA, NGHTTP2_FLAG_END_STREAM, 1, "<html>busy</html>", 17);
    break;
  }
  case FAKE_BAD_CT: {
    nghttp2_nv nv[] = {NV(":status", "200"), NV("content-type", "text/html")};
    headers(nv, 2, 0);
    frame(NGHTTP2_DATA, NGHTTP2_FLAG_END_STREAM, 1, "<html></html>", 13);
    break;
  }
  case FAKE_TWO_MESSAGES:
    grpc_headers();
    message("one", 3);
    message("two", 3);
    grpc_trailers("0");
    break;
  case FAKE_NO_MESSAGE:
    grpc_headers();
    grpc_trailers("0");
    break;
  case FAKE_NO_STATUS: {
    nghttp2_nv nv[] = {NV("x-other", "1")};
    grpc_headers();
    message("one", 3);
    headers(nv, 1, 1);
    break;
  }
  case FAKE_CUT_MESSAGE:
    grpc_headers();
    message("abc", 10);
    grpc_trailers("0");
    break;
  case FAKE_BAD_FLAG:
    grpc_headers();
    memcpy(buf, "\x07\x00\x00\x00\x01x", 6);
    frame(NGHTTP2_DATA, 0, 1, buf, 6);
    break;
  case FAKE_RST:
    put32(buf, NGHTTP2_REFUSED_STREAM);
    frame(NGHTTP2_RST_STREAM, 0, 1, buf, 4);
    break;
  case FAKE_GOAWAY:
    put32(buf, 0);
    put32(buf + 4, NGHTTP2_NO_ERROR);
    frame(NGHTTP2_GOAWAY, 0, 0, buf, 8);
    break;
  case FAKE_GOAWAY_THEN_OK:
    put32(buf, 1);
    put32(buf + 4, NGHTTP2_NO_ERROR);
    frame(NGHTTP2_GOAWAY, 0, 0, buf, 8);
    grpc_headers();
    message("ok", 2);
    grpc_trailers("0");
    break;
  case FAKE_INFORMATIONAL: {
    nghttp2_nv nv[] = {NV(":status", "100")};
    headers(nv, 1, 0);
    grpc_headers();
    message("ok", 2);
    grpc_trailers("0");
    break;
  }
  case FAKE_BIG_STATUS: {
    nghttp2_nv nv[] = {NV(":status", "200"),
                       NV("content-type", "application/grpc"),
                       NV("grpc-status", "99"), NV("grpc-message", "50%%zz%4")};
    headers(nv, 4, 1);
    break;
  }
  default: break;
  }
}

/* Find the request HEADERS (stream 1) in what the client sent. */
static void fake_scan(void) {
  size_t off = 24, len;
  if (fk.answered || fk.in_len < 24)
    return;
  assert_memory_equal(fk.in, NGHTTP2_CLIENT_MAGIC, 24);
  while (off + 9 <= fk.in_len) {
    len = (size_t)fk.in[off] << 16 | (size_t)fk.in[off + 1] << 8 |
          fk.in[off + 2];
    if (off + 9 + len > fk.in_len)
      return;
    if (fk.in[off + 3] == NGHTTP2_HEADERS && get32(fk.in + off + 5) == 1) {
      fk.answered = 1;
      fake_answer();
      return;
    }
    off += 9 + len;
  }
}

static void fake_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  static char scratch[65536];
  (void)h;
  (void)hint;
  if (fk.in_len < sizeof fk.in)
    *buf = uv_buf_init((char *)fk.in + fk.in_len,
                       (unsigned)(sizeof fk.in - fk.in_len));
  else
    *buf = uv_buf_init(scratch, sizeof scratch);
}

static void fake_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  (void)s;
  if (n < 0) {
    uv_read_stop((uv_stream_t *)&fk.conn);
    return;
  }
  if (buf->base != (char *)fk.in + fk.in_len)
    return; /* past our buffer: dropped */
  fk.in_len += (size_t)n;
  fake_scan();
}

static void fake_accept(uv_stream_t *l, int status) {
  static const char http[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
  uint8_t ping[8] = {0};
  assert_int_equal(status, 0);
  assert_false(fk.accepted);
  uv_tcp_init(&loop, &fk.conn);
  assert_int_equal(uv_accept(l, (uv_stream_t *)&fk.conn), 0);
  fk.accepted = 1;
  uv_read_start((uv_stream_t *)&fk.conn, fake_alloc, fake_read);
  if (fk.mode == FAKE_GARBAGE) {
    fake_write(http, sizeof http - 1);
    return;
  }
  if (fk.mode == FAKE_NO_SETTINGS)
    return;
  if (fk.mode == FAKE_BAD_PREFACE) {
    frame(NGHTTP2_PING, 0, 0, ping, 8);
    return;
  }
  frame(NGHTTP2_SETTINGS, 0, 0, NULL, 0);
  frame(NGHTTP2_SETTINGS, NGHTTP2_FLAG_ACK, 0, NULL, 0);
}

static void fake_start(int mode) {
  struct sockaddr_in a;
  struct sockaddr_storage ss;
  int len = sizeof ss;
  memset(&fk, 0, sizeof fk);
  fk.mode = mode;
  uv_tcp_init(&loop, &fk.listener);
  uv_ip4_addr("127.0.0.1", 0, &a);
  assert_int_equal(uv_tcp_bind(&fk.listener, (const struct sockaddr *)&a, 0),
                   0);
  assert_int_equal(uv_listen((uv_stream_t *)&fk.listener, 4, fake_accept), 0);
  assert_int_equal(
      uv_tcp_getsockname(&fk.listener, (struct sockaddr *)&ss, &len), 0);
  fk.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void fake_stop(void) {
  uv_close((uv_handle_t *)&fk.listener, NULL);
  if (fk.accepted)
    uv_close((uv_handle_t *)&fk.conn, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
}

static void test_fake_server(void **state) {
  static const struct {
    int mode, status;
    const char *in_message;
  } cases[] = {
      {FAKE_GARBAGE, CPC_RPC_UNAVAILABLE, NULL},
      {FAKE_BAD_PREFACE, CPC_RPC_UNAVAILABLE, NULL},
      {FAKE_HUGE_HEADER, CPC_RPC_RESOURCE_EXHAUSTED, "header"},
      {FAKE_JUNK_FRAMES, CPC_RPC_UNAVAILABLE, NULL},
      {FAKE_HTTP_404, CPC_RPC_UNIMPLEMENTED, "404"},
      {FAKE_HTTP_503_BODY, CPC_RPC_UNAVAILABLE, "503"},
      {FAKE_BAD_CT, CPC_RPC_INTERNAL, "content-type"},
      {FAKE_TWO_MESSAGES, CPC_RPC_INTERNAL, "more than one"},
      {FAKE_NO_MESSAGE, CPC_RPC_INTERNAL, "without a message"},
      {FAKE_NO_STATUS, CPC_RPC_INTERNAL, "grpc-status"},
      {FAKE_CUT_MESSAGE, CPC_RPC_INTERNAL, "inside a message"},
      {FAKE_BAD_FLAG, CPC_RPC_INTERNAL, "framing"},
      {FAKE_RST, CPC_RPC_UNAVAILABLE, NULL},
      {FAKE_GOAWAY, CPC_RPC_UNAVAILABLE, NULL},
      {FAKE_SILENT, CPC_RPC_UNAVAILABLE, "keepalive"},
      {FAKE_BIG_STATUS, CPC_RPC_UNKNOWN, "50%%zz%4"},
      {FAKE_NO_SETTINGS, CPC_RPC_UNAVAILABLE, "connect timed out"},
      {FAKE_GOAWAY_THEN_OK, CPC_RPC_OK, NULL},
      {FAKE_INFORMATIONAL, CPC_RPC_OK, NULL},
  };
  cpc_rpc_client_config cfg;
  cpc_rpc_client *cl;
  result r;
  size_t i;
  (void)state;
  cpc_rpc_client_config_default(&cfg);
  cfg.keepalive_ms = 100;
  cfg.connect_timeout_ms = 300;
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fake_start(cases[i].mode);
    cl = client_new("127.0.0.1", fk.port, &cfg);
    result_init(&r);
    assert_int_equal(cpc_rpc_client_unary(cl, "/t.T/Echo", NULL, 0,
                                          (const uint8_t *)"x", 1, 5000, &cbs,
                                          &r, NULL),
                     0);
    run_until(&r.done);
    if (r.status != cases[i].status)
      fail_msg("case %zu: status %d (%s), want %d", i, r.status, r.message,
               cases[i].status);
    if (cases[i].in_message && !strstr(r.message, cases[i].in_message))
      fail_msg("case %zu: message \"%s\"", i, r.message);
    client_stop(cl);
    fake_stop();
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_arguments, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unary, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unary_ipv6, setup, teardown),
      cmocka_unit_test_setup_teardown(test_error_status, setup, teardown),
      cmocka_unit_test_setup_teardown(test_server_stream, setup, teardown),
      cmocka_unit_test_setup_teardown(test_client_stream, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bidi, setup, teardown),
      cmocka_unit_test_setup_teardown(test_big_messages, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
      cmocka_unit_test_setup_teardown(test_keepalive_answered, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_queueing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_server_gone_then_reconnect, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_oversized_response, setup, teardown),
      cmocka_unit_test_setup_teardown(test_close_with_calls, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reentrant, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fake_server, setup, teardown),
  };
  signal(SIGPIPE, SIG_IGN);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
