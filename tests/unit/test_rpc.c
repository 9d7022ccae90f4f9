/*
 * test_rpc.c: the gRPC server core. Pure parts: message framing (prefix,
 * deframer split anywhere, caps, bad flags), percent-encoding of
 * grpc-message, grpc-timeout parsing, status names. Then the server on a
 * libuv loop, driven by an nghttp2 client written here, for what grpc-js
 * never sends: compressed flag without grpc-encoding, missing te, wrong
 * content-type or method, wrong message counts, a message cut short, a
 * message over the cap, oversized metadata, bad and expired timeouts,
 * Trailers-Only errors with percent-encoded messages, handler contract
 * violations, cancellation on close.
 */
#include <setjmp.h>
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

/* ---- framing ------------------------------------------------------------ */

static void test_frame_header(void **state) {
  uint8_t h[5];
  (void)state;
  assert_int_equal(cpc_rpc_frame_header(h, 0, 0x01020304), 0);
  assert_memory_equal(h, "\x00\x01\x02\x03\x04", 5);
  assert_int_equal(cpc_rpc_frame_header(h, 1, 5), 0);
  assert_memory_equal(h, "\x01\x00\x00\x00\x05", 5);
#if SIZE_MAX > UINT32_MAX
  assert_int_equal(cpc_rpc_frame_header(h, 0, (size_t)UINT32_MAX + 1),
                   CPC_ETOOBIG);
#endif
}

/* Three messages (7 bytes, empty, 300 bytes) back to back. */
static size_t build_stream(uint8_t *out) {
  size_t n = 0, i;
  cpc_rpc_frame_header(out + n, 0, 7);
  memcpy(out + n + 5, "message", 7);
  n += 12;
  cpc_rpc_frame_header(out + n, 0, 0);
  n += 5;
  cpc_rpc_frame_header(out + n, 0, 300);
  for (i = 0; i < 300; i++)
    out[n + 5 + i] = (uint8_t)(i * 7);
  return n + 305;
}

static void check_messages(const uint8_t *in, size_t len, size_t step) {
  cpc_rpc_deframer d;
  const uint8_t *msg;
  size_t off = 0, used, mlen, count = 0, i;
  int rc, comp;
  cpc_rpc_deframer_init(&d, 0);
  while (off < len) {
    size_t chunk = len - off < step ? len - off : step, coff = 0;
    while (coff < chunk) {
      rc = cpc_rpc_deframer_feed(&d, in + off + coff, chunk - coff, &used, &msg,
                                 &mlen, &comp);
      assert_true(rc >= 0);
      assert_true(used <= chunk - coff);
      coff += used;
      if (rc == 1) {
        assert_int_equal(comp, 0);
        if (count == 0) {
          assert_int_equal(mlen, 7);
          assert_memory_equal(msg, "message", 7);
        } else if (count == 1) {
          assert_int_equal(mlen, 0);
          assert_null(msg);
        } else {
          assert_int_equal(mlen, 300);
          for (i = 0; i < 300; i++)
            assert_int_equal(msg[i], (uint8_t)(i * 7));
        }
        count++;
      } else {
        assert_int_equal(coff, chunk); /* 0 only when input is used up */
      }
    }
    off += chunk;
  }
  assert_int_equal(count, 3);
  assert_true(cpc_rpc_deframer_idle(&d));
  cpc_rpc_deframer_free(&d);
}

static void test_deframer_splits(void **state) {
  uint8_t buf[400];
  size_t len = build_stream(buf), step;
  (void)state;
  for (step = 1; step <= len; step++)
    check_messages(buf, len, step);
}

