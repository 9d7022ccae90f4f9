/*
 * stream.c: protocol streams on a connection's yamux session: per-stream
 * multistream-select (dialer for cpc_net_stream_open, listener against the
 * registered handlers), the write queue with its limit, held input while
 * reading is stopped, half-close, reset and the final callback.
 */
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/net.h"
#include "net/host_int.h"

/* Held input beyond this is a bug or an attack: yamux windows bound it. */
#define HOLD_MAX (32u * 1024u * 1024u)

static cpc_net_stream *stream_new(cpc_net_conn *c, int outbound) {
  cpc_net_stream *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->conn = c;
  s->outbound = outbound ? 1 : 0;
  s->y_alive = 1;
  cpc__list_push(&c->streams, &s->link);
  c->n_streams++;
  c->t_active = cpc__net_now(c->net);
  return s;
}

void cpc__stream_free(cpc_net_stream *s) {
  struct cpc__chunk *ch = s->wq_head;
  cpc__list_remove(&s->link);
  while (ch) {
    struct cpc__chunk *next = ch->next;
    free(ch);
    ch = next;
  }
  free(s->rbuf);
  free(s->mss);
  free(s->protocol);
  cpc__proto_table_unref(s->table);
  free(s);
}

/* Mark s dead: out of its connection's counts, into the graveyard. */
static void stream_kill(cpc_net_stream *s) {
  cpc_net_conn *c = s->conn;
  cpc_net *net = c->net;
  if (s->dead)
    return;
  s->dead = 1;
  c->n_streams--;
  if (s->counted_pending) {
    s->counted_pending = 0;
    c->n_pending_in--;
  }
  c->t_active = cpc__net_now(net);
  s->grave_next = net->grave;
  net->grave = s;
  cpc__net_kick(net);
}

/* Final callback (unless released), then dead. */
static void stream_end(cpc_net_stream *s, int status) {
  if (s->dead)
    return;
  if (!s->released && s->has_cb && s->cb.on_close) {
    s->released = 1; /* no callback after the final one */
    s->cb.on_close(s, status, s->ud);
  }
  stream_kill(s);
}

void cpc__stream_fail(cpc_net_stream *s, int status) {
  cpc_net_conn *c = s->conn;
  if (s->dead)
    return;
  if (s->y_alive && c->yamux && !c->closing)
    (void)cpc_yamux_reset(c->yamux, s->id);
  s->y_alive = 0;
  cpc__conn_mark_dirty(c);
  stream_end(s, status);
}

void cpc__stream_conn_lost(cpc_net_stream *s, int status) {
  s->y_alive = 0;
  stream_end(s, status);
}

void cpc__stream_deadline(cpc_net_stream *s, uint64_t ms, int status) {
  s->deadline_ms = ms ? cpc__net_now(s->conn->net) + ms : 0;
  s->deadline_status = status;
}

/* Keep d[0..n) until it can be delivered (not consumed yet). */
static int hold(cpc_net_stream *s, const uint8_t *d, size_t n) {
  if (n == 0)
    return 0;
  if (s->rlen + n > HOLD_MAX)
    return CPC_ETOOBIG;
  if (s->rlen + n > s->rcap) {
    size_t cap = s->rcap ? s->rcap : 4096;
    uint8_t *p;
    while (cap < s->rlen + n)
      cap *= 2;
    p = realloc(s->rbuf, cap);
    if (!p)
      return CPC_ENOMEM;
    s->rbuf = p;
    s->rcap = cap;
  }
  memcpy(s->rbuf + s->rlen, d, n);
  s->rlen += n;
  return 0;
}

/* Send what the stream's multistream has queued, as far as yamux takes. */
static void pump_mss(cpc_net_stream *s) {
  cpc_yamux *y = s->conn->yamux;
  const uint8_t *p;
  size_t n = cpc_mss_output(s->mss, &p), acc = 0;
  if (n == 0)
    return;
  (void)cpc_yamux_write(y, s->id, p, n, &acc);
  cpc_mss_output_done(s->mss, acc);
}

/* Move queued data (then the FIN) into yamux as its windows allow. */
static void pump(cpc_net_stream *s) {
  cpc_net_conn *c = s->conn;
  cpc_yamux *y = c->yamux;
  if (!s->y_alive || c->closing || !y)
    return;
  if (s->negotiating) {
    pump_mss(s);
    return;
  }
  while (s->wq_head) {
    struct cpc__chunk *ch = s->wq_head;
    size_t acc = 0;
    int rc =
        cpc_yamux_write(y, s->id, ch->data + ch->off, ch->len - ch->off, &acc);
    ch->off += acc;
    s->queued -= acc;
    if (rc != 0 || ch->off < ch->len)
      break;
    s->wq_head = ch->next;
    if (!s->wq_head)
      s->wq_tail = NULL;
    free(ch);
  }
  if (!s->wq_head && s->wfin_req && !s->wfin_sent) {
    (void)cpc_yamux_close(y, s->id);
    s->wfin_sent = 1;
    if (s->rfin)
      s->y_alive = 0; /* yamux freed it: both sides closed */
  }
}

