/*
 * server.c: the gRPC server object: configuration, method table, TCP
 * listener and shutdown. Connections are in conn.c, calls in call.c.
 */
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/rpc.h"
#include "rpc/rpc_int.h"

#define MAX_PATH_LEN 1024u

void cpc_rpc_server_config_default(cpc_rpc_server_config *c) {
  memset(c, 0, sizeof *c);
  c->max_connections = 1024;
  c->max_concurrent_streams = 100;
  c->initial_window = 1024u * 1024u;
  c->connection_window = 4u * 1024u * 1024u;
  c->max_header_list = 16u * 1024u;
  c->max_recv_message = CPC_RPC_DEFAULT_MAX_MESSAGE;
  c->max_send_message = CPC_RPC_DEFAULT_MAX_MESSAGE;
  c->call_send_buffer = 256u * 1024u;
  c->conn_send_buffer = 1024u * 1024u;
  c->handshake_timeout_ms = 10000;
}

int cpc_rpc_server_new(cpc_rpc_server **out, uv_loop_t *loop,
                       const cpc_rpc_server_config *cfg) {
  cpc_rpc_server_config d;
  cpc_rpc_server *s;
  if (!out || !loop)
    return CPC_EINVAL;
  *out = NULL;
  cpc_rpc_server_config_default(&d);
  if (cfg) {
    if (cfg->max_connections)
      d.max_connections = cfg->max_connections;
    if (cfg->max_concurrent_streams)
      d.max_concurrent_streams = cfg->max_concurrent_streams;
    if (cfg->initial_window)
      d.initial_window = cfg->initial_window;
    if (cfg->connection_window)
      d.connection_window = cfg->connection_window;
    if (cfg->max_header_list)
      d.max_header_list = cfg->max_header_list;
    if (cfg->max_recv_message)
      d.max_recv_message = cfg->max_recv_message;
    if (cfg->max_send_message)
      d.max_send_message = cfg->max_send_message;
    if (cfg->call_send_buffer)
      d.call_send_buffer = cfg->call_send_buffer;
    if (cfg->conn_send_buffer)
      d.conn_send_buffer = cfg->conn_send_buffer;
    if (cfg->handshake_timeout_ms)
      d.handshake_timeout_ms = cfg->handshake_timeout_ms;
  }
  if (d.max_header_list < 1024 || d.initial_window > NGHTTP2_MAX_WINDOW_SIZE ||
      d.connection_window > NGHTTP2_MAX_WINDOW_SIZE ||
      d.max_recv_message > UINT32_MAX || d.max_send_message > UINT32_MAX)
    return CPC_EINVAL;
  s = calloc(1, sizeof *s);
  if (!s)
    return CPC_ENOMEM;
  s->loop = loop;
  s->cfg = d;
  *out = s;
  return 0;
}

static int valid_path(const char *p) {
  const char *slash;
  size_t n;
  if (!p || p[0] != '/')
    return 0;
  n = strlen(p);
  if (n < 4 || n > MAX_PATH_LEN)
    return 0;
  slash = strchr(p + 1, '/');
  /* "/service/method": non-empty service and method, one inner slash */
  return slash && slash > p + 1 && slash[1] != '\0' && !strchr(slash + 1, '/');
}

static int method_cmp(const void *key, const void *elem) {
  return strcmp((const char *)key, ((const cpc_rpc_method *)elem)->path);
}

int cpc_rpc_server_add_method(cpc_rpc_server *s, const cpc_rpc_method *m) {
  cpc_rpc_method *tab;
  size_t i, cap;
  char *path;
  if (!s || !m || !valid_path(m->path) || !m->on_call)
    return CPC_EINVAL;
  if (m->kind != CPC_RPC_UNARY && m->kind != CPC_RPC_SERVER_STREAM &&
      m->kind != CPC_RPC_CLIENT_STREAM && m->kind != CPC_RPC_BIDI)
    return CPC_EINVAL;
  if ((m->kind == CPC_RPC_CLIENT_STREAM || m->kind == CPC_RPC_BIDI) &&
      (!m->on_message || !m->on_end))
    return CPC_EINVAL;
  if (s->listening || s->closing)
    return CPC_ESTATE;
  if (cpc__rpc_server_find(s, m->path))
    return CPC_EEXIST;
  if (s->n_methods == s->cap_methods) {
    cap = s->cap_methods ? s->cap_methods * 2 : 8;
    tab = realloc(s->methods, cap * sizeof *tab);
    if (!tab)
      return CPC_ENOMEM;
    s->methods = tab;
    s->cap_methods = cap;
  }
  path = strdup(m->path);
  if (!path)
    return CPC_ENOMEM;
  for (i = s->n_methods; i > 0 && strcmp(s->methods[i - 1].path, path) > 0; i--)
    s->methods[i] = s->methods[i - 1];
  s->methods[i] = *m;
  s->methods[i].path = path;
  s->n_methods++;
  return 0;
}

