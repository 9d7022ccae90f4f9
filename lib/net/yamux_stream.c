/*
 * yamux_stream.c: Yamux streams: the table (sorted by id) and what the
 * application does with a stream: open, accept, write, consumed, close,
 * reset.
 */
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/yamux.h"
#include "net/yamux_int.h"

/* Index of the first stream with an id >= id. */
static size_t lower_bound(const cpc_yamux *y, uint32_t id) {
  size_t lo = 0, hi = y->n_streams;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (y->streams[mid]->id < id)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

struct cpc__yamux_stream *cpc__yamux_find(const cpc_yamux *y, uint32_t id) {
  size_t i = lower_bound(y, id);
  return i < y->n_streams && y->streams[i]->id == id ? y->streams[i] : NULL;
}

struct cpc__yamux_stream *cpc__yamux_insert(cpc_yamux *y, uint32_t id) {
  struct cpc__yamux_stream *s;
  size_t i;
  if (y->n_streams == y->cap_streams) {
    size_t cap = y->cap_streams ? 2 * y->cap_streams : 8;
    struct cpc__yamux_stream **p = realloc(y->streams, cap * sizeof *p);
    if (!p)
      return NULL;
    y->streams = p;
    y->cap_streams = cap;
  }
  s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->id = id;
  s->send_window = CPC_YAMUX_INITIAL_WINDOW;
  s->recv_window = CPC_YAMUX_INITIAL_WINDOW;
  s->recv_window_max = CPC_YAMUX_INITIAL_WINDOW;
  s->epoch_ns = cpc__yamux_now(y);
  i = lower_bound(y, id);
  memmove(y->streams + i + 1, y->streams + i,
          (y->n_streams - i) * sizeof *y->streams);
  y->streams[i] = s;
  y->n_streams++;
  return s;
}

void cpc__yamux_remove(cpc_yamux *y, uint32_t id) {
  size_t i = lower_bound(y, id);
  struct cpc__yamux_stream *s;
  if (i == y->n_streams || y->streams[i]->id != id)
    return;
  s = y->streams[i];
  if (s->inbound && !s->accepted)
    y->n_pending--;
  memmove(y->streams + i, y->streams + i + 1,
          (y->n_streams - i - 1) * sizeof *y->streams);
  y->n_streams--;
  free(s);
}

void cpc__yamux_remove_all(cpc_yamux *y) {
  for (size_t i = 0; i < y->n_streams; i++)
    free(y->streams[i]);
  y->n_streams = 0;
  y->n_pending = 0;
}

void cpc__yamux_wake_writers(cpc_yamux *y) {
  uint32_t id = 0;
  for (;;) {
    size_t i = lower_bound(y, id);
    struct cpc__yamux_stream *s = NULL;
    /* the table may change in a callback: find our place again each time */
    for (; i < y->n_streams; i++) {
      s = y->streams[i];
      if (s->blocked && s->send_window > 0 && !s->local_closed)
        break;
    }
    if (i == y->n_streams || y->output_blocked)
      return;
    s->blocked = 0;
    id = s->id;
    if (y->cb.on_stream_writable)
      y->cb.on_stream_writable(y->ud, id, s->ud);
    if (id == UINT32_MAX)
      return;
    id++;
  }
}

size_t cpc_yamux_stream_count(const cpc_yamux *y) {
  return y->n_streams;
}

int cpc_yamux_stream_info_get(const cpc_yamux *y, uint32_t id,
                              cpc_yamux_stream_info *info) {
  const struct cpc__yamux_stream *s = cpc__yamux_find(y, id);
  if (!s)
    return CPC_ENOENT;
  info->send_window = s->send_window;
  info->recv_window = s->recv_window;
  info->recv_window_max = s->recv_window_max;
  info->unconsumed = s->unconsumed;
  info->local_closed = s->local_closed;
  info->remote_closed = s->remote_closed;
  info->accepted = !s->inbound || s->accepted;
  return 0;
}

int cpc_yamux_open(cpc_yamux *y, void *stream_ud, uint32_t *id) {
  struct cpc__yamux_stream *s;
  int rc;
  if (y->error || y->go_away_sent || y->go_away_received || y->next_id == 0)
    return CPC_ECLOSED;
  if (y->n_streams >= y->cfg.max_streams)
    return CPC_ENOSPC;
  rc = cpc__yamux_queue_header(y, CPC_YAMUX_WINDOW_UPDATE, CPC_YAMUX_SYN,
                               y->next_id, 0);
  if (rc != 0)
    return rc;
  s = cpc__yamux_insert(y, y->next_id);
  if (!s) {
    y->out_len -= CPC_YAMUX_HEADER_LEN; /* take the SYN back */
    return CPC_ENOMEM;
  }
  s->ud = stream_ud;
  *id = y->next_id;
  y->next_id = y->next_id > UINT32_MAX - 2 ? 0 : y->next_id + 2;
  return 0;
}

/* Send the ACK of an inbound stream if it is still owed. */
static int ensure_accepted(cpc_yamux *y, struct cpc__yamux_stream *s) {
  int rc;
  if (!s->inbound || s->accepted)
    return 0;
  rc = cpc__yamux_queue_header(y, CPC_YAMUX_WINDOW_UPDATE, CPC_YAMUX_ACK, s->id,
                               0);
  if (rc != 0)
    return rc;
  s->accepted = 1;
  y->n_pending--;
  return 0;
}

int cpc_yamux_accept(cpc_yamux *y, uint32_t id, void *stream_ud) {
  struct cpc__yamux_stream *s = cpc__yamux_find(y, id);
  int rc;
  if (!s || !s->inbound || s->accepted)
    return CPC_ENOENT;
  if ((rc = ensure_accepted(y, s)) != 0)
    return rc;
  s->ud = stream_ud;
  return 0;
}

int cpc_yamux_write(cpc_yamux *y, uint32_t id, const uint8_t *data, size_t len,
                    size_t *accepted) {
  struct cpc__yamux_stream *s = cpc__yamux_find(y, id);
  size_t pending = cpc__yamux_pending_output(y), budget, n, off = 0, frames;
  int rc;

  *accepted = 0;
  if (!s)
    return CPC_ENOENT;
  if (y->error || s->local_closed)
    return CPC_ECLOSED;
  if (len == 0)
    return 0;
  if ((rc = ensure_accepted(y, s)) != 0)
    return rc;
  budget = pending < y->cfg.max_output ? y->cfg.max_output - pending : 0;
  n = len;
  if (n > s->send_window)
    n = s->send_window;
  if (n > budget) {
    n = budget;
    y->output_blocked = 1;
  }
  if (n < len)
    s->blocked = 1;
  if (n == 0)
    return CPC_EAGAIN;
  frames = (n + y->cfg.max_frame - 1) / y->cfg.max_frame;
  if ((rc = cpc__yamux_reserve(y, n + frames * CPC_YAMUX_HEADER_LEN)) != 0)
    return rc;
  while (off < n) { /* cannot fail now: the room is reserved */
    size_t chunk = n - off < y->cfg.max_frame ? n - off : y->cfg.max_frame;
    (void)cpc__yamux_queue_header(y, CPC_YAMUX_DATA, 0, id, (uint32_t)chunk);
    (void)cpc__yamux_queue_bytes(y, data + off, chunk);
    off += chunk;
  }
  s->send_window -= (uint32_t)off;
  *accepted = off;
  return 0;
}

int cpc_yamux_consumed(cpc_yamux *y, uint32_t id, size_t n) {
  struct cpc__yamux_stream *s = cpc__yamux_find(y, id);
  uint32_t grow = 0, delta;
  uint64_t now;
  int rc;

  if (!s)
    return CPC_ENOENT;
  if (n > s->unconsumed)
    return CPC_EINVAL;
  s->unconsumed -= n;
  s->consumed_pending += n;
  if (s->remote_closed || y->error ||
      s->consumed_pending < s->recv_window_max / 2)
    return 0;
  now = cpc__yamux_now(y);
  if (y->cfg.auto_tune && y->rtt_ns > 0 &&
      s->recv_window_max < y->cfg.max_window &&
      now - s->epoch_ns < 4 * y->rtt_ns) {
    grow = s->recv_window_max;
    if (grow > y->cfg.max_window - s->recv_window_max)
      grow = y->cfg.max_window - s->recv_window_max;
  }
  delta = (uint32_t)s->consumed_pending + grow;
  rc = cpc__yamux_queue_header(y, CPC_YAMUX_WINDOW_UPDATE, 0, id, delta);
  if (rc != 0)
    return rc;
  s->recv_window += delta;
  s->recv_window_max += grow;
  s->consumed_pending = 0;
  s->epoch_ns = now;
  return 0;
}

int cpc_yamux_close(cpc_yamux *y, uint32_t id) {
  struct cpc__yamux_stream *s = cpc__yamux_find(y, id);
  int rc;
  if (!s)
    return CPC_ENOENT;
  if (s->local_closed || y->error)
    return CPC_ECLOSED;
  if ((rc = ensure_accepted(y, s)) != 0)
    return rc;
  rc =
      cpc__yamux_queue_header(y, CPC_YAMUX_WINDOW_UPDATE, CPC_YAMUX_FIN, id, 0);
  if (rc != 0)
    return rc;
  s->local_closed = 1;
  if (s->remote_closed)
    cpc__yamux_remove(y, id);
  return 0;
}

int cpc_yamux_reset(cpc_yamux *y, uint32_t id) {
  struct cpc__yamux_stream *s = cpc__yamux_find(y, id);
  int rc;
  if (!s)
    return CPC_ENOENT;
  if (!y->error) {
    rc = cpc__yamux_queue_header(y, CPC_YAMUX_WINDOW_UPDATE, CPC_YAMUX_RST, id,
                                 0);
    if (rc != 0)
      return rc;
  }
  cpc__yamux_remove(y, id);
  return 0;
}
