/*
 * tcp.c: the TCP transport of the host: listening sockets, accepting,
 * dialing /ip4|ip6|dns4|dns6|dns/A/tcp/P[/p2p/ID], and per-peer dial
 * backoff. A name is looked up with uv_getaddrinfo (A records for dns4,
 * AAAA for dns6, both for dns), then its addresses are tried in turn, all
 * within the dial timeout (the connection stays CONNECTING meanwhile).
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/net.h"
#include "net/host_int.h"

int cpc__tcp_listen(cpc_net *net, const cpc_multiaddr *ma, char *err,
                    size_t err_cap);

/* A sockaddr for an /ip4|ip6/A/tcp/P multiaddr's host part. */
static int to_sockaddr(const cpc_multiaddr_host *h,
                       struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof *ss);
  if (h->transport_code != CPC_MA_TCP)
    return CPC_EUNSUPPORTED;
  if (h->host_code == CPC_MA_IP4) {
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(h->port);
    memcpy(&sin->sin_addr, h->ip, 4);
    return 0;
  }
  if (h->host_code == CPC_MA_IP6) {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(h->port);
    memcpy(&sin6->sin6_addr, h->ip, 16);
    return 0;
  }
  return CPC_EUNSUPPORTED;
}

int cpc__sockaddr_to_multiaddr(const struct sockaddr_storage *ss,
                               cpc_multiaddr *ma) {
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
    return cpc_multiaddr_from_ip(ma, (const uint8_t *)&sin->sin_addr, 4,
                                 CPC_MA_TCP, ntohs(sin->sin_port));
  }
  if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
    return cpc_multiaddr_from_ip(ma, (const uint8_t *)&sin6->sin6_addr, 16,
                                 CPC_MA_TCP, ntohs(sin6->sin6_port));
  }
  return CPC_EUNSUPPORTED;
}

/* --- listening ----------------------------------------------------------- */

static void listener_close_cb(uv_handle_t *h) {
  struct cpc__listener *l = h->data;
  cpc__net_handle_closed(l->net);
}

static void on_connection(uv_stream_t *server, int status) {
  struct cpc__listener *l = server->data;
  cpc_net *net = l->net;
  cpc_net_conn *c;

  if (status < 0 || net->closing)
    return;
  if (cpc__conn_new(net, 0, &c) != 0)
    return; /* out of memory: libuv calls again while connections wait */
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
    cpc__conn_fail(c, CPC_EIO);
    return;
  }
  if (net->n_conns > net->lim.max_connections && !cpc__net_make_room(net)) {
    cpc__conn_fail(c, CPC_ENOSPC);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  cpc__conn_start(c);
}

int cpc__tcp_listen(cpc_net *net, const cpc_multiaddr *ma, char *err,
                    size_t err_cap) {
  struct cpc__listener *l = &net->listeners[net->n_listeners];
  cpc_multiaddr_host h;
  struct sockaddr_storage ss;
  char text[CPC_MULTIADDR_MAX_TEXT];
  int namelen = sizeof ss, rc;

  if (cpc_multiaddr_format(ma, text, sizeof text, NULL) != 0)
    snprintf(text, sizeof text, "(unprintable)");
  if ((rc = cpc_multiaddr_host_port(ma, &h)) != 0 ||
      (rc = to_sockaddr(&h, &ss)) != 0) {
    snprintf(err, err_cap, "cannot listen on %s: not /ip4|ip6/A/tcp/P", text);
    return CPC_EUNSUPPORTED;
  }
  l->net = net;
  uv_tcp_init(net->loop, &l->tcp);
  l->tcp.data = l;
  net->handles++;
  rc = uv_tcp_bind(&l->tcp, (const struct sockaddr *)&ss,
                   ss.ss_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&l->tcp, 511, on_connection);
  if (rc == 0)
    rc = uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&ss, &namelen);
  if (rc == 0 && cpc__sockaddr_to_multiaddr(&ss, &l->addr) != 0)
    rc = UV_EINVAL;
  if (rc != 0) {
    snprintf(err, err_cap, "cannot listen on %s: %s", text, uv_strerror(rc));
    uv_close((uv_handle_t *)&l->tcp, listener_close_cb);
    return CPC_EIO;
  }
  l->active = 1;
  net->n_listeners++;
  return 0;
}

/* --- backoff ----------------------------------------------------------------
 */

static struct cpc__backoff *backoff_find(cpc_net *net, const uint8_t *key,
                                         size_t len) {
  for (size_t i = 0; i < CPC__NET_BACKOFF_SLOTS; i++)
    if (net->backoff[i].key_len == len &&
        memcmp(net->backoff[i].key, key, len) == 0)
      return &net->backoff[i];
  return NULL;
}

