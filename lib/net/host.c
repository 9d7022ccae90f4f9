/*
 * host.c: the host (cpc_net): builder, lifecycle, protocol handler table,
 * the settle pass and the sweep timer. See cpc/net.h and host_int.h.
 */
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/net.h"
#include "net/host_int.h"

struct cpc_net_builder {
  uv_loop_t *loop;
  int tcp, has_key;
  cpc_privkey key;
  cpc_multiaddr *listen;
  size_t n_listen;
  char *agent;
  cpc_net_limits lim;
  cpc_net_events ev;
  void *ev_ud;
  struct cpc__kad_setup kad;
  const char *error;
  char error_buf[256];
};

/* tcp.c */
int cpc__tcp_listen(cpc_net *net, const cpc_multiaddr *ma, char *err,
                    size_t err_cap);

void cpc_net_limits_default(cpc_net_limits *l) {
  memset(l, 0, sizeof *l);
  l->max_connections = 1024;
  l->max_streams_per_conn = 1024;
  l->max_pending_inbound = 64;
  l->idle_timeout_ms = 60000;
  l->keepalive_ms = 30000;
  l->handshake_timeout_ms = 10000;
  l->dial_timeout_ms = 10000;
  l->stream_negotiation_timeout_ms = 10000;
  l->max_preupgrade_bytes = 256u * 1024u;
  l->stream_write_queue = 256u * 1024u;
  l->max_conn_output = 8u * 1024u * 1024u;
  l->max_host_socket_output = 64u * 1024u * 1024u;
  l->backoff_base_ms = 1000;
  l->backoff_max_ms = 5u * 60u * 1000u;
  l->max_peers = 4096;
}

int cpc_net_builder_new(uv_loop_t *loop, cpc_net_builder **out) {
  cpc_net_builder *b;
  *out = NULL;
  if (!loop)
    return CPC_EINVAL;
  b = calloc(1, sizeof *b);
  if (!b)
    return CPC_ENOMEM;
  b->loop = loop;
  cpc_net_limits_default(&b->lim);
  *out = b;
  return 0;
}

void cpc_net_builder_free(cpc_net_builder *b) {
  if (!b)
    return;
  cpc_privkey_wipe(&b->key);
  free(b->listen);
  free(b->agent);
  free(b->kad.seeds);
  free(b);
}

const char *cpc_net_builder_error(const cpc_net_builder *b) {
  return b->error;
}

int cpc_net_builder_with_tcp(cpc_net_builder *b) {
  b->tcp = 1;
  b->error = NULL;
  return 0;
}

int cpc_net_builder_with_quic(cpc_net_builder *b) {
  b->error = "the QUIC transport is not implemented yet; use TCP";
  return CPC_EUNSUPPORTED;
}

int cpc_net_builder_with_kademlia(cpc_net_builder *b, int mode,
                                  const cpc_multiaddr *bootstrap, size_t n) {
  cpc_multiaddr *seeds = NULL;
  if (mode != CPC_NET_KAD_SERVER && mode != CPC_NET_KAD_CLIENT) {
    b->error = "the Kademlia mode must be CPC_NET_KAD_SERVER or _CLIENT";
    return CPC_EINVAL;
  }
  if (n > CPC_NET_MAX_BOOTSTRAP) {
    b->error = "too many bootstrap addresses";
    return CPC_ETOOBIG;
  }
  for (size_t i = 0; i < n; i++) {
    cpc_multiaddr_host h;
    uint8_t pid[CPC_MULTIADDR_MAX_BYTES];
    size_t pid_len;
    cpc_peer_id id;
    if (cpc_multiaddr_peer_id(&bootstrap[i], pid, sizeof pid, &pid_len) != 0 ||
        cpc_peer_id_from_bytes(pid, pid_len, &id) != 0) {
      b->error = "a bootstrap address must end in /p2p/<PeerId>";
      return CPC_EINVAL;
    }
    if (cpc_multiaddr_host_port(&bootstrap[i], &h) != 0 ||
        (h.host_code != CPC_MA_IP4 && h.host_code != CPC_MA_IP6) ||
        h.transport_code != CPC_MA_TCP ||
        cpc_multiaddr_count(&bootstrap[i]) != 3) {
      b->error = "a bootstrap address must be /ip4|ip6/A/tcp/P/p2p/<PeerId>";
      return CPC_EUNSUPPORTED;
    }
  }
  if (n > 0) {
    if (!(seeds = malloc(n * sizeof *seeds)))
      return CPC_ENOMEM;
    memcpy(seeds, bootstrap, n * sizeof *seeds);
  }
  free(b->kad.seeds);
  b->kad.seeds = seeds;
  b->kad.n_seeds = n;
  b->kad.mode = mode;
  b->kad.enabled = 1;
  b->error = NULL;
  return 0;
}

