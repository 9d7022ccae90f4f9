/*
 * identify.c: the identify service: answers /ipfs/id/1.0.0 with our
 * Identify message, asks every new connection's peer the same, takes
 * /ipfs/id/push/1.0.0 updates and pushes ours when our protocols change.
 * Messages are uvarint-length-prefixed; what a peer says is checked
 * against the PeerId Noise authenticated before it reaches the peer store.
 */
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/identify.h"
#include "cpc/net.h"
#include "cpc/varint.h"
#include "net/host_int.h"

/* Reading one identify or push stream. */
struct reader {
  cpc_net_conn *conn;
  int is_push, reported;
  uint8_t *buf;
  size_t len, cap;
};

int cpc__identify_build(cpc_net *net, cpc_net_conn *c, uint8_t **out,
                        size_t *len) {
  cpc_identify_msg m;
  cpc_multiaddr addrs[CPC_IDENTIFY_MAX_ADDRS];
  size_t n_addrs = 0, body_len = 0, w = 0;
  uint8_t *body = NULL, *framed;
  int rc;

  *out = NULL;
  *len = 0;
  memset(&m, 0, sizeof m);
  m.protocol_version = (char *)(uintptr_t)CPC_NET_PROTOCOL_VERSION;
  m.agent_version = net->agent;
  m.has_public_key = 1;
  m.public_key = net->key.pub;
  if ((rc = cpc_net_listen_addrs(net, addrs, CPC_IDENTIFY_MAX_ADDRS,
                                 &n_addrs)) != 0)
    return rc;
  if (n_addrs > CPC_IDENTIFY_MAX_ADDRS)
    n_addrs = CPC_IDENTIFY_MAX_ADDRS;
  for (size_t i = 0; i < n_addrs; i++)
    cpc_multiaddr_strip_p2p(&addrs[i]);
  m.listen_addrs = addrs;
  m.n_listen_addrs = n_addrs;
  if (c && cpc_net_conn_remote_addr(c, &m.observed_addr) == 0)
    m.has_observed_addr = 1;
  m.protocols = (char **)(uintptr_t)net->table->names;
  m.n_protocols = net->table->n;
  if ((rc = cpc_identify_encode(&m, &body, &body_len)) != 0)
    return rc;
  framed = malloc(CPC_VARINT_MAX_LEN + body_len);
  if (!framed) {
    free(body);
    return CPC_ENOMEM;
  }
  (void)cpc_varint_encode(body_len, framed, CPC_VARINT_MAX_LEN, &w);
  memcpy(framed + w, body, body_len);
  free(body);
  *out = framed;
  *len = w + body_len;
  return 0;
}

/* Write our message on s and give s up (FIN after it). */
static void send_ours(cpc_net_stream *s) {
  cpc_net_conn *c = cpc_net_stream_conn(s);
  uint8_t *msg = NULL;
  size_t len = 0;
  if (cpc__identify_build(c->net, c, &msg, &len) != 0 ||
      cpc_net_stream_write(s, msg, len) != 0) {
    free(msg);
    cpc_net_stream_reset(s);
    return;
  }
  free(msg);
  cpc_net_stream_close(s);
}

static void on_identify_request(cpc_net_stream *s, const char *protocol,
                                void *ud) {
  (void)protocol;
  (void)ud;
  send_ours(s);
}

/* --- reading a peer's message ------------------------------------------- */

static void report(struct reader *r, int status) {
  cpc_net *net = r->conn->net;
  if (r->reported)
    return;
  r->reported = 1;
  cpc__dht_identified(net, r->conn, status); /* pushes too: modes change */
  if (r->is_push) {
    if (status == 0 && net->ev.on_identify_push)
      net->ev.on_identify_push(net, r->conn, net->ev_ud);
    return;
  }
  if (net->ev.on_identify)
    net->ev.on_identify(net, r->conn, status, net->ev_ud);
}

static int apply(struct reader *r) {
  cpc_net_conn *c = r->conn;
  cpc_identify_msg *m = NULL;
  int rc = cpc_identify_decode_stream(r->buf, r->len, &m);
  if (rc != 0)
    return rc;
  if (m->has_public_key) {
    if (cpc_peer_id_check(&c->peer, &m->public_key) != 0) {
      rc = CPC_EMISMATCH; /* the key is not the one Noise authenticated */
      goto out;
    }
  } else if (cpc_peer_id_pubkey(&c->peer, &m->public_key) == 0) {
    m->has_public_key = 1;
  }
  rc = cpc__peers_apply_identify(&c->net->peers, &c->peer, m,
                                 cpc__net_now(c->net));
  if (rc == 0 && m->has_observed_addr) {
    if (!c->observed && !(c->observed = malloc(sizeof *c->observed))) {
      rc = CPC_ENOMEM;
      goto out;
    }
    *c->observed = m->observed_addr;
  }
out:
  cpc_identify_msg_free(m);
  return rc;
}