static void test_deframer_caps(void **state) {
  cpc_rpc_deframer d;
  uint8_t buf[5 + 101];
  const uint8_t *msg;
  size_t used, mlen;
  int comp;
  (void)state;
  memset(buf, 0xab, sizeof buf);
  /* exactly at the cap: fine */
  cpc_rpc_deframer_init(&d, 100);
  cpc_rpc_frame_header(buf, 0, 100);
  assert_int_equal(
      cpc_rpc_deframer_feed(&d, buf, 105, &used, &msg, &mlen, &comp), 1);
  assert_int_equal(mlen, 100);
  assert_int_equal(used, 105);
  /* one over: refused from the prefix alone, and sticky */
  cpc_rpc_frame_header(buf, 0, 101);
  assert_int_equal(cpc_rpc_deframer_feed(&d, buf, 5, &used, &msg, &mlen, &comp),
                   CPC_ETOOBIG);
  assert_int_equal(cpc_rpc_deframer_feed(&d, buf, 5, &used, &msg, &mlen, &comp),
                   CPC_ETOOBIG);
  cpc_rpc_deframer_free(&d);
  /* compressed flag 1 is reported; 2 is malformed */
  cpc_rpc_deframer_init(&d, 0);
  cpc_rpc_frame_header(buf, 1, 1);
  assert_int_equal(cpc_rpc_deframer_feed(&d, buf, 6, &used, &msg, &mlen, &comp),
                   1);
  assert_int_equal(comp, 1);
  buf[0] = 2;
  assert_int_equal(cpc_rpc_deframer_feed(&d, buf, 6, &used, &msg, &mlen, &comp),
                   CPC_EMALFORMED);
  cpc_rpc_deframer_free(&d);
  /* a partial message is not idle; memory follows what arrived */
  cpc_rpc_deframer_init(&d, 0);
  cpc_rpc_frame_header(buf, 0, 4000000);
  assert_int_equal(
      cpc_rpc_deframer_feed(&d, buf, 50, &used, &msg, &mlen, &comp), 0);
  assert_false(cpc_rpc_deframer_idle(&d));
  assert_true(d.buf_cap < 4096);
  cpc_rpc_deframer_free(&d);
}

/* ---- grpc-message and grpc-timeout --------------------------------------- */

static void test_percent(void **state) {
  char out[64];
  uint8_t dec[64];
  size_t n;
  const char *utf8 = "\xc3\xbc"; /* u with diaeresis */
  (void)state;
  assert_int_equal(cpc_rpc_percent_encode((const uint8_t *)"plain text~", 11,
                                          out, sizeof out, &n),
                   0);
  assert_string_equal(out, "plain text~");
  assert_int_equal(n, 11);
  assert_int_equal(
      cpc_rpc_percent_encode((const uint8_t *)"100%\n", 5, out, sizeof out, &n),
      0);
  assert_string_equal(out, "100%25%0A");
  assert_int_equal(
      cpc_rpc_percent_encode((const uint8_t *)utf8, 2, out, sizeof out, NULL),
      0);
  assert_string_equal(out, "%C3%BC");
  assert_int_equal(
      cpc_rpc_percent_encode((const uint8_t *)"\x7f\x1f", 2, out, 7, NULL), 0);
  assert_string_equal(out, "%7F%1F");
  assert_int_equal(
      cpc_rpc_percent_encode((const uint8_t *)"\x7f\x1f", 2, out, 6, NULL),
      CPC_ETOOBIG);
  assert_int_equal(
      cpc_rpc_percent_encode((const uint8_t *)"abc", 3, out, 3, NULL),
      CPC_ETOOBIG);
  /* decode: both hex cases; broken escapes are kept, never an error */
  assert_int_equal(
      cpc_rpc_percent_decode("a%25b%0a%C3%bc", 14, dec, sizeof dec, &n), 0);
  assert_int_equal(n, 6);
  assert_memory_equal(dec, "a%b\n\xc3\xbc", 6);
  assert_int_equal(cpc_rpc_percent_decode("%zz%4", 5, dec, sizeof dec, &n), 0);
  assert_string_equal((char *)dec, "%zz%4");
  assert_int_equal(cpc_rpc_percent_decode("abc", 3, dec, 3, &n), CPC_ETOOBIG);
}