int cpc_net_builder_kademlia_config(cpc_net_builder *b,
                                    const struct cpc_kad_config *cfg) {
  if (cfg->k == 0 || cfg->k >= CPC_KAD_MAX_PEERS || cfg->alpha == 0 ||
      cfg->max_lookups == 0 || cfg->max_providers_per_key == 0 ||
      cfg->max_providers_per_key > CPC_KAD_MAX_PEERS) {
    b->error = "a Kademlia setting is zero or over its cap";
    return CPC_EINVAL;
  }
  b->kad.cfg = *cfg;
  b->kad.has_cfg = 1;
  return 0;
}

int cpc_net_builder_with_gossipsub(cpc_net_builder *b) {
  b->error = "gossipsub (/meshsub/1.1.0) is not implemented yet";
  return CPC_EUNSUPPORTED;
}

int cpc_net_builder_identity(cpc_net_builder *b, const cpc_privkey *key) {
  if (key->type != CPC_KEY_ED25519 && key->type != CPC_KEY_SECP256K1) {
    b->error = "the identity must be an Ed25519 or secp256k1 key";
    return CPC_EUNSUPPORTED;
  }
  b->key = *key;
  b->has_key = 1;
  return 0;
}

int cpc_net_builder_listen(cpc_net_builder *b, const cpc_multiaddr *ma) {
  cpc_multiaddr_host h;
  cpc_multiaddr *p;
  if (cpc_multiaddr_host_port(ma, &h) != 0 ||
      (h.host_code != CPC_MA_IP4 && h.host_code != CPC_MA_IP6) ||
      h.transport_code != CPC_MA_TCP || cpc_multiaddr_count(ma) != 2) {
    b->error = "can only listen on /ip4/A/tcp/P or /ip6/A/tcp/P";
    return CPC_EUNSUPPORTED;
  }
  if (b->n_listen >= CPC_NET_MAX_LISTEN) {
    b->error = "too many listen addresses";
    return CPC_ETOOBIG;
  }
  p = realloc(b->listen, (b->n_listen + 1) * sizeof *p);
  if (!p)
    return CPC_ENOMEM;
  b->listen = p;
  b->listen[b->n_listen++] = *ma;
  return 0;
}

int cpc_net_builder_agent_version(cpc_net_builder *b, const char *agent) {
  size_t n = agent ? strlen(agent) : 0;
  char *copy;
  if (n == 0 || n > 256) {
    b->error = "the agent version must be 1..256 bytes";
    return CPC_EINVAL;
  }
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)agent[i] < 0x20 || agent[i] == 0x7f) {
      b->error = "the agent version must be printable";
      return CPC_EINVAL;
    }
  copy = strdup(agent);
  if (!copy)
    return CPC_ENOMEM;
  free(b->agent);
  b->agent = copy;
  return 0;
}

int cpc_net_builder_limits(cpc_net_builder *b, const cpc_net_limits *l) {
  if (l->max_connections == 0 || l->max_streams_per_conn == 0 ||
      l->max_pending_inbound == 0 || l->handshake_timeout_ms == 0 ||
      l->dial_timeout_ms == 0 || l->stream_negotiation_timeout_ms == 0 ||
      l->max_preupgrade_bytes < 4096 || l->stream_write_queue == 0 ||
      l->max_conn_output < 1024u * 1024u || l->max_peers == 0 ||
      l->max_host_socket_output < CPC__NET_INFLIGHT_SLOW) {
    b->error = "a limit is zero or too small";
    return CPC_EINVAL;
  }
  b->lim = *l;
  return 0;
}

int cpc_net_builder_events(cpc_net_builder *b, const cpc_net_events *ev,
                           void *ud) {
  if (ev)
    b->ev = *ev;
  else
    memset(&b->ev, 0, sizeof b->ev);
  b->ev_ud = ud;
  return 0;
}

/* --- settle pass and sweep -------------------------------------------- */

