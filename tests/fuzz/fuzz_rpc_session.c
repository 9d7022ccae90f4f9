/*
 * fuzz_rpc_session.c: the gRPC server's connection code (nghttp2 server
 * session, calls, handlers of every kind, health) fed arbitrary bytes from
 * a client over a Unix socketpair, on a libuv loop. If the first input
 * byte is odd the HTTP/2 client preface is sent first, so the fuzzer gets
 * to frames quickly. The connection always ends (the client side shuts
 * down after the input). Any crash, hang, leak or sanitizer report is a
 * bug.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cpc/error.h"
#include "cpc/rpc.h"
#include "rpc/rpc_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t loop;
static cpc_rpc_server *srv;

static void on_unary(cpc_rpc_call *call, const uint8_t *msg, size_t len) {
  (void)cpc_rpc_call_add_metadata(call, 0, "x-fuzz", "1");
  if (len % 3 == 0) /* leave some calls open: ended by the disconnect */
    return;
  (void)cpc_rpc_call_send(call, msg, len);
  (void)cpc_rpc_call_finish(call, (int)(len % 17), "fuzz \xff%");
}

static void on_stream_start(cpc_rpc_call *call, const uint8_t *msg,
                            size_t len) {}

static void on_stream_message(cpc_rpc_call *call, const uint8_t *msg,
                              size_t len) {
  (void)cpc_rpc_call_send(call, msg, len); /* bidi echo; unary-ish refuses */
}

static void on_stream_end(cpc_rpc_call *call) {
  (void)cpc_rpc_call_send(call, (const uint8_t *)"end", 3);
  (void)cpc_rpc_call_finish(call, CPC_RPC_OK, NULL);
}

static void on_server_stream(cpc_rpc_call *call, const uint8_t *msg,
                             size_t len) {
  size_t i;
  for (i = 0; i < 64; i++)
    if (cpc_rpc_call_send(call, msg, len) != 0)
      break;
  (void)cpc_rpc_call_finish(call, CPC_RPC_OK, NULL);
}

static void on_cancel(cpc_rpc_call *call, int reason) {
  (void)cpc_rpc_call_finish(call, CPC_RPC_CANCELLED, NULL);
}

static void setup(void) {
  cpc_rpc_server_config cfg;
  cpc_rpc_health *h;
  cpc_rpc_method m;
  uv_loop_init(&loop);
  cpc_rpc_server_config_default(&cfg);
  cfg.max_recv_message = 4096;
  cfg.call_send_buffer = 1024;
  cfg.conn_send_buffer = 16384;
  if (cpc_rpc_server_new(&srv, &loop, &cfg) != 0)
    abort();
  memset(&m, 0, sizeof m);
  m.on_cancel = on_cancel;
  m.path = "/f.F/U";
  m.kind = CPC_RPC_UNARY;
  m.on_call = on_unary;
  (void)cpc_rpc_server_add_method(srv, &m);
  m.path = "/f.F/S";
  m.kind = CPC_RPC_SERVER_STREAM;
  m.on_call = on_server_stream;
  (void)cpc_rpc_server_add_method(srv, &m);
  m.on_call = on_stream_start;
  m.on_message = on_stream_message;
  m.on_end = on_stream_end;
  m.path = "/f.F/C";
  m.kind = CPC_RPC_CLIENT_STREAM;
  (void)cpc_rpc_server_add_method(srv, &m);
  m.path = "/f.F/B";
  m.kind = CPC_RPC_BIDI;
  (void)cpc_rpc_server_add_method(srv, &m);
  (void)cpc_rpc_health_enable(srv, &h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  uint8_t sink[65536];
  int sv[2], rounds;
  size_t off = 0;
  if (!srv)
    setup();
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
    return 0;
  fcntl(sv[1], F_SETFL, O_NONBLOCK);
  if (cpc__rpc_conn_open_fd(srv, sv[0]) != 0) {
    close(sv[0]);
    close(sv[1]);
    return 0;
  }
  if (size > 0 && (data[0] & 1))
    (void)!write(sv[1], preface, sizeof preface - 1);
  if (size > 0) {
    off = 1;
  }
  /* Alternate: write what fits, let the server run, drain its output. */
  for (rounds = 0; rounds < 100000 && cpc_rpc_server_connections(srv) > 0;
       rounds++) {
    if (off < size) {
      ssize_t n = write(sv[1], data + off, size - off);
      if (n > 0)
        off += (size_t)n;
      if (off == size)
        shutdown(sv[1], SHUT_WR);
    } else if (off == size && size <= 1) {
      shutdown(sv[1], SHUT_WR);
      off++;
    }
    uv_run(&loop, UV_RUN_NOWAIT);
    while (read(sv[1], sink, sizeof sink) > 0)
      ;
  }
  if (cpc_rpc_server_connections(srv) > 0)
    abort(); /* the connection must end once the client has shut down */
  close(sv[1]);
  uv_run(&loop, UV_RUN_NOWAIT); /* close callbacks */
  return 0;
}
