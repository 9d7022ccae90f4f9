/*
 * fuzz_rpc_client.c: the gRPC client (nghttp2 client session, response
 * headers, trailers, messages, status derivation, flow control, GOAWAY)
 * fed arbitrary bytes as the server's side of a Unix socketpair, on a
 * libuv loop, with one call of each kind running. If the first input byte
 * is odd an empty SETTINGS frame (the server preface) is sent first, so
 * the fuzzer gets to frames quickly. The server side shuts down after the
 * input, so every call ends. Any crash, hang, leak or sanitizer report is
 * a bug, and so is a call that does not end exactly once.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cpc/error.h"
#include "cpc/rpc_client.h"
#include "rpc/client_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t loop;
static int loop_ready;
static unsigned done_calls, closed;

static void on_message(cpc_rpc_client_call *call, const uint8_t *msg,
                       size_t len, void *ud) {
  (void)ud;
  (void)cpc_rpc_client_call_metadata(call, "x-fuzz");
  if (len == 7) /* sometimes cancel from inside the library */
    cpc_rpc_client_call_cancel(call);
  else if (len == 5)
    (void)cpc_rpc_client_call_send(call, msg, len);
}

static void on_writable(cpc_rpc_client_call *call, void *ud) {
  (void)ud;
  (void)cpc_rpc_client_call_send(call, (const uint8_t *)"more", 4);
}

static void on_done(cpc_rpc_client_call *call, int status, const char *message,
                    void *ud) {
  (void)status;
  (void)ud;
  if (!message)
    abort();
  (void)cpc_rpc_client_call_metadata(call, "grpc-status");
  done_calls++;
}

static void on_closed(void *ud) {
  (void)ud;
  closed = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const cpc_rpc_client_callbacks cbs = {on_message, on_writable,
                                               on_done};
  static const uint8_t settings[9] = {0, 0, 0, 4, 0, 0, 0, 0, 0};
  cpc_rpc_client_config cfg;
  cpc_rpc_client *cl;
  cpc_rpc_client_call *call;
  uint8_t sink[65536];
  int sv[2], rounds;
  unsigned started = 0;
  size_t off = 0;
  if (!loop_ready) {
    uv_loop_init(&loop);
    loop_ready = 1;
  }
  cpc_rpc_client_config_default(&cfg);
  cfg.max_recv_message = 4096;
  cfg.max_header_list = 2048;
  cfg.call_send_buffer = 64;
  cfg.initial_window = 1024;
  cfg.connection_window = 4096;
  cfg.keepalive_ms = 0;
  if (cpc_rpc_client_new(&cl, &loop, "127.0.0.1", 1, &cfg) != 0)
    abort();
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
    abort();
  fcntl(sv[1], F_SETFL, O_NONBLOCK);
  if (cpc__rpc_client_open_fd(cl, sv[0]) != 0)
    abort();
  done_calls = 0;
  if (cpc_rpc_client_unary(cl, "/f.F/U", NULL, 0, (const uint8_t *)"u", 1, 0,
                           &cbs, NULL, NULL) == 0)
    started++;
  if (cpc_rpc_client_start(cl, "/f.F/S", CPC_RPC_SERVER_STREAM, NULL, 0, 0,
                           &cbs, NULL, &call) == 0) {
    started++;
    (void)cpc_rpc_client_call_send(call, (const uint8_t *)"s", 1);
    (void)cpc_rpc_client_call_close_send(call);
  }
  if (cpc_rpc_client_start(cl, "/f.F/C", CPC_RPC_CLIENT_STREAM, NULL, 0, 0,
                           &cbs, NULL, &call) == 0) {
    started++;
    (void)cpc_rpc_client_call_send(call, (const uint8_t *)"c1", 2);
    (void)cpc_rpc_client_call_close_send(call);
  }
  if (cpc_rpc_client_start(cl, "/f.F/B", CPC_RPC_BIDI, NULL, 0, 0, &cbs, NULL,
                           &call) == 0) {
    started++;
    (void)cpc_rpc_client_call_send(call, (const uint8_t *)"b1", 2);
  }
  if (size > 0 && (data[0] & 1))
    (void)!write(sv[1], settings, sizeof settings);
  if (size > 0)
    off = 1;
  /* Alternate: write what fits, let the client run, drain its output. */
  for (rounds = 0; rounds < 100000 && done_calls < started; rounds++) {
    if (off < size) {
      ssize_t n = write(sv[1], data + off, size - off);
      if (n > 0)
        off += (size_t)n;
      if (off == size)
        shutdown(sv[1], SHUT_WR);
    } else if (size <= 1) {
      shutdown(sv[1], SHUT_WR);
    }
    uv_run(&loop, UV_RUN_NOWAIT);
    while (read(sv[1], sink, sizeof sink) > 0)
      ;
  }
  if (done_calls != started)
    abort(); /* a call that never ended */
  closed = 0;
  cpc_rpc_client_close(cl, on_closed, NULL);
  while (!closed)
    uv_run(&loop, UV_RUN_ONCE);
  close(sv[1]);
  return 0;
}