static void settle_cb(uv_idle_t *h) {
  cpc_net *net = h->data;
  unsigned rounds = 0;
  while (!cpc__list_empty(&net->dirty) && rounds++ < 64) {
    struct cpc__list *l = net->dirty.next;
    cpc_net_conn *c = CPC__CONTAINER(l, cpc_net_conn, dlink);
    cpc__list_remove(l);
    c->dirty = 0;
    cpc__conn_service(c);
  }
  if (net->push_pending && !net->closing) {
    net->push_pending = 0;
    cpc__identify_push_all(net);
  }
  while (net->grave) {
    cpc_net_stream *s = net->grave;
    net->grave = s->grave_next;
    cpc__stream_free(s);
  }
  if (cpc__list_empty(&net->dirty) && !net->push_pending)
    uv_idle_stop(&net->settle);
}

void cpc__net_kick(cpc_net *net) {
  if (!uv_is_closing((uv_handle_t *)&net->settle))
    uv_idle_start(&net->settle, settle_cb);
}

uint64_t cpc__net_now(const cpc_net *net) {
  return uv_now(net->loop);
}

static void sweep_cb(uv_timer_t *t) {
  cpc_net *net = t->data;
  uint64_t now = uv_now(net->loop);
  struct cpc__list *l = net->conns.next;
  while (l != &net->conns) {
    cpc_net_conn *c = CPC__CONTAINER(l, cpc_net_conn, link);
    l = l->next; /* conns are freed in close callbacks only */
    cpc__conn_sweep(c, now);
  }
  cpc__conn_wpool_trim(net, 0);
}

/* --- handler table ---------------------------------------------------- */

void cpc__proto_table_unref(struct cpc__proto_table *t) {
  if (!t || --t->refs > 0)
    return;
  for (size_t i = 0; i < t->n; i++)
    free(t->h[i].protocol);
  free(t);
}

/* A new table: t's entries minus `drop` (may be NULL) plus `add` (may be
 * NULL). */
static int table_rebuild(cpc_net *net, const char *drop,
                         const struct cpc__handler *add) {
  struct cpc__proto_table *old = net->table, *t = calloc(1, sizeof *t);
  int rc = 0;
  if (!t)
    return CPC_ENOMEM;
  t->refs = 1;
  for (size_t i = 0; old && i < old->n; i++) {
    const char *p = old->h[i].protocol;
    if ((drop && strcmp(p, drop) == 0) ||
        (add && strcmp(p, add->protocol) == 0))
      continue;
    t->h[t->n] = old->h[i];
    if (!(t->h[t->n].protocol = strdup(p))) {
      rc = CPC_ENOMEM;
      goto out;
    }
    t->names[t->n] = t->h[t->n].protocol;
    t->n++;
  }
  if (add) {
    if (t->n >= CPC_NET_MAX_HANDLERS) {
      rc = CPC_ETOOBIG;
      goto out;
    }
    t->h[t->n] = *add;
    if (!(t->h[t->n].protocol = strdup(add->protocol))) {
      rc = CPC_ENOMEM;
      goto out;
    }
    t->names[t->n] = t->h[t->n].protocol;
    t->n++;
  }
  net->table = t;
  t = NULL;
  cpc__proto_table_unref(old);
out:
  cpc__proto_table_unref(t);
  return rc;
}

static int protocol_ok(const char *p) {
  size_t n = p ? strlen(p) : 0;
  return n > 0 && n <= CPC_NET_MAX_PROTOCOL_LEN && !strchr(p, '\n') &&
         strcmp(p, "na") != 0 && strcmp(p, "ls") != 0;
}

int cpc_net_handle(cpc_net *net, const char *protocol, cpc_net_handler_fn fn,
                   void *ud) {
  struct cpc__handler h;
  int rc;
  if (!protocol_ok(protocol) || !fn)
    return CPC_EINVAL;
  h.protocol = (char *)(uintptr_t)protocol;
  h.fn = fn;
  h.ud = ud;
  rc = table_rebuild(net, NULL, &h);
  if (rc == 0 && net->n_open > 0) {
    net->push_pending = 1;
    cpc__net_kick(net);
  }
  return rc;
}