/* The protocol is agreed: leave negotiation, run the handler / on_open. */
static void negotiated(cpc_net_stream *s) {
  cpc_net_conn *c = s->conn;
  const struct cpc__proto_table *t = c->net->table;
  const char *agreed = cpc_mss_protocol(s->mss);
  cpc_net_handler_fn fn = NULL;
  void *hud = NULL;

  s->negotiating = 0;
  s->deadline_ms = 0;
  if (s->counted_pending) {
    s->counted_pending = 0;
    c->n_pending_in--;
  }
  if (!s->outbound) {
    s->protocol = strdup(agreed);
    for (size_t i = 0; t && i < t->n; i++)
      if (strcmp(t->h[i].protocol, agreed) == 0) {
        fn = t->h[i].fn;
        hud = t->h[i].ud;
      }
  }
  free(s->mss);
  s->mss = NULL;
  cpc__proto_table_unref(s->table);
  s->table = NULL;
  if (!s->outbound && (!s->protocol || !fn)) {
    cpc__stream_fail(s, CPC_EUNSUPPORTED); /* unregistered meanwhile */
    return;
  }
  cpc__conn_mark_dirty(c);
  if (s->outbound) {
    if (s->has_cb && s->cb.on_open)
      s->cb.on_open(s, s->ud);
  } else {
    fn(s, s->protocol, hud);
  }
}

/* --- yamux callbacks (ud is the connection) --------------------------------
 */

void cpc__stream_on_open(void *ud, uint32_t id) {
  cpc_net_conn *c = ud;
  cpc_net *net = c->net;
  cpc_net_stream *s;

  if (c->closing || !net->table || net->table->n == 0 ||
      c->n_pending_in >= net->lim.max_pending_inbound ||
      !(s = stream_new(c, 0))) {
    (void)cpc_yamux_reset(c->yamux, id);
    return;
  }
  s->id = id;
  s->negotiating = 1;
  s->counted_pending = 1;
  c->n_pending_in++;
  s->table = net->table;
  s->table->refs++;
  s->mss = malloc(sizeof *s->mss);
  if (!s->mss ||
      cpc_mss_init(s->mss, CPC_MSS_LISTENER, s->table->names, s->table->n) !=
          0 ||
      cpc_yamux_accept(c->yamux, id, s) != 0) {
    (void)cpc_yamux_reset(c->yamux, id);
    s->y_alive = 0;
    stream_kill(s);
    return;
  }
  cpc__stream_deadline(s, net->lim.stream_negotiation_timeout_ms,
                       CPC_ETIMEDOUT);
  pump_mss(s);
  cpc__conn_mark_dirty(c);
}

static void feed_negotiation(cpc_net_stream *s, const uint8_t *d, size_t n) {
  cpc_net_conn *c = s->conn;
  size_t off = 0, used;
  int rc = 0;
  while (off < n) {
    rc = cpc_mss_feed(s->mss, d + off, n - off, &used);
    off += used;
    pump_mss(s);
    if (rc != 0 || cpc_mss_state(s->mss) != CPC_MSS_NEGOTIATING || used == 0)
      break;
  }
  (void)cpc_yamux_consumed(c->yamux, s->id, off);
  if (rc == 0 && cpc_mss_state(s->mss) == CPC_MSS_NEGOTIATING && off < n)
    rc = CPC_EPROTO; /* output stuck: the peer floods negotiation */
  if (rc != 0) {
    (void)cpc_yamux_consumed(c->yamux, s->id, n - off);
    cpc__stream_fail(s, rc == CPC_EUNSUPPORTED ? CPC_EUNSUPPORTED : CPC_EPROTO);
    return;
  }
  if (cpc_mss_state(s->mss) != CPC_MSS_NEGOTIATED)
    return;
  if (hold(s, d + off, n - off) != 0) {
    (void)cpc_yamux_consumed(c->yamux, s->id, n - off);
    cpc__stream_fail(s, CPC_ENOMEM);
    return;
  }
  negotiated(s);
}

