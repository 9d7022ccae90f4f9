/*
 * yamux.c: the Yamux session: frame input, output buffer, session-level
 * frames (ping, GoAway) and protocol errors. Streams are in yamux_stream.c.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpc/error.h"
#include "cpc/yamux.h"
#include "net/yamux_int.h"

#define OUT_INITIAL 4096

void cpc_yamux_config_default(cpc_yamux_config *c, int is_client) {
  memset(c, 0, sizeof *c);
  c->is_client = is_client ? 1 : 0;
  c->auto_tune = 1;
  c->max_window = 16u * 1024u * 1024u;
  c->max_streams = 1024;
  c->max_pending = 64;
  c->max_frame = 64u * 1024u;
  c->max_output = 1024u * 1024u;
}

uint64_t cpc__yamux_now(cpc_yamux *y) {
  struct timespec ts;
  if (y->cfg.now_ns)
    return y->cfg.now_ns(y->ud);
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

size_t cpc__yamux_pending_output(const cpc_yamux *y) {
  return y->out_len - y->out_off;
}

int cpc__yamux_reserve(cpc_yamux *y, size_t n) {
  size_t pending = y->out_len - y->out_off, cap;
  uint8_t *p;
  if (n <= y->out_cap - y->out_len)
    return 0;
  if (y->out_off > 0) {
    memmove(y->out, y->out + y->out_off, pending);
    y->out_off = 0;
    y->out_len = pending;
    if (n <= y->out_cap - y->out_len)
      return 0;
  }
  cap = y->out_cap ? y->out_cap : OUT_INITIAL;
  while (cap - pending < n) {
    if (cap > SIZE_MAX / 2)
      return CPC_ENOMEM;
    cap *= 2;
  }
  p = realloc(y->out, cap);
  if (!p)
    return CPC_ENOMEM;
  y->out = p;
  y->out_cap = cap;
  return 0;
}

int cpc__yamux_queue_header(cpc_yamux *y, uint8_t type, uint16_t flags,
                            uint32_t id, uint32_t length) {
  uint8_t *h;
  int rc = cpc__yamux_reserve(y, CPC_YAMUX_HEADER_LEN);
  if (rc != 0)
    return rc;
  h = y->out + y->out_len;
  h[0] = 0;
  h[1] = type;
  h[2] = (uint8_t)(flags >> 8);
  h[3] = (uint8_t)flags;
  h[4] = (uint8_t)(id >> 24);
  h[5] = (uint8_t)(id >> 16);
  h[6] = (uint8_t)(id >> 8);
  h[7] = (uint8_t)id;
  h[8] = (uint8_t)(length >> 24);
  h[9] = (uint8_t)(length >> 16);
  h[10] = (uint8_t)(length >> 8);
  h[11] = (uint8_t)length;
  y->out_len += CPC_YAMUX_HEADER_LEN;
  return 0;
}

int cpc__yamux_queue_bytes(cpc_yamux *y, const uint8_t *p, size_t n) {
  int rc = cpc__yamux_reserve(y, n);
  if (rc != 0)
    return rc;
  memcpy(y->out + y->out_len, p, n);
  y->out_len += n;
  return 0;
}

int cpc_yamux_new(cpc_yamux **out, const cpc_yamux_config *cfg,
                  const cpc_yamux_callbacks *cb, void *ud) {
  cpc_yamux *y;
  int rc = 0;
  *out = NULL;
  if (cfg->max_window < CPC_YAMUX_INITIAL_WINDOW || cfg->max_streams == 0 ||
      cfg->max_frame == 0 || cfg->max_output == 0)
    return CPC_EINVAL;
  y = calloc(1, sizeof *y);
  if (!y)
    return CPC_ENOMEM;
  y->cfg = *cfg;
  if (cb)
    y->cb = *cb;
  y->ud = ud;
  y->next_id = cfg->is_client ? 1 : 2;
  if (cfg->auto_tune && (rc = cpc_yamux_ping(y)) != 0) {
    cpc_yamux_free(y);
    return rc;
  }
  *out = y;
  return 0;
}

void cpc_yamux_free(cpc_yamux *y) {
  if (!y)
    return;
  cpc__yamux_remove_all(y);
  free(y->streams);
  free(y->out);
  free(y);
}

/* Fail the session for good with rc, queueing a GoAway with code. */
static int fail(cpc_yamux *y, int rc, uint32_t code) {
  if (y->error)
    return y->error;
  y->error = rc;
  (void)cpc__yamux_queue_header(y, CPC_YAMUX_GO_AWAY, 0, 0, code);
  y->go_away_sent = 1;
  return rc;
}

#define PROTO_ERROR(y) fail((y), CPC_EPROTO, CPC_YAMUX_GO_AWAY_PROTOCOL)