int cpc_net_unhandle(cpc_net *net, const char *protocol) {
  int found = 0, rc;
  for (size_t i = 0; net->table && i < net->table->n; i++)
    if (strcmp(net->table->h[i].protocol, protocol) == 0)
      found = 1;
  if (!found)
    return CPC_ENOENT;
  rc = table_rebuild(net, protocol, NULL);
  if (rc == 0 && net->n_open > 0) {
    net->push_pending = 1;
    cpc__net_kick(net);
  }
  return rc;
}

/* --- build / close ------------------------------------------------------ */

static uint64_t min_nonzero(uint64_t a, uint64_t b) {
  if (a == 0)
    return b;
  if (b == 0)
    return a;
  return a < b ? a : b;
}

static void net_free(cpc_net *net) {
  cpc__conn_wpool_trim(net, 1);
  cpc__proto_table_unref(net->table);
  cpc__peers_free(&net->peers);
  cpc_privkey_wipe(&net->key);
  free(net->listeners);
  free(net->agent);
  free(net);
}

int cpc_net_builder_build(cpc_net_builder *b, cpc_net **out) {
  cpc_net *net = NULL;
  uint64_t tick;
  int rc;

  *out = NULL;
  b->error = NULL;
  if (!b->tcp) {
    b->error = "no transport: call cpc_net_builder_with_tcp() first";
    return CPC_EINVAL;
  }
  net = calloc(1, sizeof *net);
  if (!net)
    return CPC_ENOMEM;
  net->loop = b->loop;
  net->lim = b->lim;
  net->ev = b->ev;
  net->ev_ud = b->ev_ud;
  cpc__list_init(&net->conns);
  cpc__list_init(&net->dirty);
  net->peers.max = b->lim.max_peers;
  if (b->has_key)
    net->key = b->key;
  else if ((rc = cpc_privkey_generate(CPC_KEY_ED25519, &net->key)) != 0)
    goto fail;
  if ((rc = cpc_peer_id_from_pubkey(&net->key.pub, &net->id)) != 0)
    goto fail;
  net->agent = strdup(b->agent ? b->agent : CPC_NET_DEFAULT_AGENT);
  if (!net->agent) {
    rc = CPC_ENOMEM;
    goto fail;
  }
  if ((rc = cpc__identify_register(net)) != 0 ||
      (rc = cpc__ping_register(net)) != 0 ||
      (rc = cpc__echo_register(net)) != 0)
    goto fail;
  if (b->n_listen > 0) {
    net->listeners = calloc(b->n_listen, sizeof *net->listeners);
    if (!net->listeners) {
      rc = CPC_ENOMEM;
      goto fail;
    }
  }
  uv_idle_init(net->loop, &net->settle);
  net->settle.data = net;
  uv_timer_init(net->loop, &net->sweep);
  net->sweep.data = net;
  cpc__throttle_init(net);
  net->handles = 3;
  tick = min_nonzero(net->lim.handshake_timeout_ms, net->lim.dial_timeout_ms);
  tick = min_nonzero(tick, net->lim.stream_negotiation_timeout_ms);
  tick = min_nonzero(tick, net->lim.idle_timeout_ms);
  tick = min_nonzero(tick, net->lim.keepalive_ms);
  tick /= 4;
  net->sweep_ms = tick < 50 ? 50 : tick > 1000 ? 1000 : tick;
  uv_timer_start(&net->sweep, sweep_cb, net->sweep_ms, net->sweep_ms);
  uv_unref((uv_handle_t *)&net->sweep);
  for (size_t i = 0; i < b->n_listen; i++) {
    rc = cpc__tcp_listen(net, &b->listen[i], b->error_buf, sizeof b->error_buf);
    if (rc != 0) {
      b->error = b->error_buf;
      cpc_net_close(net, NULL, NULL);
      return rc;
    }
  }
  if (b->kad.enabled && (rc = cpc__dht_start(net, &b->kad)) != 0) {
    b->error = "cannot start the Kademlia DHT";
    cpc_net_close(net, NULL, NULL);
    return rc;
  }
  *out = net;
  return 0;
fail:
  net_free(net);
  return rc;
}

int cpc__net_make_room(cpc_net *net) {
  cpc_net_conn *victim = NULL;
  for (struct cpc__list *l = net->conns.next; l != &net->conns; l = l->next) {
    cpc_net_conn *c = CPC__CONTAINER(l, cpc_net_conn, link);
    if (c->state == CPC__CONN_OPEN && !c->closing && c->n_streams == 0 &&
        !c->waiters && (!victim || c->t_active < victim->t_active))
      victim = c;
  }
  if (!victim)
    return 0;
  cpc_net_conn_close(victim);
  return 1;
}