const cpc_rpc_method *cpc__rpc_server_find(const cpc_rpc_server *s,
                                           const char *path) {
  if (!s->n_methods)
    return NULL;
  return bsearch(path, s->methods, s->n_methods, sizeof *s->methods,
                 method_cmp);
}

static void on_connection(uv_stream_t *listener, int status) {
  cpc_rpc_server *s = listener->data;
  if (status < 0 || s->closing)
    return;
  (void)cpc__rpc_conn_accept(s);
}

int cpc_rpc_server_listen(cpc_rpc_server *s, const char *addr, uint16_t port,
                          uint16_t *bound_port) {
  struct sockaddr_storage ss;
  int len = sizeof ss;
  int rc;
  if (!s || !addr)
    return CPC_EINVAL;
  if (s->listening || s->listener_open || s->closing)
    return CPC_ESTATE;
  memset(&ss, 0, sizeof ss);
  if (uv_ip4_addr(addr, port, (struct sockaddr_in *)&ss) != 0 &&
      uv_ip6_addr(addr, port, (struct sockaddr_in6 *)&ss) != 0)
    return CPC_EINVAL;
  if (uv_tcp_init(s->loop, &s->listener) != 0)
    return CPC_EIO;
  s->listener.data = s;
  s->listener_open = 1;
  if (uv_tcp_bind(&s->listener, (const struct sockaddr *)&ss, 0) != 0 ||
      uv_listen((uv_stream_t *)&s->listener, 128, on_connection) != 0) {
    rc = CPC_EIO;
    goto out;
  }
  if (bound_port) {
    if (uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len) != 0) {
      rc = CPC_EIO;
      goto out;
    }
    *bound_port = ss.ss_family == AF_INET6
                      ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                      : ntohs(((struct sockaddr_in *)&ss)->sin_port);
  }
  s->listening = 1;
  return 0;
out:
  /* The handle stays open until close: uv_close is asynchronous. */
  return rc;
}

size_t cpc_rpc_server_connections(const cpc_rpc_server *s) {
  return s ? s->n_conns : 0;
}

static void server_free(cpc_rpc_server *s) {
  void (*done)(void *) = s->done;
  void *ud = s->done_ud;
  size_t i;
  cpc__rpc_health_free(s->health);
  for (i = 0; i < s->n_methods; i++)
    free((char *)s->methods[i].path);
  free(s->methods);
  free(s);
  if (done)
    done(ud);
}

static void maybe_done(cpc_rpc_server *s) {
  if (s->closing && !s->listener_open && s->n_conns == 0)
    server_free(s);
}

static void on_listener_closed(uv_handle_t *h) {
  cpc_rpc_server *s = h->data;
  s->listener_open = 0;
  maybe_done(s);
}

void cpc__rpc_server_conn_freed(cpc_rpc_server *s) {
  s->n_conns--;
  maybe_done(s);
}

void cpc_rpc_server_close(cpc_rpc_server *s, void (*done)(void *ud), void *ud) {
  cpc__rpc_conn *c, *next;
  if (!s || s->closing)
    return;
  s->closing = 1;
  s->done = done;
  s->done_ud = ud;
  s->listening = 0;
  if (s->listener_open)
    uv_close((uv_handle_t *)&s->listener, on_listener_closed);
  for (c = s->conns; c; c = next) {
    next = c->next;
    if (!c->closed && c->h2)
      (void)nghttp2_session_terminate_session(c->h2, NGHTTP2_NO_ERROR);
    cpc__rpc_conn_close(c, 1);
  }
  if (!s->listener_open && s->n_conns == 0)
    server_free(s);
}