static void test_timeout(void **state) {
  static const struct {
    const char *v;
    uint64_t ns;
  } ok[] = {
      {"1S", 1000000000ull},
      {"100m", 100000000ull},
      {"5u", 5000ull},
      {"7n", 7ull},
      {"2M", 120000000000ull},
      {"1H", 3600000000000ull},
      {"0m", 0},
      {"99999999n", 99999999ull},
      {"99999999H", UINT64_MAX}, /* saturates */
  };
  static const char *const bad[] = {"",    "S",   "1",    "123456789S",
                                    "1x",  "-1S", "1.5S", " 1S",
                                    "1 S", "1s",  "m1"};
  uint64_t ns;
  size_t i;
  (void)state;
  for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    assert_int_equal(cpc_rpc_timeout_parse(ok[i].v, strlen(ok[i].v), &ns), 0);
    assert_true(ns == ok[i].ns);
  }
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(cpc_rpc_timeout_parse(bad[i], strlen(bad[i]), &ns),
                     CPC_EMALFORMED);
}

static void test_status_names(void **state) {
  (void)state;
  assert_string_equal(cpc_rpc_status_name(CPC_RPC_OK), "OK");
  assert_string_equal(cpc_rpc_status_name(CPC_RPC_RESOURCE_EXHAUSTED),
                      "RESOURCE_EXHAUSTED");
  assert_string_equal(cpc_rpc_status_name(16), "UNAUTHENTICATED");
  assert_string_equal(cpc_rpc_status_name(17), "UNKNOWN");
  assert_string_equal(cpc_rpc_status_name(-1), "UNKNOWN");
}

/* ---- the server, driven by a raw nghttp2 client ------------------------- */

static uv_loop_t loop;
static cpc_rpc_server *srv;
static uint16_t srv_port;
static int cancel_reason, cancel_count, closed_done;
static cpc_rpc_call *held_call;

/* Echo: answers with the request bytes; "finish-empty" finishes OK with no
 * message; "status" finishes INVALID_ARGUMENT with a message to encode. */
static void on_echo(cpc_rpc_call *call, const uint8_t *msg, size_t len) {
  if (len == 12 && memcmp(msg, "finish-empty", 12) == 0) {
    assert_int_equal(cpc_rpc_call_finish(call, CPC_RPC_OK, NULL), 0);
    return;
  }
  if (len == 6 && memcmp(msg, "status", 6) == 0) {
    assert_int_equal(cpc_rpc_call_add_metadata(call, 1, "grpc-x", "v"),
                     CPC_EINVAL);
    assert_int_equal(cpc_rpc_call_add_metadata(call, 1, "Upper", "v"),
                     CPC_EINVAL);
    assert_int_equal(
        cpc_rpc_call_finish(call, CPC_RPC_INVALID_ARGUMENT, "bad 100%\nline"),
        0);
    return;
  }
  assert_string_equal(cpc_rpc_call_path(call), "/t.T/Echo");
  assert_int_equal(cpc_rpc_call_send(call, msg, len), 0);
  /* unary: a second message is refused */
  assert_int_equal(cpc_rpc_call_send(call, msg, len), CPC_ESTATE);
  assert_int_equal(cpc_rpc_call_finish(call, CPC_RPC_OK, NULL), 0);
}

static void on_hold(cpc_rpc_call *call, const uint8_t *msg, size_t len) {
  held_call = call;
}

static void on_hold_cancel(cpc_rpc_call *call, int reason) {
  cancel_reason = reason;
  cancel_count++;
  held_call = NULL;
  assert_int_equal(cpc_rpc_call_send(call, (const uint8_t *)"x", 1),
                   CPC_ECLOSED);
  assert_int_equal(cpc_rpc_call_finish(call, CPC_RPC_OK, NULL), CPC_ECLOSED);
}