void cpc__stream_on_data(void *ud, uint32_t id, void *sud, const uint8_t *d,
                         size_t n) {
  cpc_net_conn *c = ud;
  cpc_net_stream *s = sud;
  if (!s || s->dead || s->released ||
      (s->has_cb && !s->cb.on_data && !s->negotiating)) {
    (void)cpc_yamux_consumed(c->yamux, id, n);
    return;
  }
  if (s->negotiating) {
    feed_negotiation(s, d, n);
    return;
  }
  if (!s->paused && s->has_cb && s->rlen == 0) {
    s->cb.on_data(s, d, n, s->ud);
    (void)cpc_yamux_consumed(c->yamux, id, n);
    return;
  }
  if (hold(s, d, n) != 0) {
    (void)cpc_yamux_consumed(c->yamux, id, n);
    cpc__stream_fail(s, CPC_ENOMEM);
  }
}

void cpc__stream_on_fin(void *ud, uint32_t id, void *sud) {
  cpc_net_stream *s = sud;
  (void)id;
  if (!s || s->dead)
    return;
  s->rfin = 1;
  if (s->wfin_sent)
    s->y_alive = 0; /* yamux frees it when we return */
  if (s->negotiating) {
    cpc__stream_fail(s, CPC_EPROTO);
    return;
  }
  if (s->released && !s->y_alive)
    stream_kill(s);
  cpc__conn_mark_dirty((cpc_net_conn *)ud);
}

void cpc__stream_on_reset(void *ud, uint32_t id, void *sud) {
  cpc_net_stream *s = sud;
  (void)ud;
  (void)id;
  if (!s || s->dead)
    return;
  s->y_alive = 0;
  stream_end(s, CPC_ECLOSED);
}

void cpc__stream_on_writable(void *ud, uint32_t id, void *sud) {
  (void)id;
  (void)sud;
  cpc__conn_mark_dirty((cpc_net_conn *)ud);
}

/* --- settle ------------------------------------------------------------ */

void cpc__stream_service(cpc_net_stream *s) {
  cpc_net_conn *c = s->conn;
  pump(s);
  if (s->dead || s->negotiating)
    return;
  if (s->released) {
    if (!s->y_alive)
      stream_kill(s);
    return;
  }
  if (!s->paused && s->has_cb && s->rlen > 0) {
    uint8_t *data = s->rbuf;
    size_t n = s->rlen;
    s->rbuf = NULL; /* data held from inside on_data goes to a new buffer */
    s->rlen = s->rcap = 0;
    if (s->cb.on_data)
      s->cb.on_data(s, data, n, s->ud);
    free(data);
    if (c->yamux)
      (void)cpc_yamux_consumed(c->yamux, s->id, n);
    if (s->dead || c->closing)
      return;
  }
  if (s->rfin && !s->eof_delivered && s->rlen == 0 && !s->paused && s->has_cb) {
    s->eof_delivered = 1;
    if (s->cb.on_eof)
      s->cb.on_eof(s, s->ud);
    if (s->dead || c->closing)
      return;
    pump(s); /* a close_write from on_eof */
  }
  if (s->want_writable && s->has_cb && !s->wfin_req &&
      s->queued < c->net->lim.stream_write_queue) {
    s->want_writable = 0;
    if (s->cb.on_writable)
      s->cb.on_writable(s, s->ud);
    if (s->dead || c->closing)
      return;
  }
  if (s->eof_delivered && s->wfin_sent)
    stream_end(s, 0);
}

/* --- public API ---------------------------------------------------------- */

int cpc_net_stream_open(cpc_net_conn *c, const char *protocol,
                        const cpc_net_stream_callbacks *cb, void *ud,
                        cpc_net_stream **out) {
  size_t len = protocol ? strlen(protocol) : 0;
  cpc_net_stream *s;
  int rc;

  *out = NULL;
  if (len == 0 || len > CPC_NET_MAX_PROTOCOL_LEN || strchr(protocol, '\n') ||
      strcmp(protocol, "na") == 0 || strcmp(protocol, "ls") == 0)
    return CPC_EINVAL;
  if (c->closing || c->state != CPC__CONN_OPEN || !c->yamux)
    return CPC_ECLOSED;
  if (!(s = stream_new(c, 1)))
    return CPC_ENOMEM;
  s->protocol = strdup(protocol);
  s->mss = malloc(sizeof *s->mss);
  if (!s->protocol || !s->mss) {
    rc = CPC_ENOMEM;
    goto fail;
  }
  s->proposal[0] = s->protocol;
  if ((rc = cpc_mss_init(s->mss, CPC_MSS_DIALER, s->proposal, 1)) != 0 ||
      (rc = cpc_yamux_open(c->yamux, s, &s->id)) != 0)
    goto fail;
  s->negotiating = 1;
  s->has_cb = 1;
  if (cb)
    s->cb = *cb;
  s->ud = ud;
  cpc__stream_deadline(s, c->net->lim.stream_negotiation_timeout_ms,
                       CPC_ETIMEDOUT);
  pump_mss(s);
  cpc__conn_mark_dirty(c);
  *out = s;
  return 0;
fail:
  c->n_streams--;
  cpc__stream_free(s);
  return rc;
}

