/*
 * client.c: the gRPC client object: configuration, the queue of calls
 * waiting for a stream, deadlines (one timer for every call), delivery of
 * on_done from an idle handle, and the asynchronous close.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/rpc_client.h"
#include "rpc/client_int.h"

#define MAX_WINDOW 0x7fffffffu

void cpc_rpc_client_config_default(cpc_rpc_client_config *c) {
  memset(c, 0, sizeof *c);
  c->connect_timeout_ms = 10000;
  c->initial_window = 1u << 20;
  c->connection_window = 4u << 20;
  c->max_recv_message = CPC_RPC_DEFAULT_MAX_MESSAGE;
  c->max_send_message = CPC_RPC_DEFAULT_MAX_MESSAGE;
  c->call_send_buffer = 256u * 1024u;
  c->max_header_list = 16u * 1024u;
  c->keepalive_ms = 30000;
}

/* Copy cfg over the defaults: zero fields keep the default, except
 * keepalive_ms, where 0 means no keepalive. */
static int config_merge(cpc_rpc_client_config *dst,
                        const cpc_rpc_client_config *cfg) {
  cpc_rpc_client_config_default(dst);
  if (!cfg)
    return 0;
  if (cfg->connect_timeout_ms)
    dst->connect_timeout_ms = cfg->connect_timeout_ms;
  if (cfg->initial_window)
    dst->initial_window = cfg->initial_window;
  if (cfg->connection_window)
    dst->connection_window = cfg->connection_window;
  if (cfg->max_recv_message)
    dst->max_recv_message = cfg->max_recv_message;
  if (cfg->max_send_message)
    dst->max_send_message = cfg->max_send_message;
  if (cfg->call_send_buffer)
    dst->call_send_buffer = cfg->call_send_buffer;
  if (cfg->max_header_list)
    dst->max_header_list = cfg->max_header_list;
  dst->keepalive_ms = cfg->keepalive_ms;
  if (dst->initial_window > MAX_WINDOW || dst->connection_window > MAX_WINDOW ||
      dst->max_header_list < 1024u || dst->max_send_message > UINT32_MAX)
    return CPC_EINVAL;
  return 0;
}

static void on_idle(uv_idle_t *h);
static void on_deadline(uv_timer_t *t);

int cpc_rpc_client_new(cpc_rpc_client **out, uv_loop_t *loop, const char *host,
                       uint16_t port, const cpc_rpc_client_config *cfg) {
  cpc_rpc_client *cl = NULL;
  struct sockaddr_in *v4;
  struct sockaddr_in6 *v6;
  char ip[48];
  const char *zone;
  size_t hlen;
  int rc;
  if (!out || !loop || !host)
    return CPC_EINVAL;
  *out = NULL;
  cl = calloc(1, sizeof *cl);
  if (!cl)
    return CPC_ENOMEM;
  rc = config_merge(&cl->cfg, cfg);
  if (rc != 0)
    goto out;
  rc = CPC_EINVAL;
  hlen = strlen(host);
  if (hlen == 0 || hlen >= sizeof ip)
    goto out;
  v4 = (struct sockaddr_in *)&cl->addr;
  v6 = (struct sockaddr_in6 *)&cl->addr;
  if (uv_ip4_addr(host, port, v4) == 0 && strchr(host, ':') == NULL) {
    snprintf(cl->authority, sizeof cl->authority, "%s:%u", host,
             (unsigned)port);
  } else if (strchr(host, ':') && uv_ip6_addr(host, port, v6) == 0) {
    /* The zone of a link-local address is not part of the authority. */
    zone = strchr(host, '%');
    memcpy(ip, host, zone ? (size_t)(zone - host) : hlen);
    ip[zone ? (size_t)(zone - host) : hlen] = '\0';
    snprintf(cl->authority, sizeof cl->authority, "[%s]:%u", ip,
             (unsigned)port);
  } else {
    goto out;
  }
  cl->loop = loop;
  (void)uv_idle_init(loop, &cl->idle); /* cannot fail */
  (void)uv_timer_init(loop, &cl->deadline);
  cl->idle.data = cl;
  cl->deadline.data = cl;
  cl->handles_open = 2;
  *out = cl;
  return 0;
out:
  free(cl);
  return rc;
}

int cpc_rpc_client_connected(const cpc_rpc_client *cl) {
  return cl && cl->conn && cl->conn->ready && !cl->conn->closed;
}

/* ---- the waiting queue ----------------------------------------------- */

void cpc__rpc_client_pend_push(cpc_rpc_client *cl, cpc_rpc_client_call *call) {
  call->q_next = NULL;
  call->q_prev = cl->pend_tail;
  if (cl->pend_tail)
    cl->pend_tail->q_next = call;
  else
    cl->pend = call;
  cl->pend_tail = call;
  call->state = CPC__CCALL_PENDING;
}

