/*
 * rpc_test_server: serves cpc.test.v1.Echo (proto/cpc/test/v1/echo.proto)
 * and grpc.health.v1.Health with the libcpc gRPC server, for
 * tests/interop/grpc.test.mjs. Not installed, not for users.
 *
 * Usage: rpc_test_server [ADDR [PORT]]   (default 127.0.0.1, port 0)
 * Prints the bound port on stdout, one line, then serves until SIGTERM or
 * SIGINT, closes the server and exits 0 (so leak checkers see a clean end).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/rpc.h"
#include "cpc/test/v1/echo.pb-c.h"

static cpc_rpc_server *server;
static cpc_rpc_health *health;
static uv_signal_t sig_term, sig_int;
static unsigned stat_cancelled, stat_active, stat_send_waits;

typedef struct count_state {
  uint32_t n, i, pad;
  uint8_t *padding;
} count_state;

typedef struct sum_state {
  int64_t sum;
  uint32_t count;
} sum_state;

static void finish(cpc_rpc_call *call, int status, const char *msg) {
  stat_active--;
  (void)cpc_rpc_call_finish(call, status, msg);
}

static void on_cancel_common(cpc_rpc_call *call, int reason) {
  stat_cancelled++;
  free(cpc_rpc_call_data(call));
  cpc_rpc_call_set_data(call, NULL);
  finish(call, CPC_RPC_CANCELLED, NULL);
}

/* Count's state holds a buffer: free it too. */
static void on_count_cancel(cpc_rpc_call *call, int reason) {
  count_state *st = cpc_rpc_call_data(call);
  if (st)
    free(st->padding);
  on_cancel_common(call, reason);
}

static void echo_metadata(cpc_rpc_call *call) {
  size_t i, n = cpc_rpc_call_metadata_count(call);
  const char *name, *value;
  for (i = 0; i < n; i++)
    if (cpc_rpc_call_metadata_at(call, i, &name, &value) == 0 &&
        strncmp(name, "x-cpc-", 6) == 0)
      (void)cpc_rpc_call_add_metadata(call, 0, name, value);
  value = cpc_rpc_call_metadata(call, "authorization");
  if (value)
    (void)cpc_rpc_call_add_metadata(call, 1, "x-cpc-authorization", value);
  (void)cpc_rpc_call_add_metadata(call, 1, "x-cpc-trailer", "done");
}

static void on_echo(cpc_rpc_call *call, const uint8_t *msg, size_t len) {
  Cpc__Test__V1__EchoRequest *req;
  Cpc__Test__V1__EchoResponse resp = CPC__TEST__V1__ECHO_RESPONSE__INIT;
  uint8_t *big = NULL;
  int rc;
  stat_active++;
  req = cpc__test__v1__echo_request__unpack(NULL, len, msg);
  if (!req) {
    finish(call, CPC_RPC_INVALID_ARGUMENT, "malformed EchoRequest");
    return;
  }
  echo_metadata(call);
  if (req->fail_code) {
    finish(call, (int)req->fail_code, req->text);
    goto out;
  }
  resp.text = req->text;
  resp.payload = req->payload;
  if (req->response_size) {
    big = calloc(1, req->response_size);
    if (!big) {
      finish(call, CPC_RPC_RESOURCE_EXHAUSTED, "no memory");
      goto out;
    }
    resp.payload.data = big;
    resp.payload.len = req->response_size;
  }
  rc = cpc_rpc_call_send_pb(call, &resp.base);
  if (rc != 0)
    finish(call,
           rc == CPC_ETOOBIG ? CPC_RPC_RESOURCE_EXHAUSTED : CPC_RPC_INTERNAL,
           cpc_strerror(rc));
  else
    finish(call, CPC_RPC_OK, NULL);
out:
  free(big);
  cpc__test__v1__echo_request__free_unpacked(req, NULL);
}

static void count_pump(cpc_rpc_call *call) {
  count_state *st = cpc_rpc_call_data(call);
  Cpc__Test__V1__CountResponse resp = CPC__TEST__V1__COUNT_RESPONSE__INIT;
  int rc;
  resp.pad.data = st->padding;
  resp.pad.len = st->pad;
  while (st->i < st->n) {
    resp.i = st->i;
    rc = cpc_rpc_call_send_pb(call, &resp.base);
    if (rc == CPC_EAGAIN) {
      stat_send_waits++;
      return; /* on_writable resumes */
    }
    if (rc != 0) {
      free(st->padding);
      free(st);
      cpc_rpc_call_set_data(call, NULL);
      finish(call, CPC_RPC_INTERNAL, cpc_strerror(rc));
      return;
    }
    st->i++;
  }
  free(st->padding);
  free(st);
  cpc_rpc_call_set_data(call, NULL);
  finish(call, CPC_RPC_OK, NULL);
}

