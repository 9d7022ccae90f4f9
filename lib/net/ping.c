/*
 * ping.c: the ping protocol (/ipfs/ping/1.0.0): the responder echoes what
 * it reads (32-byte pings, any number per stream); cpc_net_ping sends 32
 * random bytes on a new stream and times their echo.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cpc/error.h"
#include "cpc/net.h"
#include "net/host_int.h"

struct ping {
  cpc_net *net;
  cpc_net_ping_cb cb;
  void *ud;
  uint64_t t0;
  size_t got;
  uint8_t sent[CPC__NET_PING_LEN], recv[CPC__NET_PING_LEN];
};

static void finish(cpc_net_stream *s, struct ping *p, int status,
                   uint64_t rtt) {
  p->cb(p->net, status, rtt, p->ud);
  free(p);
  if (s)
    cpc_net_stream_close(s);
}

static void ping_open(cpc_net_stream *s, void *ud) {
  struct ping *p = ud;
  randombytes_buf(p->sent, sizeof p->sent);
  p->t0 = uv_hrtime();
  if (cpc_net_stream_write(s, p->sent, sizeof p->sent) != 0)
    finish(s, p, CPC_ECLOSED, 0);
}

static void ping_data(cpc_net_stream *s, const uint8_t *d, size_t n, void *ud) {
  struct ping *p = ud;
  uint64_t rtt = uv_hrtime() - p->t0;
  if (n > sizeof p->recv - p->got) {
    finish(s, p, CPC_EPROTO, 0);
    return;
  }
  memcpy(p->recv + p->got, d, n);
  p->got += n;
  if (p->got < sizeof p->recv)
    return;
  if (sodium_memcmp(p->recv, p->sent, sizeof p->sent) != 0)
    finish(s, p, CPC_EPROTO, 0);
  else
    finish(s, p, 0, rtt ? rtt : 1);
}

static void ping_eof(cpc_net_stream *s, void *ud) {
  finish(s, ud, CPC_EPROTO, 0); /* closed before the whole echo */
}

static void ping_close(cpc_net_stream *s, int status, void *ud) {
  (void)s;
  finish(NULL, ud, status ? status : CPC_ECLOSED, 0);
}

static const cpc_net_stream_callbacks ping_cb = {
    .on_open = ping_open,
    .on_data = ping_data,
    .on_eof = ping_eof,
    .on_close = ping_close,
};

int cpc_net_ping(cpc_net_conn *c, cpc_net_ping_cb cb, void *ud) {
  struct ping *p;
  cpc_net_stream *s;
  int rc;
  if (!cb)
    return CPC_EINVAL;
  if (!(p = calloc(1, sizeof *p)))
    return CPC_ENOMEM;
  p->net = c->net;
  p->cb = cb;
  p->ud = ud;
  rc = cpc_net_stream_open(c, CPC_NET_PING_PROTOCOL, &ping_cb, p, &s);
  if (rc != 0) {
    free(p);
    return rc;
  }
  /* the answer must come within the negotiation timeout */
  cpc__stream_deadline(s, c->net->lim.stream_negotiation_timeout_ms,
                       CPC_ETIMEDOUT);
  return 0;
}

static void on_ping(cpc_net_stream *s, const char *protocol, void *ud) {
  (void)protocol;
  (void)ud;
  cpc__echo_serve(s);
}

int cpc__ping_register(cpc_net *net) {
  return cpc_net_handle(net, CPC_NET_PING_PROTOCOL, on_ping, NULL);
}