void cpc__rpc_client_pend_remove(cpc_rpc_client *cl,
                                 cpc_rpc_client_call *call) {
  if (call->q_prev)
    call->q_prev->q_next = call->q_next;
  else
    cl->pend = call->q_next;
  if (call->q_next)
    call->q_next->q_prev = call->q_prev;
  else
    cl->pend_tail = call->q_prev;
  call->q_prev = call->q_next = NULL;
}

void cpc__rpc_client_dispatch(cpc_rpc_client *cl) {
  cpc_rpc_client_call *call;
  if (cl->closing || !cl->pend)
    return;
  if (!cl->conn) {
    if (cpc__rpc_cconn_open(cl) != 0)
      while ((call = cl->pend) != NULL)
        cpc__rpc_ccall_end(call, CPC_RPC_UNAVAILABLE,
                           "out of memory for a connection");
    return;
  }
  if (cl->conn->ready)
    cpc__rpc_cconn_flush(cl->conn);
}

/* ---- deadlines -------------------------------------------------------- */

void cpc__rpc_client_arm_deadline(cpc_rpc_client *cl) {
  cpc_rpc_client_call *call;
  uint64_t first = 0, now;
  if (cl->closing_handles)
    return;
  for (call = cl->calls; call; call = call->all_next)
    if (call->state != CPC__CCALL_ENDED && call->deadline_ms &&
        (first == 0 || call->deadline_ms < first))
      first = call->deadline_ms;
  if (first == 0) {
    uv_timer_stop(&cl->deadline);
    return;
  }
  now = uv_now(cl->loop);
  (void)uv_timer_start(&cl->deadline, on_deadline, first > now ? first - now : 0,
                       0);
}

static void on_deadline(uv_timer_t *t) {
  cpc_rpc_client *cl = t->data;
  cpc_rpc_client_call *call;
  uint64_t now = uv_now(cl->loop);
  /* Ending a call never frees it, so the walk is safe; calls started
   * from callbacks run meanwhile are appended and checked too. */
  for (call = cl->calls; call; call = call->all_next)
    if (call->state != CPC__CCALL_ENDED && call->deadline_ms &&
        call->deadline_ms <= now)
      cpc__rpc_ccall_end(call, CPC_RPC_DEADLINE_EXCEEDED, "Deadline Exceeded");
  cpc__rpc_client_arm_deadline(cl);
}

/* ---- on_done delivery and close -------------------------------------- */

void cpc__rpc_client_queue_done(cpc_rpc_client *cl, cpc_rpc_client_call *call) {
  call->done_next = NULL;
  if (cl->done_tail)
    cl->done_tail->done_next = call;
  else
    cl->done = call;
  cl->done_tail = call;
  if (!cl->closing_handles)
    (void)uv_idle_start(&cl->idle, on_idle);
}

static void on_handle_closed(uv_handle_t *h) {
  cpc_rpc_client *cl = h->data;
  void (*done)(void *);
  void *ud;
  if (!cl || --cl->handles_open > 0)
    return;
  done = cl->close_done;
  ud = cl->close_ud;
  free(cl);
  if (done)
    done(ud);
}

/* The last step of a close: nothing left but our two handles. */
static void maybe_finish_close(cpc_rpc_client *cl) {
  if (!cl->closing || cl->closing_handles || cl->calls || cl->conns ||
      cl->done)
    return;
  cl->closing_handles = 1;
  uv_idle_stop(&cl->idle);
  uv_timer_stop(&cl->deadline);
  uv_close((uv_handle_t *)&cl->idle, on_handle_closed);
  uv_close((uv_handle_t *)&cl->deadline, on_handle_closed);
}

static void on_idle(uv_idle_t *h) {
  cpc_rpc_client *cl = h->data;
  cpc_rpc_client_call *call;
  int had_deadline = 0;
  while ((call = cl->done) != NULL) {
    cl->done = call->done_next;
    if (!cl->done)
      cl->done_tail = NULL;
    call->done_next = NULL;
    call->cb.on_done(call, call->status, call->message ? call->message : "",
                     call->ud);
    had_deadline |= call->deadline_ms != 0;
    cpc__rpc_ccall_free(call);
  }
  uv_idle_stop(&cl->idle);
  /* A finished call's deadline must not keep the timer (and the loop). */
  if (had_deadline)
    cpc__rpc_client_arm_deadline(cl);
  maybe_finish_close(cl);
}

void cpc__rpc_client_conn_freed(cpc_rpc_client *cl) {
  maybe_finish_close(cl);
}

void cpc_rpc_client_close(cpc_rpc_client *cl, void (*done)(void *ud),
                          void *ud) {
  cpc_rpc_client_call *call;
  cpc__rpc_cconn *c, *next;
  if (!cl || cl->closing)
    return;
  cl->closing = 1;
  cl->close_done = done;
  cl->close_ud = ud;
  for (call = cl->calls; call; call = call->all_next)
    cpc__rpc_ccall_end(call, CPC_RPC_CANCELLED, "client closed");
  cl->conn = NULL;
  for (c = cl->conns; c; c = next) {
    next = c->next;
    cpc__rpc_cconn_close(c);
  }
  maybe_finish_close(cl);
}