void cpc__backoff_result(cpc_net *net, const uint8_t *key, size_t len, int ok) {
  struct cpc__backoff *b = backoff_find(net, key, len);
  uint64_t now = cpc__net_now(net), delay;
  if (len == 0 || len > CPC__BACKOFF_KEY_MAX)
    return;
  if (ok) {
    if (b)
      memset(b, 0, sizeof *b);
    return;
  }
  if (!b) { /* a free slot or the least recently touched one */
    b = &net->backoff[0];
    for (size_t i = 0; i < CPC__NET_BACKOFF_SLOTS; i++) {
      struct cpc__backoff *e = &net->backoff[i];
      if (e->key_len == 0) {
        b = e;
        break;
      }
      if (e->touched_ms < b->touched_ms)
        b = e;
    }
    memset(b, 0, sizeof *b);
    memcpy(b->key, key, len);
    b->key_len = len;
  }
  if (b->failures < 32)
    b->failures++;
  delay = net->lim.backoff_base_ms;
  for (unsigned i = 1; i < b->failures && delay < net->lim.backoff_max_ms; i++)
    delay *= 2;
  if (delay > net->lim.backoff_max_ms)
    delay = net->lim.backoff_max_ms;
  b->until_ms = now + delay;
  b->touched_ms = now;
}

/* --- dialing
 * ------------------------------------------------------------------ */

static void on_connect(uv_connect_t *req, int status) {
  cpc_net_conn *c = req->data;
  if (c->closing)
    return;
  if (status < 0) {
    c->dial_err = status == UV_ETIMEDOUT ? CPC_ETIMEDOUT : CPC_EIO;
    if (c->ai_next) /* more addresses of the name */
      cpc__conn_reconnect(c);
    else
      cpc__conn_fail(c, c->dial_err);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  cpc__conn_start(c);
}

/* A name lookup of a connection; it outlives the connection if that gives
 * up first (conn is then NULL and the answer is dropped). */
struct cpc__resolve {
  uv_getaddrinfo_t req;
  cpc_net_conn *conn;
};

void cpc__dial_next(cpc_net_conn *c) {
  while (c->ai_next) {
    struct addrinfo *ai = c->ai_next;
    c->ai_next = ai->ai_next;
    if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
        ai->ai_socktype != SOCK_STREAM)
      continue;
    c->connect_req.data = c;
    if (uv_tcp_connect(&c->connect_req, &c->tcp, ai->ai_addr, on_connect) == 0)
      return;
    c->dial_err = CPC_EIO; /* e.g. no IPv6 here: the next one */
    if (c->ai_next) {
      cpc__conn_reconnect(c);
      return;
    }
  }
  cpc__conn_fail(c, c->dial_err ? c->dial_err : CPC_ENOENT);
}

void cpc__dial_forget(cpc_net_conn *c) {
  if (c->resolve) {
    c->resolve->conn = NULL;
    (void)uv_cancel((uv_req_t *)&c->resolve->req);
    c->resolve = NULL;
  }
  if (c->ai)
    uv_freeaddrinfo(c->ai);
  c->ai = c->ai_next = NULL;
}

static void on_resolved(uv_getaddrinfo_t *req, int status,
                        struct addrinfo *res) {
  struct cpc__resolve *r = CPC__CONTAINER(req, struct cpc__resolve, req);
  cpc_net_conn *c = r->conn;
  free(r);
  if (!c) {
    if (res)
      uv_freeaddrinfo(res);
    return;
  }
  c->resolve = NULL;
  if (c->closing || uv_is_closing((uv_handle_t *)&c->tcp)) {
    if (res) /* it gave up before its close callback ran */
      uv_freeaddrinfo(res);
    return;
  }
  if (status < 0 || !res) {
    if (res)
      uv_freeaddrinfo(res);
    switch (status) {
    case UV_EAI_MEMORY: status = CPC_ENOMEM; break;
    case UV_EAI_AGAIN:
    case UV_EAI_FAIL: status = CPC_EIO; break; /* no answer from DNS */
    default: status = CPC_ENOENT; break;       /* no such name or family */
    }
    cpc__conn_fail(c, status);
    return;
  }
  c->ai = c->ai_next = res;
  c->dial_err = CPC_ENOENT; /* if no address is usable */
  cpc__dial_next(c);
}

/* Look up h's name for c (family per dns4 / dns6 / dns). */
static int resolve(cpc_net_conn *c, const cpc_multiaddr_host *h) {
  struct cpc__resolve *r = calloc(1, sizeof *r);
  struct addrinfo hints;
  char port[8];
  int rc;
  if (!r)
    return CPC_ENOMEM;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = h->host_code == CPC_MA_DNS4   ? AF_INET
                    : h->host_code == CPC_MA_DNS6 ? AF_INET6
                                                  : AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  hints.ai_flags = AI_NUMERICSERV;
  snprintf(port, sizeof port, "%u", (unsigned)h->port);
  r->conn = c;
  rc =
      uv_getaddrinfo(c->net->loop, &r->req, on_resolved, h->host, port, &hints);
  if (rc != 0) {
    free(r);
    return rc == UV_ENOMEM ? CPC_ENOMEM : CPC_EIO;
  }
  c->resolve = r;
  return 0;
}