int cpc_yamux_error(const cpc_yamux *y) {
  return y->error;
}

uint64_t cpc_yamux_rtt_ns(const cpc_yamux *y) {
  return y->rtt_ns;
}

int cpc_yamux_ping(cpc_yamux *y) {
  int rc;
  if (y->error)
    return CPC_ECLOSED;
  y->ping_value++;
  rc = cpc__yamux_queue_header(y, CPC_YAMUX_PING, CPC_YAMUX_SYN, 0,
                               y->ping_value);
  if (rc != 0)
    return rc;
  y->ping_outstanding = 1;
  y->ping_sent_ns = cpc__yamux_now(y);
  return 0;
}

int cpc_yamux_go_away(cpc_yamux *y, uint32_t code) {
  int rc;
  if (y->go_away_sent || y->error)
    return 0;
  rc = cpc__yamux_queue_header(y, CPC_YAMUX_GO_AWAY, 0, 0, code);
  if (rc == 0)
    y->go_away_sent = 1;
  return rc;
}

size_t cpc_yamux_output(cpc_yamux *y, const uint8_t **data) {
  *data = y->out + y->out_off;
  return y->out_len - y->out_off;
}

void cpc_yamux_output_done(cpc_yamux *y, size_t n) {
  size_t pending = y->out_len - y->out_off;
  y->out_off += n < pending ? n : pending;
  if (y->out_off == y->out_len)
    y->out_off = y->out_len = 0; /* the buffer stays: cpc_yamux_trim */
  if (y->output_blocked && !y->error &&
      cpc__yamux_pending_output(y) < y->cfg.max_output) {
    y->output_blocked = 0;
    cpc__yamux_wake_writers(y);
  }
}

void cpc_yamux_trim(cpc_yamux *y) {
  if (y->out_len != y->out_off)
    return;
  free(y->out);
  y->out = NULL;
  y->out_off = y->out_len = y->out_cap = 0;
}

size_t cpc_yamux_take_output(cpc_yamux *y, uint8_t *buf, size_t cap) {
  const uint8_t *p;
  size_t n = cpc_yamux_output(y, &p);
  if (n > cap)
    n = cap;
  memcpy(buf, p, n);
  cpc_yamux_output_done(y, n);
  return n;
}

/* --- input ---------------------------------------------------------- */

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

/* FIN / RST carried by a frame for id, applied after its payload. */
static void apply_close_flags(cpc_yamux *y, uint32_t id, uint16_t flags) {
  struct cpc__yamux_stream *s = cpc__yamux_find(y, id);
  if (!s)
    return;
  if (flags & CPC_YAMUX_RST) {
    if (y->cb.on_stream_reset)
      y->cb.on_stream_reset(y->ud, id, s->ud);
    cpc__yamux_remove(y, id); /* no-op if the callback reset it */
    return;
  }
  if ((flags & CPC_YAMUX_FIN) && !s->remote_closed) {
    s->remote_closed = 1;
    if (y->cb.on_stream_fin)
      y->cb.on_stream_fin(y->ud, id, s->ud);
    s = cpc__yamux_find(y, id);
    if (s && s->local_closed)
      cpc__yamux_remove(y, id);
  }
}

/* A SYN for id: a new inbound stream, or a refusal. *s gets the stream
 * (NULL when refused). */
static int open_inbound(cpc_yamux *y, uint32_t id,
                        struct cpc__yamux_stream **s) {
  int remote_odd = !y->cfg.is_client;
  *s = NULL;
  if ((int)(id & 1) != remote_odd || id <= y->max_remote_id ||
      cpc__yamux_find(y, id))
    return PROTO_ERROR(y);
  y->max_remote_id = id;
  if (y->go_away_sent || y->n_streams >= y->cfg.max_streams ||
      y->n_pending >= y->cfg.max_pending) {
    int rc = cpc__yamux_queue_header(y, CPC_YAMUX_WINDOW_UPDATE, CPC_YAMUX_RST,
                                     id, 0);
    return rc ? fail(y, rc, CPC_YAMUX_GO_AWAY_INTERNAL) : 0;
  }
  *s = cpc__yamux_insert(y, id);
  if (!*s)
    return fail(y, CPC_ENOMEM, CPC_YAMUX_GO_AWAY_INTERNAL);
  (*s)->inbound = 1;
  y->n_pending++;
  return 0;
}

