/*
 * echo.c: the echo service (/cpc/echo/1.0.0, for tests and benchmarks),
 * whose stream behaviour ping's responder shares: every byte read is
 * written back, reading stops while the write queue is full, and the
 * peer's half-close is answered with ours.
 */
#include "cpc/error.h"
#include "cpc/net.h"
#include "net/host_int.h"

static void echo_data(cpc_net_stream *s, const uint8_t *d, size_t n, void *ud) {
  (void)ud;
  if (cpc_net_stream_write(s, d, n) != 0) {
    cpc_net_stream_reset(s); /* cannot happen while we pause in time */
    return;
  }
  if (!cpc_net_stream_writable(s))
    cpc_net_stream_read_stop(s);
}

static void echo_writable(cpc_net_stream *s, void *ud) {
  (void)ud;
  cpc_net_stream_read_start(s);
}

static void echo_eof(cpc_net_stream *s, void *ud) {
  (void)ud;
  cpc_net_stream_close(s);
}

static const cpc_net_stream_callbacks echo_cb = {
    .on_data = echo_data,
    .on_eof = echo_eof,
    .on_writable = echo_writable,
};

void cpc__echo_serve(cpc_net_stream *s) {
  cpc_net_stream_set_callbacks(s, &echo_cb, NULL);
}

static void on_echo(cpc_net_stream *s, const char *protocol, void *ud) {
  (void)protocol;
  (void)ud;
  cpc__echo_serve(s);
}

int cpc__echo_register(cpc_net *net) {
  return cpc_net_handle(net, CPC_NET_ECHO_PROTOCOL, on_echo, NULL);
}