static void reader_data(cpc_net_stream *s, const uint8_t *d, size_t n,
                        void *ud) {
  struct reader *r = ud;
  if (n > CPC__NET_IDENTIFY_READ_MAX - r->len) {
    report(r, CPC_ETOOBIG);
    cpc_net_stream_reset(s);
    free(r->buf);
    free(r);
    return;
  }
  if (r->len + n > r->cap) {
    size_t cap = r->cap ? r->cap : 1024;
    uint8_t *p;
    while (cap < r->len + n)
      cap *= 2;
    if (!(p = realloc(r->buf, cap))) {
      report(r, CPC_ENOMEM);
      cpc_net_stream_reset(s);
      free(r->buf);
      free(r);
      return;
    }
    r->buf = p;
    r->cap = cap;
  }
  memcpy(r->buf + r->len, d, n);
  r->len += n;
}

static void reader_eof(cpc_net_stream *s, void *ud) {
  struct reader *r = ud;
  int rc = apply(r);
  report(r, rc);
  free(r->buf);
  free(r);
  cpc_net_stream_close(s);
}

static void reader_close(cpc_net_stream *s, int status, void *ud) {
  struct reader *r = ud;
  (void)s;
  report(r, status ? status : CPC_ECLOSED);
  free(r->buf);
  free(r);
}

static void reader_open(cpc_net_stream *s, void *ud) {
  (void)ud;
  (void)cpc_net_stream_close_write(s); /* we only listen */
}

static const cpc_net_stream_callbacks reader_cb = {
    .on_open = reader_open,
    .on_data = reader_data,
    .on_eof = reader_eof,
    .on_close = reader_close,
};

static struct reader *reader_new(cpc_net_conn *c, int is_push) {
  struct reader *r = calloc(1, sizeof *r);
  if (r) {
    r->conn = c;
    r->is_push = is_push;
  }
  return r;
}

void cpc__identify_start(cpc_net_conn *c) {
  struct reader *r;
  cpc_net_stream *s;
  cpc_net *net = c->net;
  int rc;
  if (c->identify_started)
    return;
  c->identify_started = 1;
  if (!(r = reader_new(c, 0))) {
    if (net->ev.on_identify)
      net->ev.on_identify(net, c, CPC_ENOMEM, net->ev_ud);
    return;
  }
  rc = cpc_net_stream_open(c, CPC_NET_IDENTIFY_PROTOCOL, &reader_cb, r, &s);
  if (rc != 0) {
    report(r, rc);
    free(r);
    return;
  }
  cpc__stream_deadline(s, CPC__NET_IDENTIFY_TIMEOUT_MS, CPC_ETIMEDOUT);
}

static void on_push(cpc_net_stream *s, const char *protocol, void *ud) {
  struct reader *r = reader_new(cpc_net_stream_conn(s), 1);
  (void)protocol;
  (void)ud;
  if (!r) {
    cpc_net_stream_reset(s);
    return;
  }
  (void)cpc_net_stream_close_write(s);
  cpc__stream_deadline(s, CPC__NET_IDENTIFY_TIMEOUT_MS, CPC_ETIMEDOUT);
  cpc_net_stream_set_callbacks(s, &reader_cb, r);
}

/* --- push ------------------------------------------------------------------
 */

static void push_open(cpc_net_stream *s, void *ud) {
  (void)ud;
  send_ours(s);
}

static const cpc_net_stream_callbacks push_cb = {.on_open = push_open};

void cpc__identify_push_all(cpc_net *net) {
  for (struct cpc__list *l = net->conns.next; l != &net->conns; l = l->next) {
    cpc_net_conn *c = CPC__CONTAINER(l, cpc_net_conn, link);
    cpc_net_stream *s;
    if (c->state != CPC__CONN_OPEN || c->closing || !c->announced)
      continue;
    if (cpc_net_stream_open(c, CPC_NET_IDENTIFY_PUSH_PROTOCOL, &push_cb, NULL,
                            &s) == 0)
      cpc__stream_deadline(s, CPC__NET_IDENTIFY_TIMEOUT_MS, CPC_ETIMEDOUT);
  }
}

int cpc__identify_register(cpc_net *net) {
  int rc =
      cpc_net_handle(net, CPC_NET_IDENTIFY_PROTOCOL, on_identify_request, NULL);
  return rc ? rc
            : cpc_net_handle(net, CPC_NET_IDENTIFY_PUSH_PROTOCOL, on_push,
                             NULL);
}