/* Act on the complete header in y->hdr. */
static int on_header(cpc_yamux *y) {
  const uint8_t *h = y->hdr;
  uint8_t type = h[1];
  uint16_t flags = (uint16_t)(h[2] << 8 | h[3]);
  uint32_t id = be32(h + 4), length = be32(h + 8);
  struct cpc__yamux_stream *s;
  int rc;

  if (h[0] != 0)
    return PROTO_ERROR(y);
  if (type == CPC_YAMUX_PING) {
    if (id != 0)
      return PROTO_ERROR(y);
    if (flags & CPC_YAMUX_SYN) {
      rc = cpc__yamux_queue_header(y, CPC_YAMUX_PING, CPC_YAMUX_ACK, 0, length);
      return rc ? fail(y, rc, CPC_YAMUX_GO_AWAY_INTERNAL) : 0;
    }
    if ((flags & CPC_YAMUX_ACK) && y->ping_outstanding &&
        length == y->ping_value) {
      uint64_t now = cpc__yamux_now(y);
      y->ping_outstanding = 0;
      y->rtt_ns = now > y->ping_sent_ns ? now - y->ping_sent_ns : 1;
      if (y->cb.on_ping)
        y->cb.on_ping(y->ud, y->rtt_ns);
    }
    return 0;
  }
  if (type == CPC_YAMUX_GO_AWAY) {
    if (id != 0)
      return PROTO_ERROR(y);
    if (!y->go_away_received) {
      y->go_away_received = 1;
      if (y->cb.on_go_away)
        y->cb.on_go_away(y->ud, length);
    }
    return 0;
  }
  if (type != CPC_YAMUX_DATA && type != CPC_YAMUX_WINDOW_UPDATE)
    return PROTO_ERROR(y);
  if (id == 0)
    return PROTO_ERROR(y);

  s = cpc__yamux_find(y, id);
  if (flags & CPC_YAMUX_SYN) {
    if ((rc = open_inbound(y, id, &s)) != 0)
      return rc;
    if (s && y->cb.on_stream_open) {
      y->cb.on_stream_open(y->ud, id);
      s = cpc__yamux_find(y, id); /* it may have been reset */
    }
  }

  if (type == CPC_YAMUX_WINDOW_UPDATE) {
    if (s && length > 0) {
      if (length > UINT32_MAX - s->send_window)
        return PROTO_ERROR(y);
      s->send_window += length;
      if (s->blocked && !s->local_closed && !y->output_blocked) {
        s->blocked = 0;
        if (y->cb.on_stream_writable)
          y->cb.on_stream_writable(y->ud, id, s->ud);
      }
    }
    apply_close_flags(y, id, flags);
    return 0;
  }

  /* Data */
  if (s) {
    if (s->remote_closed || length > s->recv_window)
      return PROTO_ERROR(y);
    s->recv_window -= length;
  } else if (length > y->cfg.max_window) {
    return PROTO_ERROR(y); /* for a stream we do not know: just the cap */
  }
  y->cur_id = id;
  y->cur_flags = flags;
  y->cur_remaining = length;
  y->in_payload = length > 0;
  if (length == 0)
    apply_close_flags(y, id, flags);
  return 0;
}

/* Hand in[0..n) of the current Data frame to its stream, if it still is. */
static void deliver(cpc_yamux *y, const uint8_t *in, size_t n) {
  struct cpc__yamux_stream *s = cpc__yamux_find(y, y->cur_id);
  if (!s)
    return; /* refused, reset, or stale: discard */
  s->unconsumed += n;
  if (y->cb.on_stream_data)
    y->cb.on_stream_data(y->ud, y->cur_id, s->ud, in, n);
}

int cpc_yamux_feed(cpc_yamux *y, const uint8_t *in, size_t len,
                   size_t *consumed) {
  size_t used = 0;
  int rc = y->error;

  while (rc == 0 && used < len) {
    if (y->in_payload) {
      size_t n = len - used < y->cur_remaining ? len - used : y->cur_remaining;
      deliver(y, in + used, n);
      used += n;
      y->cur_remaining -= (uint32_t)n;
      if (y->cur_remaining == 0) {
        y->in_payload = 0;
        apply_close_flags(y, y->cur_id, y->cur_flags);
      }
    } else {
      size_t n = CPC_YAMUX_HEADER_LEN - y->hdr_len;
      if (y->hdr_len == 0 && cpc__yamux_pending_output(y) >
                                 y->cfg.max_output + CPC__YAMUX_CONTROL_SLACK)
        break; /* the caller is not sending; see cpc_yamux_feed */
      if (n > len - used)
        n = len - used;
      memcpy(y->hdr + y->hdr_len, in + used, n);
      y->hdr_len += n;
      used += n;
      if (y->hdr_len < CPC_YAMUX_HEADER_LEN)
        break;
      y->hdr_len = 0;
      on_header(y);
    }
    rc = y->error;
  }
  *consumed = used;
  return rc;
}