static int add_waiter(cpc_net_conn *c, cpc_net_dial_cb cb, void *ud) {
  struct cpc__dial_waiter *w = calloc(1, sizeof *w), **p;
  if (!w)
    return CPC_ENOMEM;
  w->cb = cb;
  w->ud = ud;
  for (p = &c->waiters; *p; p = &(*p)->next)
    ;
  *p = w;
  return 0;
}

/* An outbound connection still upgrading towards id, or NULL. */
static cpc_net_conn *find_dialing(cpc_net *net, const cpc_peer_id *id) {
  for (struct cpc__list *l = net->conns.next; l != &net->conns; l = l->next) {
    cpc_net_conn *c = CPC__CONTAINER(l, cpc_net_conn, link);
    if (c->outbound && !c->closing && c->has_expected &&
        c->state != CPC__CONN_OPEN && cpc_peer_id_equal(&c->expected, id))
      return c;
  }
  return NULL;
}

int cpc_net_dial(cpc_net *net, const cpc_multiaddr *ma, cpc_net_dial_cb cb,
                 void *ud) {
  cpc_multiaddr_host h;
  cpc_multiaddr bare;
  struct sockaddr_storage ss;
  cpc_peer_id expected;
  uint8_t pid[CPC_MULTIADDR_MAX_BYTES];
  size_t pid_len = 0, n = cpc_multiaddr_count(ma);
  int has_expected = 0, rc;
  const uint8_t *key;
  size_t key_len;
  struct cpc__backoff *b;
  cpc_net_conn *c;
  int is_name;

  if (net->closing)
    return CPC_ECLOSED;
  if (!cb)
    return CPC_EINVAL;
  if (cpc_multiaddr_host_port(ma, &h) != 0 || h.transport_code != CPC_MA_TCP)
    return CPC_EUNSUPPORTED;
  is_name = h.host_code == CPC_MA_DNS || h.host_code == CPC_MA_DNS4 ||
            h.host_code == CPC_MA_DNS6;
  if (!is_name && to_sockaddr(&h, &ss) != 0)
    return CPC_EUNSUPPORTED;
  rc = cpc_multiaddr_peer_id(ma, pid, sizeof pid, &pid_len);
  if (rc == 0) {
    if (n != 3 || cpc_peer_id_from_bytes(pid, pid_len, &expected) != 0)
      return CPC_EUNSUPPORTED;
    has_expected = 1;
    if (cpc_peer_id_equal(&expected, &net->id))
      return CPC_EINVAL;
    c = cpc__conn_find_peer(net, &expected);
    if (!c)
      c = find_dialing(net, &expected);
    if (c) {
      if ((rc = add_waiter(c, cb, ud)) != 0)
        return rc;
      if (c->state == CPC__CONN_OPEN)
        cpc__conn_mark_dirty(c);
      return 0;
    }
  } else if (n != 2) {
    return CPC_EUNSUPPORTED;
  }
  bare = *ma;
  cpc_multiaddr_strip_p2p(&bare);
  key = has_expected ? expected.bytes : bare.bytes;
  key_len = has_expected ? expected.len : bare.len;
  if (key_len > CPC__BACKOFF_KEY_MAX)
    return CPC_EUNSUPPORTED;
  b = backoff_find(net, key, key_len);
  if (b && b->until_ms > cpc__net_now(net))
    return CPC_EAGAIN;
  if (net->n_conns >= net->lim.max_connections && !cpc__net_make_room(net))
    return CPC_ENOSPC;
  if ((rc = cpc__conn_new(net, 1, &c)) != 0)
    return rc;
  if (has_expected) {
    c->has_expected = 1;
    c->expected = expected;
  }
  memcpy(c->backoff_key, key, key_len);
  c->backoff_key_len = key_len;
  if ((rc = add_waiter(c, cb, ud)) != 0) {
    cpc__conn_fail(c, rc);
    return rc;
  }
  c->connect_req.data = c;
  if (is_name)
    rc = resolve(c, &h);
  else
    rc = uv_tcp_connect(&c->connect_req, &c->tcp, (const struct sockaddr *)&ss,
                        on_connect) != 0
             ? CPC_EIO
             : 0;
  if (rc != 0) {
    free(c->waiters);
    c->waiters = NULL;
    cpc__conn_fail(c, rc);
    return rc;
  }
  return 0;
}