static unsigned stream_msgs;
static void on_stream_start(cpc_rpc_call *call, const uint8_t *msg,
                            size_t len) {
  assert_null(msg);
  stream_msgs = 0;
}
static void on_stream_msg(cpc_rpc_call *call, const uint8_t *msg, size_t len) {
  stream_msgs++;
}
static void on_stream_end(cpc_rpc_call *call) {
  uint8_t n = (uint8_t)stream_msgs;
  assert_int_equal(cpc_rpc_call_send(call, &n, 1), 0);
  assert_int_equal(cpc_rpc_call_finish(call, CPC_RPC_OK, NULL), 0);
}

/* One request on its own connection. */
typedef struct client {
  uv_tcp_t tcp;
  uv_connect_t creq;
  nghttp2_session *h2;
  int connected, done, closed, writing;
  int http_status, grpc_status, headers_frames;
  char grpc_message[256];
  uint8_t body[4096];
  size_t body_len;
  const uint8_t *req;
  size_t req_len, req_off;
  int end_stream; /* send END_STREAM after the body */
  uint32_t rst_code;
} client;

static client pending_client; /* see test_server_close_pending */
static void client_free(client *c);

static int server_setup(void **state) {
  cpc_rpc_server_config cfg;
  cpc_rpc_method m;
  (void)state;
  assert_int_equal(uv_loop_init(&loop), 0);
  cpc_rpc_server_config_default(&cfg);
  cfg.max_recv_message = 1000;
  assert_int_equal(cpc_rpc_server_new(&srv, &loop, &cfg), 0);
  memset(&m, 0, sizeof m);
  m.path = "/t.T/Echo";
  m.on_call = on_echo;
  assert_int_equal(cpc_rpc_server_add_method(srv, &m), 0);
  assert_int_equal(cpc_rpc_server_add_method(srv, &m), CPC_EEXIST);
  m.path = "/t.T/Hold";
  m.on_call = on_hold;
  m.on_cancel = on_hold_cancel;
  assert_int_equal(cpc_rpc_server_add_method(srv, &m), 0);
  m.path = "/t.T/Stream";
  m.kind = CPC_RPC_CLIENT_STREAM;
  m.on_call = on_stream_start;
  m.on_cancel = NULL;
  assert_int_equal(cpc_rpc_server_add_method(srv, &m), CPC_EINVAL);
  m.on_message = on_stream_msg;
  m.on_end = on_stream_end;
  assert_int_equal(cpc_rpc_server_add_method(srv, &m), 0);
  m.path = "no-slash";
  assert_int_equal(cpc_rpc_server_add_method(srv, &m), CPC_EINVAL);
  m.path = "/a/b/c";
  assert_int_equal(cpc_rpc_server_add_method(srv, &m), CPC_EINVAL);
  assert_int_equal(cpc_rpc_server_listen(srv, "not an ip", 0, NULL),
                   CPC_EINVAL);
  assert_int_equal(cpc_rpc_server_listen(srv, "127.0.0.1", 0, &srv_port), 0);
  assert_true(srv_port > 0);
  m.path = "/t.T/Late";
  assert_int_equal(cpc_rpc_server_add_method(srv, &m), CPC_ESTATE);
  return 0;
}

static void on_server_closed(void *ud) {
  closed_done = 1;
}