void cpc__net_handle_closed(cpc_net *net) {
  if (--net->handles > 0)
    return;
  if (net->close_cb)
    net->close_cb(net->close_ud);
  while (net->grave) {
    cpc_net_stream *s = net->grave;
    net->grave = s->grave_next;
    cpc__stream_free(s);
  }
  net_free(net);
}

static void handle_closed_cb(uv_handle_t *h) {
  cpc__net_handle_closed(h->data);
}

static void listener_closed_cb(uv_handle_t *h) {
  struct cpc__listener *l = h->data;
  cpc__net_handle_closed(l->net);
}

void cpc_net_close(cpc_net *net, cpc_net_close_cb cb, void *ud) {
  struct cpc__list *l;
  if (!net || net->closing)
    return;
  cpc__dht_stop(net);
  net->closing = 1;
  net->close_cb = cb;
  net->close_ud = ud;
  for (size_t i = 0; i < net->n_listeners; i++)
    if (net->listeners[i].active) {
      net->listeners[i].active = 0;
      uv_close((uv_handle_t *)&net->listeners[i].tcp, listener_closed_cb);
    }
  /* open connections close gracefully (GoAway, output flushed, at most
   * CPC__NET_CLOSE_GRACE_MS); the timers go once the last one is gone */
  for (l = net->conns.next; l != &net->conns; l = l->next)
    cpc_net_conn_close(CPC__CONTAINER(l, cpc_net_conn, link));
  cpc__net_conns_gone(net);
}

void cpc__net_conns_gone(cpc_net *net) {
  if (!net->closing || net->n_conns > 0 || net->timers_closed)
    return;
  net->timers_closed = 1;
  uv_close((uv_handle_t *)&net->sweep, handle_closed_cb);
  uv_close((uv_handle_t *)&net->settle, handle_closed_cb);
  uv_close((uv_handle_t *)&net->throttle, handle_closed_cb);
}

void cpc_net_peer_id(const cpc_net *net, cpc_peer_id *id) {
  *id = net->id;
}

size_t cpc_net_conn_count(const cpc_net *net) {
  return net->n_open;
}

/* Append out[*n] = ma + /p2p/<id> if there is room; always count it. */
static void put_addr(const cpc_net *net, cpc_multiaddr *out, size_t cap,
                     size_t *n, const cpc_multiaddr *ma) {
  if (*n < cap) {
    out[*n] = *ma;
    if (cpc_multiaddr_append_p2p(&out[*n], net->id.bytes, net->id.len) != 0)
      return;
  }
  (*n)++;
}

int cpc_net_listen_addrs(const cpc_net *net, cpc_multiaddr *out, size_t cap,
                         size_t *n) {
  *n = 0;
  for (size_t i = 0; i < net->n_listeners; i++) {
    const struct cpc__listener *l = &net->listeners[i];
    cpc_multiaddr_host h;
    uv_interface_address_t *ifs = NULL;
    int n_ifs = 0;
    if (!l->active || cpc_multiaddr_host_port(&l->addr, &h) != 0)
      continue;
    size_t iplen = h.host_code == CPC_MA_IP4 ? 4 : 16;
    static const uint8_t zero[16];
    if (memcmp(h.ip, zero, iplen) != 0 ||
        uv_interface_addresses(&ifs, &n_ifs) != 0) {
      put_addr(net, out, cap, n, &l->addr);
      continue;
    }
    for (int k = 0; k < n_ifs; k++) {
      cpc_multiaddr ma;
      const struct sockaddr *sa = (const struct sockaddr *)&ifs[k].address;
      int rc;
      if (iplen == 4 && sa->sa_family == AF_INET)
        rc = cpc_multiaddr_from_ip(
            &ma, (const uint8_t *)&ifs[k].address.address4.sin_addr, 4,
            CPC_MA_TCP, h.port);
      else if (iplen == 16 && sa->sa_family == AF_INET6)
        rc = cpc_multiaddr_from_ip(
            &ma, (const uint8_t *)&ifs[k].address.address6.sin6_addr, 16,
            CPC_MA_TCP, h.port);
      else
        continue;
      if (rc == 0)
        put_addr(net, out, cap, n, &ma);
    }
    uv_free_interface_addresses(ifs, n_ifs);
  }
  return 0;
}