static void on_count(cpc_rpc_call *call, const uint8_t *msg, size_t len) {
  Cpc__Test__V1__CountRequest *req;
  count_state *st;
  stat_active++;
  req = cpc__test__v1__count_request__unpack(NULL, len, msg);
  if (!req) {
    finish(call, CPC_RPC_INVALID_ARGUMENT, "malformed CountRequest");
    return;
  }
  st = calloc(1, sizeof *st);
  if (st) {
    st->n = req->n;
    st->pad = req->pad;
    st->padding = calloc(1, req->pad ? req->pad : 1);
  }
  cpc__test__v1__count_request__free_unpacked(req, NULL);
  if (!st || !st->padding) {
    if (st)
      free(st->padding);
    free(st);
    finish(call, CPC_RPC_RESOURCE_EXHAUSTED, "no memory");
    return;
  }
  cpc_rpc_call_set_data(call, st);
  count_pump(call);
}

static void on_sum_start(cpc_rpc_call *call, const uint8_t *msg, size_t len) {
  sum_state *st = calloc(1, sizeof *st);
  stat_active++;
  if (!st) {
    finish(call, CPC_RPC_RESOURCE_EXHAUSTED, "no memory");
    return;
  }
  cpc_rpc_call_set_data(call, st);
}

static void on_sum_message(cpc_rpc_call *call, const uint8_t *msg, size_t len) {
  sum_state *st = cpc_rpc_call_data(call);
  Cpc__Test__V1__SumRequest *req =
      cpc__test__v1__sum_request__unpack(NULL, len, msg);
  if (!req) {
    free(st);
    cpc_rpc_call_set_data(call, NULL);
    finish(call, CPC_RPC_INVALID_ARGUMENT, "malformed SumRequest");
    return;
  }
  st->sum += req->value;
  st->count++;
  cpc__test__v1__sum_request__free_unpacked(req, NULL);
}

static void on_sum_end(cpc_rpc_call *call) {
  sum_state *st = cpc_rpc_call_data(call);
  Cpc__Test__V1__SumResponse resp = CPC__TEST__V1__SUM_RESPONSE__INIT;
  resp.sum = st->sum;
  resp.count = st->count;
  free(st);
  cpc_rpc_call_set_data(call, NULL);
  if (cpc_rpc_call_send_pb(call, &resp.base) != 0)
    finish(call, CPC_RPC_INTERNAL, "send failed");
  else
    finish(call, CPC_RPC_OK, NULL);
}

static void on_chat_start(cpc_rpc_call *call, const uint8_t *msg, size_t len) {
  stat_active++;
}

static void on_chat_message(cpc_rpc_call *call, const uint8_t *msg,
                            size_t len) {
  int rc = cpc_rpc_call_send(call, msg, len); /* echo the bytes */
  if (rc != 0)
    finish(call, CPC_RPC_RESOURCE_EXHAUSTED, cpc_strerror(rc));
}

static void on_chat_end(cpc_rpc_call *call) {
  finish(call, CPC_RPC_OK, NULL);
}

static void on_hang(cpc_rpc_call *call, const uint8_t *msg, size_t len) {
  stat_active++; /* answered by on_cancel only */
}

static void on_stats(cpc_rpc_call *call, const uint8_t *msg, size_t len) {
  Cpc__Test__V1__StatsResponse resp = CPC__TEST__V1__STATS_RESPONSE__INIT;
  resp.cancelled = stat_cancelled;
  resp.active = stat_active;
  resp.connections = (uint32_t)cpc_rpc_server_connections(server);
  resp.send_waits = stat_send_waits;
  stat_active++;
  if (cpc_rpc_call_send_pb(call, &resp.base) != 0)
    finish(call, CPC_RPC_INTERNAL, "send failed");
  else
    finish(call, CPC_RPC_OK, NULL);
}