static int server_teardown(void **state) {
  (void)state;
  int was_held = held_call != NULL;
  cpc_rpc_server_close(srv, on_server_closed, NULL);
  while (!closed_done)
    uv_run(&loop, UV_RUN_ONCE);
  if (was_held) {
    assert_int_equal(cancel_count, 1);
    assert_int_equal(cancel_reason, CPC_ECLOSED);
    assert_null(held_call);
    client_free(&pending_client);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
  return 0;
}

static void client_flush(client *c);

static ssize_t client_read(nghttp2_session *s, int32_t id, uint8_t *buf,
                           size_t length, uint32_t *flags,
                           nghttp2_data_source *src, void *ud) {
  client *c = ud;
  size_t n = c->req_len - c->req_off;
  if (n > length)
    n = length;
  memcpy(buf, c->req + c->req_off, n);
  c->req_off += n;
  if (c->req_off == c->req_len) {
    if (c->end_stream)
      *flags |= NGHTTP2_DATA_FLAG_EOF;
    else if (n == 0)
      return NGHTTP2_ERR_DEFERRED;
  }
  return (ssize_t)n;
}

static int client_header(nghttp2_session *s, const nghttp2_frame *f,
                         const uint8_t *name, size_t nl, const uint8_t *value,
                         size_t vl, uint8_t flags, void *ud) {
  client *c = ud;
  char v[256];
  snprintf(v, sizeof v, "%.*s", (int)vl, (const char *)value);
  if (nl == 7 && memcmp(name, ":status", 7) == 0)
    c->http_status = atoi(v);
  else if (nl == 11 && memcmp(name, "grpc-status", 11) == 0)
    c->grpc_status = atoi(v);
  else if (nl == 12 && memcmp(name, "grpc-message", 12) == 0)
    snprintf(c->grpc_message, sizeof c->grpc_message, "%s", v);
  return 0;
}

static int client_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
  client *c = ud;
  if (f->hd.type == NGHTTP2_HEADERS)
    c->headers_frames++;
  if (f->hd.type == NGHTTP2_RST_STREAM)
    c->rst_code = f->rst_stream.error_code;
  return 0;
}

static int client_data(nghttp2_session *s, uint8_t flags, int32_t id,
                       const uint8_t *data, size_t len, void *ud) {
  client *c = ud;
  assert_true(c->body_len + len <= sizeof c->body);
  memcpy(c->body + c->body_len, data, len);
  c->body_len += len;
  return 0;
}

static int client_close(nghttp2_session *s, int32_t id, uint32_t code,
                        void *ud) {
  client *c = ud;
  c->done = 1;
  return 0;
}

static void on_client_write(uv_write_t *w, int status) {
  client *c = w->data;
  free(w);
  c->writing--;
}

static void client_flush(client *c) {
  const uint8_t *data;
  ssize_t n;
  while ((n = nghttp2_session_mem_send(c->h2, &data)) > 0) {
    uv_write_t *w = malloc(sizeof *w + (size_t)n);
    uv_buf_t b;
    assert_non_null(w);
    memcpy(w + 1, data, (size_t)n);
    b = uv_buf_init((char *)(w + 1), (unsigned)n);
    w->data = c;
    c->writing++;
    assert_int_equal(
        uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_client_write), 0);
  }
}

static void client_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  static char rbuf[65536];
  *buf = uv_buf_init(rbuf, sizeof rbuf);
}

static void client_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  client *c = s->data;
  if (n < 0) {
    c->closed = 1;
    c->done = 1;
    uv_read_stop(s);
    return;
  }
  assert_true(nghttp2_session_mem_recv(c->h2, (const uint8_t *)buf->base,
                                       (size_t)n) >= 0);
  client_flush(c);
}

static void client_on_connect(uv_connect_t *req, int status) {
  client *c = req->data;
  assert_int_equal(status, 0);
  c->connected = 1;
  uv_read_start((uv_stream_t *)&c->tcp, client_alloc, client_on_read);
  client_flush(c);
}

static void client_closed(uv_handle_t *h) {
  client *c = h->data;
  c->closed = 2;
}

/* Headers as "name", "value" pairs, NULL-terminated. Connects and queues
 * the request; the loop does the rest. */
