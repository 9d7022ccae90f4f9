/*
 * kad_net.c: the Kademlia DHT service of a host (cpc/dht.h): the
 * transport of the sans-IO core over /ipfs/kad/1.0.0 streams, the inbound
 * handler, identify feeding the routing table, and the tick timer.
 *
 * Requests: one struct dht_req per outbound request, linked in the
 * service's list while the core waits for it. It dials (while `dialing`,
 * the host holds it as the dial callback's pointer), then owns a stream.
 * A request the core cancels, or that outlives the service, is unlinked
 * and either freed at once (its stream reset) or, while a dial runs,
 * detached (d = NULL) and freed by the dial callback. The core is only
 * ever called from libuv callbacks, never from inside transport.send or
 * transport.cancel.
 */
#include <stdlib.h>
#include <string.h>

#include "cpc/dht.h"
#include "cpc/error.h"
#include "cpc/varint.h"
#include "net/host_int.h"

/* The most a peer's candidate address list holds (request + peer store). */
#define DIAL_CANDIDATES 16
/* Read buffer cap: a whole frame and its length prefix. */
#define FRAME_CAP (CPC_KAD_MAX_MESSAGE + CPC_VARINT_MAX_LEN)
/* Tick bounds (ms). */
#define TICK_MIN_MS 10
#define TICK_MAX_MS 1000

struct cpc_dht {
  cpc_net *net;
  cpc_kad *kad;
  int client_mode, stopping, handles;
  uv_timer_t tick, notify;
  struct cpc__list reqs; /* outbound requests the core waits for */
  struct cpc__list ins;  /* inbound streams */
  int joined, join_rc;
  cpc_dht_joined_cb joined_cb;
  void *joined_ud;
  cpc_dht_stats st;
};

struct dht_req {
  struct cpc__list link;
  cpc_dht *d; /* NULL once detached */
  uint64_t id;
  cpc_peer_id peer;
  cpc_multiaddr *cands; /* /ip4|ip6/A/tcp/P/p2p/<peer> */
  size_t n_cands, next_cand;
  uint8_t *out;
  size_t out_len;
  int expect, dialing;
  cpc_net_stream *s;
  uint8_t *in;
  size_t in_len, in_cap;
};

struct dht_in {
  struct cpc__list link;
  cpc_dht *d;
  cpc_net_stream *s;
  cpc_peer_id from;
  uint8_t *buf;
  size_t len, cap;
  uint8_t *pending; /* a response waiting for room in the write queue */
  size_t pending_len;
  int eof;
};