static void on_set_health(cpc_rpc_call *call, const uint8_t *msg, size_t len) {
  Cpc__Test__V1__SetHealthRequest *req;
  Cpc__Test__V1__EchoResponse resp = CPC__TEST__V1__ECHO_RESPONSE__INIT;
  int rc;
  stat_active++;
  req = cpc__test__v1__set_health_request__unpack(NULL, len, msg);
  if (!req) {
    finish(call, CPC_RPC_INVALID_ARGUMENT, "malformed SetHealthRequest");
    return;
  }
  rc = req->status == 3
           ? cpc_rpc_health_remove(health, req->service)
           : cpc_rpc_health_set(health, req->service,
                                (enum cpc_rpc_health_status)req->status);
  cpc__test__v1__set_health_request__free_unpacked(req, NULL);
  if (rc != 0) {
    finish(call, CPC_RPC_INVALID_ARGUMENT, cpc_strerror(rc));
    return;
  }
  (void)cpc_rpc_call_send_pb(call, &resp.base);
  finish(call, CPC_RPC_OK, NULL);
}

static void on_closed(void *ud) {
  uv_close((uv_handle_t *)&sig_term, NULL);
  uv_close((uv_handle_t *)&sig_int, NULL);
}

static void on_signal(uv_signal_t *s, int signum) {
  uv_signal_stop(&sig_term);
  uv_signal_stop(&sig_int);
  cpc_rpc_server_close(server, on_closed, NULL);
}

static int add(const char *path, enum cpc_rpc_kind kind,
               void (*on_call)(cpc_rpc_call *, const uint8_t *, size_t)) {
  cpc_rpc_method m;
  memset(&m, 0, sizeof m);
  m.path = path;
  m.kind = kind;
  m.on_call = on_call;
  m.on_cancel = on_cancel_common;
  if (kind == CPC_RPC_SERVER_STREAM) {
    m.on_writable = count_pump;
    m.on_cancel = on_count_cancel;
  }
  if (on_call == on_sum_start) {
    m.on_message = on_sum_message;
    m.on_end = on_sum_end;
  }
  if (on_call == on_chat_start) {
    m.on_message = on_chat_message;
    m.on_end = on_chat_end;
  }
  return cpc_rpc_server_add_method(server, &m);
}

int main(int argc, char **argv) {
  const char *addr = argc > 1 ? argv[1] : "127.0.0.1";
  uint16_t port = argc > 2 ? (uint16_t)atoi(argv[2]) : 0;
  uv_loop_t *loop = uv_default_loop();
  int rc;
  signal(SIGPIPE, SIG_IGN);
  rc = cpc_rpc_server_new(&server, loop, NULL);
  if (rc == 0)
    rc = add("/cpc.test.v1.Echo/Echo", CPC_RPC_UNARY, on_echo);
  if (rc == 0)
    rc = add("/cpc.test.v1.Echo/Count", CPC_RPC_SERVER_STREAM, on_count);
  if (rc == 0)
    rc = add("/cpc.test.v1.Echo/Sum", CPC_RPC_CLIENT_STREAM, on_sum_start);
  if (rc == 0)
    rc = add("/cpc.test.v1.Echo/Chat", CPC_RPC_BIDI, on_chat_start);
  if (rc == 0)
    rc = add("/cpc.test.v1.Echo/Hang", CPC_RPC_UNARY, on_hang);
  if (rc == 0)
    rc = add("/cpc.test.v1.Echo/Stats", CPC_RPC_UNARY, on_stats);
  if (rc == 0)
    rc = add("/cpc.test.v1.Echo/SetHealth", CPC_RPC_UNARY, on_set_health);
  if (rc == 0)
    rc = cpc_rpc_health_enable(server, &health);
  if (rc == 0)
    rc = cpc_rpc_health_set(health, "cpc.test.v1.Echo", CPC_RPC_HEALTH_SERVING);
  if (rc == 0)
    rc = cpc_rpc_server_listen(server, addr, port, &port);
  if (rc != 0) {
    fprintf(stderr, "rpc_test_server: %s\n", cpc_strerror(rc));
    return 1;
  }
  printf("%u\n", (unsigned)port);
  fflush(stdout);
  uv_signal_init(loop, &sig_term);
  uv_signal_init(loop, &sig_int);
  uv_signal_start(&sig_term, on_signal, SIGTERM);
  uv_signal_start(&sig_int, on_signal, SIGINT);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
  return 0;
}
