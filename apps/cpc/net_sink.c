/*
 * net_sink.c: the listener side of /cpc/sink/1.0.0 (see net_sink.h): count
 * and drop every byte, answer the count at EOF.
 */
#include <stdlib.h>

#include "cpc/error.h"
#include "net_sink.h"

struct sink {
  uint64_t count;
};

void cpc_app_sink_reply_encode(uint64_t count,
                               uint8_t out[CPC_APP_SINK_REPLY_LEN]) {
  for (int i = CPC_APP_SINK_REPLY_LEN - 1; i >= 0; i--) {
    out[i] = (uint8_t)count;
    count >>= 8;
  }
}

uint64_t cpc_app_sink_reply_decode(const uint8_t in[CPC_APP_SINK_REPLY_LEN]) {
  uint64_t v = 0;
  for (int i = 0; i < CPC_APP_SINK_REPLY_LEN; i++)
    v = v << 8 | in[i];
  return v;
}

static void sink_data(cpc_net_stream *s, const uint8_t *d, size_t n,
                      void *ud) {
  struct sink *k = ud;
  (void)s;
  (void)d;
  k->count += n;
}

static void sink_eof(cpc_net_stream *s, void *ud) {
  struct sink *k = ud;
  uint8_t reply[CPC_APP_SINK_REPLY_LEN];
  cpc_app_sink_reply_encode(k->count, reply);
  free(k);
  /* the stream is given up: no callback names it (or k) again */
  if (cpc_net_stream_write(s, reply, sizeof reply) == 0)
    cpc_net_stream_close(s);
  else
    cpc_net_stream_reset(s);
}

static void sink_close(cpc_net_stream *s, int status, void *ud) {
  (void)s;
  (void)status;
  free(ud); /* reset or connection gone before EOF */
}

static const cpc_net_stream_callbacks sink_cb = {
    .on_data = sink_data,
    .on_eof = sink_eof,
    .on_close = sink_close,
};

static void on_sink(cpc_net_stream *s, const char *protocol, void *ud) {
  struct sink *k = calloc(1, sizeof *k);
  (void)protocol;
  (void)ud;
  if (!k) {
    cpc_net_stream_reset(s);
    return;
  }
  cpc_net_stream_set_callbacks(s, &sink_cb, k);
}

int cpc_app_sink_register(cpc_net *net) {
  return cpc_net_handle(net, CPC_APP_SINK_PROTOCOL, on_sink, NULL);
}