uint64_t cpc_dht_now_ms(void) {
  uv_timeval64_t tv;
  if (uv_gettimeofday(&tv) != 0)
    return 0;
  return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

cpc_dht *cpc_net_dht(const cpc_net *net) {
  return net ? net->dht : NULL;
}

cpc_kad *cpc_dht_kad(cpc_dht *d) {
  return d->kad;
}

size_t cpc_dht_requests_in_flight(const cpc_dht *d) {
  size_t n = 0;
  for (const struct cpc__list *l = d->reqs.next; l != &d->reqs; l = l->next)
    n++;
  return n;
}

void cpc_dht_get_stats(const cpc_dht *d, cpc_dht_stats *out) {
  *out = d->st;
}

/* Grow *buf (capacity *cap) to hold need bytes, at most limit. */
static int reserve(uint8_t **buf, size_t *cap, size_t need, size_t limit) {
  size_t nc;
  uint8_t *nb;
  if (need <= *cap)
    return 0;
  if (need > limit)
    return CPC_ETOOBIG;
  nc = *cap ? *cap : 1024;
  while (nc < need)
    nc *= 2;
  if (nc > limit)
    nc = limit;
  nb = realloc(*buf, nc);
  if (!nb)
    return CPC_ENOMEM;
  *buf = nb;
  *cap = nc;
  return 0;
}

/* --- outbound requests ------------------------------------------------- */

static void req_free(struct dht_req *r) {
  free(r->cands);
  free(r->out);
  free(r->in);
  free(r);
}

static struct dht_req *req_find(cpc_dht *d, uint64_t id) {
  for (struct cpc__list *l = d->reqs.next; l != &d->reqs; l = l->next) {
    struct dht_req *r = CPC__CONTAINER(l, struct dht_req, link);
    if (r->id == id)
      return r;
  }
  return NULL;
}

/* Take r out of the service: unlink it and give up its stream. Returns 1
 * if r may be freed now, 0 if a dial still holds it (it is detached). */
static int req_release(struct dht_req *r) {
  cpc__list_remove(&r->link);
  if (r->s) {
    cpc_net_stream_reset(r->s);
    r->s = NULL;
  }
  if (r->dialing) {
    r->d = NULL;
    return 0;
  }
  return 1;
}

/* r failed with rc: tell the core (from a libuv callback only). */
static void req_fail(struct dht_req *r, int rc) {
  cpc_dht *d = r->d;
  uint64_t id = r->id;
  if (req_release(r))
    req_free(r);
  if (!d)
    return;
  d->st.failed++;
  (void)cpc_kad_on_failure(d->kad, id, rc < 0 ? rc : CPC_EIO, cpc_dht_now_ms());
}

/* A request without answer (ADD_PROVIDER) is done once the protocol is
 * agreed: give the stream up gracefully (the request, then a FIN). A stream
 * closed while it still negotiates would drop what it queued. */
static void req_on_open(cpc_net_stream *s, void *ud) {
  struct dht_req *r = ud;
  if (r->expect)
    return;
  cpc__list_remove(&r->link);
  cpc_net_stream_close(s);
  req_free(r);
}

static void req_on_data(cpc_net_stream *s, const uint8_t *data, size_t len,
                        void *ud) {
  struct dht_req *r = ud;
  cpc_dht *d = r->d;
  const uint8_t *msg;
  size_t msg_len, used;
  uint64_t id = r->id;
  int rc;
  (void)s;

  if ((rc = reserve(&r->in, &r->in_cap, r->in_len + len, FRAME_CAP)) != 0) {
    req_fail(r, rc);
    return;
  }
  memcpy(r->in + r->in_len, data, len);
  r->in_len += len;
  rc = cpc_kad_frame_parse(r->in, r->in_len, 0, &msg, &msg_len, &used);
  if (rc == CPC_ETRUNC)
    return;
  if (rc != 0) {
    req_fail(r, rc);
    return;
  }
  /* Done with the stream; the frame stays in r->in for the call. */
  cpc__list_remove(&r->link);
  cpc_net_stream_close(r->s);
  r->s = NULL;
  d->st.answered++;
  (void)cpc_kad_on_response(d->kad, id, msg, msg_len, cpc_dht_now_ms());
  req_free(r);
}

static void req_on_eof(cpc_net_stream *s, void *ud) {
  (void)s;
  req_fail(ud, CPC_ECLOSED); /* the answer never came whole */
}

static void req_on_close(cpc_net_stream *s, int status, void *ud) {
  struct dht_req *r = ud;
  (void)s;
  r->s = NULL; /* freed by the host after this call */
  req_fail(r, status ? status : CPC_ECLOSED);
}

static const cpc_net_stream_callbacks req_cbs = {
    .on_open = req_on_open,
    .on_data = req_on_data,
    .on_eof = req_on_eof,
    .on_close = req_on_close,
};

/* Open r's stream on c and queue the request (half-closed after it when
 * no answer is expected; req_on_open then finishes r). */
static int req_open(struct dht_req *r, cpc_net_conn *c) {
  cpc_net_stream *s;
  int rc;
  rc = cpc_net_stream_open(c, CPC_KAD_PROTOCOL_ID, &req_cbs, r, &s);
  if (rc != 0)
    return rc;
  rc = cpc_net_stream_write(s, r->out, r->out_len);
  if (rc == 0 && !r->expect)
    rc = cpc_net_stream_close_write(s);
  if (rc != 0) {
    cpc_net_stream_reset(s);
    return rc;
  }
  r->s = s;
  return 0;
}

static void req_dialed(cpc_net *net, int status, cpc_net_conn *c, void *ud);

/* Dial the next candidate that the host accepts. 0: a dial runs; else
 * the last error (no candidate left). */
static int req_dial_next(struct dht_req *r) {
  int rc = CPC_ENOENT;
  while (r->next_cand < r->n_cands) {
    const cpc_multiaddr *ma = &r->cands[r->next_cand++];
    r->d->st.dials++;
    rc = cpc_net_dial(r->d->net, ma, req_dialed, r);
    if (rc == 0) {
      r->dialing = 1;
      return 0;
    }
    if (rc == CPC_ECLOSED)
      break;
  }
  return rc;
}

static void req_dialed(cpc_net *net, int status, cpc_net_conn *c, void *ud) {
  struct dht_req *r = ud;
  int rc;
  (void)net;

  r->dialing = 0;
  if (!r->d) { /* cancelled or the service stopped meanwhile */
    req_free(r);
    return;
  }
  if (status == 0) {
    if ((rc = req_open(r, c)) == 0)
      return;
    status = rc;
  }
  if (req_dial_next(r) == 0)
    return;
  req_fail(r, status);
}

/* Add ma to r's candidates as /ip4|ip6/A/tcp/P/p2p/<peer> if it is such a
 * TCP address (any /p2p/ it carries must be the peer's) and new. */
static void add_cand(struct dht_req *r, const cpc_multiaddr *ma) {
  cpc_multiaddr_host h;
  cpc_multiaddr m = *ma;
  uint8_t pid[CPC_MULTIADDR_MAX_BYTES];
  size_t pid_len;

  if (r->n_cands >= DIAL_CANDIDATES)
    return;
  if (cpc_multiaddr_peer_id(&m, pid, sizeof pid, &pid_len) == 0) {
    if (pid_len != r->peer.len || memcmp(pid, r->peer.bytes, pid_len) != 0)
      return;
    cpc_multiaddr_strip_p2p(&m);
  }
  if (cpc_multiaddr_host_port(&m, &h) != 0 ||
      (h.host_code != CPC_MA_IP4 && h.host_code != CPC_MA_IP6) ||
      h.transport_code != CPC_MA_TCP || cpc_multiaddr_count(&m) != 2)
    return;
  if (cpc_multiaddr_append_p2p(&m, r->peer.bytes, r->peer.len) != 0)
    return;
  for (size_t i = 0; i < r->n_cands; i++)
    if (cpc_multiaddr_equal(&r->cands[i], &m))
      return;
  r->cands[r->n_cands++] = m;
}

/* Candidates: the addresses the core gave, then the peer store's. */
static int collect_cands(cpc_dht *d, struct dht_req *r,
                         const cpc_kad_peer *to) {
  cpc_net_peer_info *info = NULL;
  r->cands = calloc(DIAL_CANDIDATES, sizeof *r->cands);
  if (!r->cands)
    return CPC_ENOMEM;
  for (size_t i = 0; i < to->n_addrs; i++) {
    cpc_multiaddr ma;
    if (cpc_kad_peer_addr(to, i, &ma) == 0)
      add_cand(r, &ma);
  }
  if (cpc_net_peer_info_get(d->net, &to->id, &info) == 0) {
    for (size_t i = 0; i < info->n_addrs; i++)
      add_cand(r, &info->addrs[i]);
    cpc_net_peer_info_free(info);
  }
  return 0;
}

static int transport_send(void *ctx, uint64_t req_id, const cpc_kad_peer *to,
                          const uint8_t *framed, size_t len,
                          int expect_response) {
  cpc_dht *d = ctx;
  struct dht_req *r;
  cpc_net_conn *c;
  int rc;

  if (d->stopping)
    return CPC_ECLOSED;
  d->st.requests++;
  r = calloc(1, sizeof *r);
  if (!r || !(r->out = malloc(len ? len : 1))) {
    free(r);
    return CPC_ENOMEM;
  }
  memcpy(r->out, framed, len);
  r->out_len = len;
  r->d = d;
  r->id = req_id;
  r->peer = to->id;
  r->expect = expect_response;
  cpc__list_init(&r->link);

  c = cpc__conn_find_peer(d->net, &to->id);
  if (c && !c->closing && req_open(r, c) == 0) {
    cpc__list_push(&d->reqs, &r->link);
    return 0;
  }
  if ((rc = collect_cands(d, r, to)) != 0 || (rc = req_dial_next(r)) != 0) {
    req_free(r);
    return rc;
  }
  cpc__list_push(&d->reqs, &r->link);
  return 0;
}

static void transport_cancel(void *ctx, uint64_t req_id) {
  cpc_dht *d = ctx;
  struct dht_req *r = req_find(d, req_id);
  if (r && req_release(r))
    req_free(r);
}

/* --- inbound requests ---------------------------------------------------- */

static void in_free(struct dht_in *in) {
  cpc__list_remove(&in->link);
  free(in->buf);
  free(in->pending);
  free(in);
}

/* Give up the stream (reset when refusing) and free the state. */
static void in_end(struct dht_in *in, int refuse) {
  if (refuse) {
    in->d->st.refused++;
    cpc_net_stream_reset(in->s);
  } else {
    cpc_net_stream_close(in->s);
  }
  in_free(in);
}

/* Answer every whole request buffered, in order, while the write queue
 * takes the answers. Returns 0, or 1 when in is gone. */
static int in_process(struct dht_in *in) {
  cpc_dht *d = in->d;
  while (!in->pending) {
    const uint8_t *msg;
    size_t msg_len, used, resp_len = 0;
    uint8_t *resp = NULL;
    int rc = cpc_kad_frame_parse(in->buf, in->len, 0, &msg, &msg_len, &used);
    if (rc == CPC_ETRUNC)
      break;
    if (rc == 0)
      rc = cpc_kad_handle_request(d->kad, &in->from, msg, msg_len,
                                  cpc_dht_now_ms(), &resp, &resp_len);
    if (rc != 0) {
      in_end(in, 1);
      return 1;
    }
    memmove(in->buf, in->buf + used, in->len - used);
    in->len -= used;
    d->st.served++;
    if (!resp)
      continue;
    rc = cpc_net_stream_write(in->s, resp, resp_len);
    if (rc == CPC_EAGAIN) {
      in->pending = resp;
      in->pending_len = resp_len;
      cpc_net_stream_read_stop(in->s);
      break;
    }
    free(resp);
    if (rc != 0) {
      in_end(in, 1);
      return 1;
    }
  }
  if (in->eof && !in->pending) {
    in_end(in, in->len > 0); /* a partial frame at EOF is an error */
    return 1;
  }
  return 0;
}

static void in_on_data(cpc_net_stream *s, const uint8_t *data, size_t len,
                       void *ud) {
  struct dht_in *in = ud;
  (void)s;
  if (reserve(&in->buf, &in->cap, in->len + len, FRAME_CAP) != 0) {
    in_end(in, 1);
    return;
  }
  memcpy(in->buf + in->len, data, len);
  in->len += len;
  (void)in_process(in);
}

static void in_on_eof(cpc_net_stream *s, void *ud) {
  struct dht_in *in = ud;
  (void)s;
  in->eof = 1;
  (void)in_process(in);
}

static void in_on_writable(cpc_net_stream *s, void *ud) {
  struct dht_in *in = ud;
  int rc;
  if (!in->pending)
    return;
  rc = cpc_net_stream_write(s, in->pending, in->pending_len);
  if (rc == CPC_EAGAIN)
    return;
  free(in->pending);
  in->pending = NULL;
  if (rc != 0) {
    in_end(in, 1);
    return;
  }
  cpc_net_stream_read_start(s);
  (void)in_process(in);
}

static void in_on_close(cpc_net_stream *s, int status, void *ud) {
  (void)s;
  (void)status;
  in_free(ud);
}

static const cpc_net_stream_callbacks in_cbs = {
    .on_data = in_on_data,
    .on_eof = in_on_eof,
    .on_writable = in_on_writable,
    .on_close = in_on_close,
};

static void on_kad_stream(cpc_net_stream *s, const char *protocol, void *ud) {
  cpc_dht *d = ud;
  struct dht_in *in;
  (void)protocol;
  if (d->stopping || !(in = calloc(1, sizeof *in))) {
    cpc_net_stream_reset(s);
    return;
  }
  in->d = d;
  in->s = s;
  cpc_net_conn_peer_id(cpc_net_stream_conn(s), &in->from);
  cpc__list_push(&d->ins, &in->link);
  cpc_net_stream_set_callbacks(s, &in_cbs, in);
}

/* --- identify, time, joining --------------------------------------------- */

void cpc__dht_identified(cpc_net *net, cpc_net_conn *c, int status) {
  cpc_dht *d = net->dht;
  cpc_net_peer_info *info = NULL;
  cpc_kad_peer p = {0};
  cpc_peer_id id;
  int server = 0;

  if (!d || d->stopping || status != 0)
    return;
  cpc_net_conn_peer_id(c, &id);
  if (cpc_net_peer_info_get(net, &id, &info) != 0)
    return;
  for (size_t i = 0; i < info->n_protocols; i++)
    if (strcmp(info->protocols[i], CPC_KAD_PROTOCOL_ID) == 0)
      server = 1;
  if (server && cpc_kad_peer_set(&p, &id, info->addrs, info->n_addrs) == 0) {
    d->st.peers_seen++;
    (void)cpc_kad_add_peer(d->kad, &p, cpc_dht_now_ms());
  }
  cpc_kad_peer_clear(&p);
  cpc_net_peer_info_free(info);
}

static void tick_cb(uv_timer_t *t) {
  cpc_dht *d = t->data;
  uint64_t now = cpc_dht_now_ms(), next, delay;
  (void)cpc_kad_tick(d->kad, now);
  next = cpc_kad_next_wakeup(d->kad);
  now = cpc_dht_now_ms();
  delay = next > now ? next - now : 0;
  if (delay < TICK_MIN_MS)
    delay = TICK_MIN_MS;
  if (delay > TICK_MAX_MS)
    delay = TICK_MAX_MS;
  uv_timer_start(&d->tick, tick_cb, delay, 0);
}

static void notify_cb(uv_timer_t *t) {
  cpc_dht *d = t->data;
  cpc_dht_joined_cb cb = d->joined_cb;
  if (!d->joined || !cb || d->stopping)
    return;
  d->joined_cb = NULL;
  cb(d, d->join_rc, d->joined_ud);
}

static void joined(cpc_dht *d, int rc) {
  d->joined = 1;
  d->join_rc = rc;
  if (d->joined_cb && !d->stopping)
    uv_timer_start(&d->notify, notify_cb, 0, 0);
}

static void on_bootstrapped(void *arg, const cpc_kad_result *res) {
  cpc_dht *d = arg;
  (void)res;
  joined(d, cpc_kad_table_size(d->kad) > 0 ? 0 : CPC_ENOENT);
}

int cpc_dht_on_joined(cpc_dht *d, cpc_dht_joined_cb cb, void *ud) {
  if (d->stopping)
    return CPC_ECLOSED;
  d->joined_cb = cb;
  d->joined_ud = ud;
  if (d->joined && cb)
    uv_timer_start(&d->notify, notify_cb, 0, 0);
  return 0;
}

int cpc_dht_refresh_self_addrs(cpc_dht *d) {
  cpc_multiaddr addrs[CPC_KAD_MAX_ADDRS];
  size_t n = 0;
  int rc = cpc_net_listen_addrs(d->net, addrs, CPC_KAD_MAX_ADDRS, &n);
  if (rc != 0)
    return rc;
  if (n > CPC_KAD_MAX_ADDRS)
    n = CPC_KAD_MAX_ADDRS;
  for (size_t i = 0; i < n; i++)
    cpc_multiaddr_strip_p2p(&addrs[i]);
  return cpc_kad_set_self_addrs(d->kad, addrs, n);
}

/* --- start / stop ----------------------------------------------------------
 */

static void handle_closed(uv_handle_t *h) {
  cpc_dht *d = h->data;
  if (--d->handles == 0)
    free(d);
}

/* The seeds as DHT peers (our own id skipped), their addresses also put in
 * the peer store. *out (calloc) gets *n entries. */
static int make_seeds(cpc_dht *d, const struct cpc__kad_setup *s,
                      cpc_kad_peer **out, size_t *n) {
  cpc_kad_peer *seeds;
  *out = NULL;
  *n = 0;
  if (s->n_seeds == 0)
    return 0;
  seeds = calloc(s->n_seeds, sizeof *seeds);
  if (!seeds)
    return CPC_ENOMEM;
  for (size_t i = 0; i < s->n_seeds; i++) {
    cpc_multiaddr ma = s->seeds[i];
    uint8_t pid[CPC_MULTIADDR_MAX_BYTES];
    size_t pid_len;
    cpc_peer_id id;
    int rc;
    if (cpc_multiaddr_peer_id(&ma, pid, sizeof pid, &pid_len) != 0 ||
        cpc_peer_id_from_bytes(pid, pid_len, &id) != 0 ||
        cpc_peer_id_equal(&id, &d->net->id))
      continue;
    cpc_multiaddr_strip_p2p(&ma);
    (void)cpc_net_peer_add_addrs(d->net, &id, &ma, 1);
    if ((rc = cpc_kad_peer_set(&seeds[*n], &id, &ma, 1)) != 0) {
      for (size_t j = 0; j < *n; j++)
        cpc_kad_peer_clear(&seeds[j]);
      free(seeds);
      *n = 0;
      return rc;
    }
    (*n)++;
  }
  *out = seeds;
  return 0;
}

int cpc__dht_start(cpc_net *net, const struct cpc__kad_setup *s) {
  cpc_dht *d = calloc(1, sizeof *d);
  cpc_kad_transport tr = {transport_send, transport_cancel, NULL};
  cpc_kad_config cfg;
  cpc_kad_peer *seeds = NULL;
  size_t n_seeds = 0;
  int rc;

  if (!d)
    return CPC_ENOMEM;
  d->net = net;
  cpc__list_init(&d->reqs);
  cpc__list_init(&d->ins);
  if (s->has_cfg)
    cfg = s->cfg;
  else
    cpc_kad_config_default(&cfg);
  cfg.client_mode = s->mode == CPC_NET_KAD_CLIENT;
  d->client_mode = cfg.client_mode;
  tr.ctx = d;
  if ((rc = cpc_kad_new(&net->id, &cfg, &tr, cpc_dht_now_ms(), &d->kad)) != 0) {
    free(d);
    return rc;
  }
  if ((rc = cpc_dht_refresh_self_addrs(d)) != 0 ||
      (!d->client_mode && (rc = cpc_net_handle(net, CPC_KAD_PROTOCOL_ID,
                                               on_kad_stream, d)) != 0)) {
    cpc_kad_free(d->kad);
    free(d);
    return rc;
  }
  uv_timer_init(net->loop, &d->tick);
  uv_timer_init(net->loop, &d->notify);
  d->tick.data = d->notify.data = d;
  d->handles = 2;
  uv_unref((uv_handle_t *)&d->tick);
  net->dht = d;
  uv_timer_start(&d->tick, tick_cb, TICK_MAX_MS, 0);

  rc = make_seeds(d, s, &seeds, &n_seeds);
  if (rc == 0 && n_seeds > 0)
    rc = cpc_kad_bootstrap(d->kad, seeds, n_seeds, cpc_dht_now_ms(),
                           on_bootstrapped, d, NULL);
  else if (rc == 0)
    joined(d, 0);
  if (rc != 0 && !d->joined)
    joined(d, rc); /* every seed failed at once; the core retries */
  for (size_t i = 0; i < n_seeds; i++)
    cpc_kad_peer_clear(&seeds[i]);
  free(seeds);
  return rc == CPC_ENOMEM ? rc : 0;
}

void cpc__dht_stop(cpc_net *net) {
  cpc_dht *d = net->dht;
  if (!d)
    return;
  d->stopping = 1;
  net->dht = NULL;
  if (!d->client_mode)
    (void)cpc_net_unhandle(net, CPC_KAD_PROTOCOL_ID);
  while (!cpc__list_empty(&d->ins)) {
    struct dht_in *in = CPC__CONTAINER(d->ins.next, struct dht_in, link);
    cpc_net_stream_reset(in->s);
    in_free(in);
  }
  /* the core cancels its requests (transport_cancel) as it goes */
  cpc_kad_free(d->kad);
  d->kad = NULL;
  while (!cpc__list_empty(&d->reqs)) {
    struct dht_req *r = CPC__CONTAINER(d->reqs.next, struct dht_req, link);
    if (req_release(r))
      req_free(r);
  }
  uv_close((uv_handle_t *)&d->tick, handle_closed);
  uv_close((uv_handle_t *)&d->notify, handle_closed);
}