static void start_request(client *c, const char *const *hdrs,
                          const uint8_t *body, size_t body_len,
                          int end_stream) {
  nghttp2_session_callbacks *cb;
  nghttp2_nv nva[32];
  nghttp2_data_provider prd;
  struct sockaddr_in sa;
  size_t n = 0;
  int i;
  memset(c, 0, sizeof *c);
  c->grpc_status = -1;
  c->req = body;
  c->req_len = body_len;
  c->end_stream = end_stream;
  assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
  nghttp2_session_callbacks_set_on_header_callback(cb, client_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, client_frame);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, client_data);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, client_close);
  assert_int_equal(nghttp2_session_client_new(&c->h2, cb, c), 0);
  nghttp2_session_callbacks_del(cb);
  assert_int_equal(nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, NULL, 0),
                   0);
  for (i = 0; hdrs[i]; i += 2) {
    nva[n].name = (uint8_t *)(uintptr_t)hdrs[i];
    nva[n].namelen = strlen(hdrs[i]);
    nva[n].value = (uint8_t *)(uintptr_t)hdrs[i + 1];
    nva[n].valuelen = strlen(hdrs[i + 1]);
    nva[n].flags = NGHTTP2_NV_FLAG_NONE;
    n++;
  }
  prd.read_callback = client_read;
  assert_true(nghttp2_submit_request(c->h2, NULL, nva, n, &prd, c) > 0);
  assert_int_equal(uv_tcp_init(&loop, &c->tcp), 0);
  c->tcp.data = c;
  c->creq.data = c;
  uv_ip4_addr("127.0.0.1", srv_port, &sa);
  assert_int_equal(uv_tcp_connect(&c->creq, &c->tcp,
                                  (const struct sockaddr *)&sa,
                                  client_on_connect),
                   0);
}

/* Run one request until its stream is closed. */
static void run_request(client *c, const char *const *hdrs, const uint8_t *body,
                        size_t body_len, int end_stream) {
  start_request(c, hdrs, body, body_len, end_stream);
  while (!c->done)
    uv_run(&loop, UV_RUN_ONCE);
}

static void client_free(client *c) {
  uv_close((uv_handle_t *)&c->tcp, client_closed);
  while (c->closed != 2)
    uv_run(&loop, UV_RUN_ONCE);
  nghttp2_session_del(c->h2);
}

#define GRPC_HDRS(path)                                                        \
  ":method", "POST", ":scheme", "http", ":path", path, ":authority", "t",      \
      "content-type", "application/grpc+proto", "te", "trailers"

static size_t frame(uint8_t *out, int flag, const char *msg) {
  size_t len = strlen(msg);
  cpc_rpc_frame_header(out, flag, len);
  memcpy(out + 5, msg, len);
  return 5 + len;
}

static void expect(client *c, int grpc_status) {
  assert_int_equal(c->http_status, 200);
  assert_int_equal(c->grpc_status, grpc_status);
}

static void test_server_unary(void **state) {
  static const char *const hdrs[] = {GRPC_HDRS("/t.T/Echo"), "x-cpc-node", "n1",
                                     NULL};
  client c;
  uint8_t body[64];
  size_t n = frame(body, 0, "hello");
  (void)state;
  run_request(&c, hdrs, body, n, 1);
  expect(&c, 0);
  assert_int_equal(c.headers_frames, 2); /* headers, trailers */
  assert_int_equal(c.body_len, n);
  assert_memory_equal(c.body, body, n);
  client_free(&c);
  /* a status with a message: Trailers-Only, percent-encoded */
  n = frame(body, 0, "status");
  run_request(&c, hdrs, body, n, 1);
  expect(&c, CPC_RPC_INVALID_ARGUMENT);
  assert_int_equal(c.headers_frames, 1);
  assert_string_equal(c.grpc_message, "bad 100%25%0Aline");
  client_free(&c);
  /* unary finished OK without a message: INTERNAL */
  n = frame(body, 0, "finish-empty");
  run_request(&c, hdrs, body, n, 1);
  expect(&c, CPC_RPC_INTERNAL);
  client_free(&c);
}