void cpc_net_stream_set_callbacks(cpc_net_stream *s,
                                  const cpc_net_stream_callbacks *cb,
                                  void *ud) {
  if (cb)
    s->cb = *cb;
  else
    memset(&s->cb, 0, sizeof s->cb);
  s->ud = ud;
  s->has_cb = 1;
  if (!s->dead)
    cpc__conn_mark_dirty(s->conn);
}

int cpc_net_stream_write(cpc_net_stream *s, const void *data, size_t len) {
  cpc_net_conn *c = s->conn;
  const uint8_t *p = data;
  struct cpc__chunk *ch;
  size_t limit = c->net->lim.stream_write_queue, acc = 0;

  if (s->dead || s->released || s->wfin_req || !s->y_alive || c->closing)
    return CPC_ECLOSED;
  if (len == 0)
    return 0;
  if (s->queued >= limit) {
    s->want_writable = 1;
    return CPC_EAGAIN;
  }
  if (!s->wq_head && !s->negotiating) { /* straight into yamux if it fits */
    int rc = cpc_yamux_write(c->yamux, s->id, p, len, &acc);
    if (rc != 0 && rc != CPC_EAGAIN)
      return rc;
    cpc__conn_mark_dirty(c);
    if (acc == len)
      return 0;
    p += acc;
    len -= acc;
  }
  ch = malloc(sizeof *ch + len);
  if (!ch)
    return acc ? 0 : CPC_ENOMEM; /* what yamux took is sent anyway */
  ch->next = NULL;
  ch->len = len;
  ch->off = 0;
  memcpy(ch->data, p, len);
  if (s->wq_tail)
    s->wq_tail->next = ch;
  else
    s->wq_head = ch;
  s->wq_tail = ch;
  s->queued += len;
  if (s->queued >= limit)
    s->want_writable = 1;
  cpc__conn_mark_dirty(c);
  return 0;
}

int cpc_net_stream_writable(const cpc_net_stream *s) {
  return !s->dead && !s->released && !s->wfin_req && s->y_alive &&
         !s->conn->closing && s->queued < s->conn->net->lim.stream_write_queue;
}

size_t cpc_net_stream_write_queue_size(const cpc_net_stream *s) {
  return s->queued;
}

void cpc_net_stream_read_stop(cpc_net_stream *s) {
  s->paused = 1;
}

void cpc_net_stream_read_start(cpc_net_stream *s) {
  s->paused = 0;
  if (!s->dead)
    cpc__conn_mark_dirty(s->conn);
}

int cpc_net_stream_close_write(cpc_net_stream *s) {
  if (s->dead || s->released)
    return CPC_ECLOSED;
  if (!s->wfin_req) {
    s->wfin_req = 1;
    cpc__conn_mark_dirty(s->conn);
  }
  return 0;
}

void cpc_net_stream_close(cpc_net_stream *s) {
  cpc_net_conn *c = s->conn;
  if (s->dead || s->released)
    return;
  if (s->negotiating) {
    s->released = 1;
    cpc__stream_fail(s, CPC_ECLOSED);
    return;
  }
  s->released = 1;
  memset(&s->cb, 0, sizeof s->cb);
  if (s->rlen > 0 && c->yamux)
    (void)cpc_yamux_consumed(c->yamux, s->id, s->rlen);
  free(s->rbuf);
  s->rbuf = NULL;
  s->rlen = s->rcap = 0;
  s->wfin_req = 1;
  cpc__stream_deadline(s, CPC__NET_LINGER_MS, CPC_ETIMEDOUT);
  if (!s->y_alive)
    stream_kill(s);
  else
    cpc__conn_mark_dirty(c);
}

void cpc_net_stream_reset(cpc_net_stream *s) {
  if (s->dead || s->released)
    return;
  s->released = 1;
  cpc__stream_fail(s, CPC_ECLOSED);
}

const char *cpc_net_stream_protocol(const cpc_net_stream *s) {
  return s->negotiating ? NULL : s->protocol;
}

cpc_net_conn *cpc_net_stream_conn(const cpc_net_stream *s) {
  return s->conn;
}