static void test_server_client_stream(void **state) {
  static const char *const hdrs[] = {GRPC_HDRS("/t.T/Stream"), NULL};
  client c;
  uint8_t body[64];
  size_t n = 0;
  (void)state;
  n += frame(body + n, 0, "a");
  n += frame(body + n, 0, "");
  n += frame(body + n, 0, "ccc");
  run_request(&c, hdrs, body, n, 1);
  expect(&c, 0);
  assert_int_equal(c.body_len, 6);
  assert_int_equal(c.body[5], 3);
  client_free(&c);
}

static void test_server_refusals(void **state) {
  static const char *const no_te[] = {
      ":method",   "POST",       ":scheme", "http",         ":path",
      "/t.T/Echo", ":authority", "t",       "content-type", "application/grpc",
      NULL};
  static const char *const bad_ct[] = {
      ":method",   "POST",       ":scheme", "http",         ":path",
      "/t.T/Echo", ":authority", "t",       "content-type", "application/json",
      "te",        "trailers",   NULL};
  static const char *const get[] = {
      ":method",   "GET",        ":scheme", "http",         ":path",
      "/t.T/Echo", ":authority", "t",       "content-type", "application/grpc",
      "te",        "trailers",   NULL};
  static const char *const gzip[] = {GRPC_HDRS("/t.T/Echo"), "grpc-encoding",
                                     "gzip", NULL};
  static const char *const unknown[] = {GRPC_HDRS("/t.T/Nope"), NULL};
  static const char *const echo[] = {GRPC_HDRS("/t.T/Echo"), NULL};
  static const char *const bad_timeout[] = {GRPC_HDRS("/t.T/Echo"),
                                            "grpc-timeout", "soon", NULL};
  client c;
  uint8_t body[2048];
  size_t n = frame(body, 0, "x");
  (void)state;
  run_request(&c, no_te, body, n, 1);
  expect(&c, CPC_RPC_INTERNAL);
  client_free(&c);
  run_request(&c, bad_ct, body, n, 1);
  assert_int_equal(c.http_status, 415);
  assert_int_equal(c.grpc_status, -1);
  client_free(&c);
  run_request(&c, get, body, n, 1);
  assert_int_equal(c.http_status, 405);
  client_free(&c);
  run_request(&c, gzip, body, n, 1);
  expect(&c, CPC_RPC_UNIMPLEMENTED);
  client_free(&c);
  run_request(&c, unknown, body, n, 1);
  expect(&c, CPC_RPC_UNIMPLEMENTED);
  assert_string_equal(c.grpc_message, "unknown method /t.T/Nope");
  client_free(&c);
  run_request(&c, bad_timeout, body, n, 1);
  expect(&c, CPC_RPC_INTERNAL);
  client_free(&c);
  /* compressed flag without grpc-encoding */
  n = frame(body, 1, "x");
  run_request(&c, echo, body, n, 1);
  expect(&c, CPC_RPC_INTERNAL);
  client_free(&c);
  /* zero and two messages for a unary method */
  run_request(&c, echo, body, 0, 1);
  expect(&c, CPC_RPC_INTERNAL);
  client_free(&c);
  n = frame(body, 0, "one");
  n += frame(body + n, 0, "two");
  run_request(&c, echo, body, n, 1);
  expect(&c, CPC_RPC_INTERNAL);
  client_free(&c);
  /* the request ends inside a message */
  n = frame(body, 0, "truncated") - 3;
  run_request(&c, echo, body, n, 1);
  expect(&c, CPC_RPC_INTERNAL);
  client_free(&c);
  /* over the receive cap (1000 in this server): refused from the prefix,
   * before the client even ends its stream; then RST_STREAM(NO_ERROR) */
  memset(body, 'a', sizeof body);
  cpc_rpc_frame_header(body, 0, 1001);
  run_request(&c, echo, body, 1006, 0);
  expect(&c, CPC_RPC_RESOURCE_EXHAUSTED);
  assert_int_equal(c.rst_code, NGHTTP2_NO_ERROR);
  client_free(&c);
}

static void test_server_big_metadata(void **state) {
  static char big[20000];
  const char *hdrs[] = {GRPC_HDRS("/t.T/Echo"), "x-big", big, NULL};
  client c;
  uint8_t body[16];
  size_t n = frame(body, 0, "x");
  (void)state;
  memset(big, 'b', sizeof big - 1);
  run_request(&c, hdrs, body, n, 1);
  expect(&c, CPC_RPC_RESOURCE_EXHAUSTED);
  client_free(&c);
}

static void test_server_deadline(void **state) {
  static const char *const hdrs[] = {GRPC_HDRS("/t.T/Hold"), "grpc-timeout",
                                     "50m", NULL};
  static const char *const zero[] = {GRPC_HDRS("/t.T/Hold"), "grpc-timeout",
                                     "0n", NULL};
  client c;
  uint8_t body[16];
  size_t n = frame(body, 0, "x");
  uint64_t t0 = uv_now(&loop);
  (void)state;
  cancel_count = 0;
  run_request(&c, hdrs, body, n, 1);
  expect(&c, CPC_RPC_DEADLINE_EXCEEDED);
  assert_true(uv_now(&loop) - t0 >= 40);
  assert_int_equal(cancel_count, 1);
  assert_int_equal(cancel_reason, CPC_ETIMEDOUT);
  client_free(&c);
  run_request(&c, zero, body, n, 1);
  expect(&c, CPC_RPC_DEADLINE_EXCEEDED);
  assert_int_equal(cancel_count, 1); /* refused before the handler */
  client_free(&c);
}

/* A held call is cancelled when the client goes away, and again (another
 * call) when the server closes; both are released by on_cancel. */
static void test_server_cancel(void **state) {
  static const char *const hdrs[] = {GRPC_HDRS("/t.T/Hold"), NULL};
  client c;
  uint8_t body[16];
  size_t n = frame(body, 0, "x");
  (void)state;
  cancel_count = 0;
  start_request(&c, hdrs, body, n, 1);
  while (!held_call)
    uv_run(&loop, UV_RUN_ONCE);
  assert_true(cpc_rpc_call_remaining_ms(held_call) == -1);
  assert_int_equal(cpc_rpc_server_connections(srv), 1);
  client_free(&c); /* disconnect */
  while (cancel_count == 0)
    uv_run(&loop, UV_RUN_ONCE);
  assert_int_equal(cancel_reason, CPC_ECLOSED);
  assert_null(held_call);
}

/* Leave a call held and its client connected: server_teardown closes the
 * server, which must cancel the call (checked there). */
static void test_server_close_pending(void **state) {
  static const char *const hdrs[] = {GRPC_HDRS("/t.T/Hold"), NULL};
  static uint8_t body[16];
  size_t n = frame(body, 0, "x");
  (void)state;
  cancel_count = 0;
  start_request(&pending_client, hdrs, body, n, 1);
  while (!held_call)
    uv_run(&loop, UV_RUN_ONCE);
}

int main(void) {
  const struct CMUnitTest pure[] = {
      cmocka_unit_test(test_frame_header),
      cmocka_unit_test(test_deframer_splits),
      cmocka_unit_test(test_deframer_caps),
      cmocka_unit_test(test_percent),
      cmocka_unit_test(test_timeout),
      cmocka_unit_test(test_status_names),
  };
  const struct CMUnitTest server[] = {
      cmocka_unit_test(test_server_unary),
      cmocka_unit_test(test_server_client_stream),
      cmocka_unit_test(test_server_refusals),
      cmocka_unit_test(test_server_big_metadata),
      cmocka_unit_test(test_server_deadline),
      cmocka_unit_test(test_server_cancel),
      cmocka_unit_test(test_server_close_pending),
  };
  int rc = cmocka_run_group_tests_name("rpc framing", pure, NULL, NULL);
  return rc | cmocka_run_group_tests_name("rpc server", server, server_setup,
                                          server_teardown);
}
