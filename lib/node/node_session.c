/*
 * node_session.c: the node's session with the orchestrator's NodeService
 * (docs/node-rpc.md). RegisterNode with the signed commitment, then a
 * Heartbeat on the interval the orchestrator gives, the WorkStream (its
 * orders go to node_work.c) and a StreamMetrics client stream sampled
 * every metrics_interval_ms. Every call is signed with the node key. When
 * the orchestrator is away (registration fails, the work stream ends) the
 * session starts again after an exponential back-off with jitter, capped
 * at reconnect_max_ms; the node keeps serving Bitswap meanwhile.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cpc/error.h"
#include "cpc/orchestrator/v1/node.pb-c.h"
#include "node/node_int.h"

enum { S_IDLE = 0, S_REGISTERING = 1, S_READY = 2 };

typedef struct sess_call {
  cpc_node *n;
  uint64_t gen;
  int got_reply;
  uint32_t state, interval;
  char reason[256];
  cpc_rpc_client_callbacks user; /* for cpc__session_unary (a copy) */
  void *user_ud;
} sess_call;

static const char *state_name(int s) {
  switch (s) {
  case 1: return "vetting";
  case 2: return "active";
  case 3: return "offline";
  case 4: return "disqualified";
  case 5: return "left";
  default: return "unknown";
  }
}

int cpc__session_ready(const cpc_node *n) {
  return n->rpc && n->sess_state == S_READY;
}

static sess_call *call_new(cpc_node *n) {
  sess_call *c = calloc(1, sizeof *c);
  if (c) {
    c->n = n;
    c->gen = n->session_gen;
  }
  return c;
}

static int current(const sess_call *c) {
  return !c->n->closing && c->gen == c->n->session_gen;
}

/* Start a signed call of method (the body is what is signed). */
static int start_call(cpc_node *n, const char *method, enum cpc_rpc_kind kind,
                      const uint8_t *body, size_t len, uint64_t timeout_ms,
                      const cpc_rpc_client_callbacks *cb, void *ud,
                      cpc_rpc_client_call **out) {
  char path[128];
  cpc__call_auth a;
  int rc;
  if (!n->rpc)
    return CPC_ESTATE;
  snprintf(path, sizeof path, "%s%s", CPC__NODE_SVC, method);
  rc = cpc__node_call_auth(n, path, kind == CPC_RPC_CLIENT_STREAM ? NULL : body,
                           kind == CPC_RPC_CLIENT_STREAM ? 0 : len, &a);
  if (rc != 0)
    return rc;
  if (kind == CPC_RPC_UNARY)
    return cpc_rpc_client_unary(n->rpc, path, a.md, 3, body, len, timeout_ms,
                                cb, ud, out);
  rc = cpc_rpc_client_start(n->rpc, path, kind, a.md, 3, timeout_ms, cb, ud,
                            out);
  if (rc == 0 && kind == CPC_RPC_SERVER_STREAM) {
    (void)cpc_rpc_client_call_send(*out, body, len);
    (void)cpc_rpc_client_call_close_send(*out);
  }
  return rc;
}

/* ---- generic unary calls for node_work.c ---------------------------------- */

static void unary_message(cpc_rpc_client_call *call, const uint8_t *msg,
                          size_t len, void *ud) {
  sess_call *c = ud;
  if (c->user.on_message && !c->n->closing)
    c->user.on_message(call, msg, len, c->user_ud);
}

static void unary_done(cpc_rpc_client_call *call, int status,
                       const char *message, void *ud) {
  sess_call *c = ud;
  cpc_rpc_client_callbacks u = c->user;
  void *uud = c->user_ud;
  free(c);
  u.on_done(call, status, message, uud);
}

int cpc__session_unary(cpc_node *n, const char *method, const uint8_t *body,
                       size_t len, const cpc_rpc_client_callbacks *cb,
                       void *ud) {
  static const cpc_rpc_client_callbacks wrap = {unary_message, NULL,
                                                unary_done};
  cpc_rpc_client_call *call;
  sess_call *c;
  int rc;
  if (!cpc__session_ready(n))
    return CPC_ESTATE;
  c = call_new(n);
  if (!c)
    return CPC_ENOMEM;
  c->user = *cb;
  c->user_ud = ud;
  rc = start_call(n, method, CPC_RPC_UNARY, body, len,
                  CPC__NODE_CALL_TIMEOUT_MS, &wrap, c, &call);
  if (rc != 0)
    free(c);
  return rc;
}

/* ---- back-off ------------------------------------------------------------------ */

static void do_register(uv_timer_t *t);

static void end_streams(cpc_node *n) {
  uv_timer_stop(&n->heartbeat_timer);
  uv_timer_stop(&n->metrics_timer);
  n->session_gen++; /* callbacks of the old session become no-ops */
  if (n->work_call) {
    cpc_rpc_client_call *c = n->work_call;
    n->work_call = NULL;
    cpc_rpc_client_call_cancel(c);
  }
  if (n->metrics_call) {
    cpc_rpc_client_call *c = n->metrics_call;
    n->metrics_call = NULL;
    cpc_rpc_client_call_cancel(c);
  }
}

static void schedule_reconnect(cpc_node *n, const char *why) {
  uint64_t delay, base = n->cfg.reconnect_min_ms;
  uint32_t i;
  if (n->closing)
    return;
  if (n->sess_state == S_READY)
    cpc_metrics_gauge_set(n->m.orch_connected, 0);
  end_streams(n);
  n->sess_state = S_IDLE;
  for (i = 0, delay = base; i < n->attempts && delay < n->cfg.reconnect_max_ms;
       i++)
    delay *= 2;
  if (delay > n->cfg.reconnect_max_ms)
    delay = n->cfg.reconnect_max_ms;
  /* jitter: half fixed, half random */
  delay = delay / 2 + randombytes_uniform((uint32_t)(delay / 2 + 1));
  n->attempts++;
  cpc__node_logf(n, "orchestrator %s: %s; retrying in %" PRIu64 " ms",
                 n->cfg.orchestrator, why, delay);
  uv_timer_start(&n->reconnect_timer, do_register, delay, 0);
}

/* ---- heartbeat ------------------------------------------------------------------ */

static void on_state(cpc_node *n, uint32_t state, const char *reason) {
  if ((int)state != n->node_state) {
    cpc__node_logf(n, "node state: %s -> %s%s%s", state_name(n->node_state),
                   state_name((int)state), reason && *reason ? ": " : "",
                   reason ? reason : "");
    n->node_state = (int)state;
  }
}

static void hb_message(cpc_rpc_client_call *call, const uint8_t *msg,
                       size_t len, void *ud) {
  sess_call *c = ud;
  Cpc__Orchestrator__V1__HeartbeatReply *r;
  (void)call;
  if (!current(c))
    return;
  r = cpc__orchestrator__v1__heartbeat_reply__unpack(NULL, len, msg);
  if (!r)
    return;
  on_state(c->n, r->state, r->reason);
  if (r->heartbeat_interval_ms >= 100 &&
      r->heartbeat_interval_ms != c->n->heartbeat_ms) {
    c->n->heartbeat_ms = r->heartbeat_interval_ms;
    uv_timer_set_repeat(&c->n->heartbeat_timer, c->n->heartbeat_ms);
  }
  cpc__orchestrator__v1__heartbeat_reply__free_unpacked(r, NULL);
}

static void hb_done(cpc_rpc_client_call *call, int status, const char *message,
                    void *ud) {
  sess_call *c = ud;
  (void)call;
  if (current(c) && status == CPC_RPC_PERMISSION_DENIED &&
      strstr(message, "not registered"))
    schedule_reconnect(c->n, "it no longer knows this node");
  else if (current(c) && status != CPC_RPC_OK)
    cpc__node_logf(c->n, "heartbeat refused: %s", message);
  free(c);
}

static void send_heartbeat(cpc_node *n) {
  static const cpc_rpc_client_callbacks cb = {hb_message, NULL, hb_done};
  Cpc__Orchestrator__V1__HeartbeatRequest r =
      CPC__ORCHESTRATOR__V1__HEARTBEAT_REQUEST__INIT;
  uint8_t buf[128];
  uint64_t used = 0, blocks = 0;
  size_t len;
  sess_call *c;
  cpc__node_usage(n, &used, &blocks);
  r.used_bytes = used;
  r.free_bytes = used + n->reserved < n->cfg.capacity
                     ? n->cfg.capacity - used - n->reserved
                     : 0;
  r.blocks_held = blocks;
  r.work_in_progress = (uint32_t)cpc__work_pending(n);
  len = cpc__orchestrator__v1__heartbeat_request__get_packed_size(&r);
  cpc__orchestrator__v1__heartbeat_request__pack(&r, buf);
  c = call_new(n);
  if (!c)
    return;
  if (start_call(n, "Heartbeat", CPC_RPC_UNARY, buf, len,
                 CPC__NODE_CALL_TIMEOUT_MS, &cb, c, NULL) != 0)
    free(c);
}

static void on_heartbeat_timer(uv_timer_t *t) { send_heartbeat(t->data); }

/* ---- work stream ------------------------------------------------------------------- */

static void ws_message(cpc_rpc_client_call *call, const uint8_t *msg,
                       size_t len, void *ud) {
  sess_call *c = ud;
  (void)call;
  if (current(c))
    cpc__work_on_message(c->n, msg, len);
}

static void ws_done(cpc_rpc_client_call *call, int status, const char *message,
                    void *ud) {
  sess_call *c = ud;
  cpc_node *n = c->n;
  char why[300];
  (void)call;
  if (current(c)) {
    n->work_call = NULL;
    snprintf(why, sizeof why, "work stream ended (%s: %s)",
             cpc_rpc_status_name(status), message);
    schedule_reconnect(n, why);
  }
  free(c);
}

static void open_work_stream(cpc_node *n) {
  static const cpc_rpc_client_callbacks cb = {ws_message, NULL, ws_done};
  sess_call *c = call_new(n);
  int rc;
  if (!c)
    return;
  rc = start_call(n, "WorkStream", CPC_RPC_SERVER_STREAM, NULL, 0, 0, &cb, c,
                  &n->work_call);
  if (rc != 0) {
    free(c);
    n->work_call = NULL;
    schedule_reconnect(n, "cannot open the work stream");
  }
}

/* ---- metrics stream --------------------------------------------------------------------- */

static void ms_done(cpc_rpc_client_call *call, int status, const char *message,
                    void *ud) {
  sess_call *c = ud;
  (void)call;
  if (current(c)) {
    c->n->metrics_call = NULL;
    if (status != CPC_RPC_OK)
      cpc__node_logf(c->n, "metrics stream ended (%s: %s); reopening",
                     cpc_rpc_status_name(status), message);
  }
  free(c);
}

static void open_metrics_stream(cpc_node *n) {
  static const cpc_rpc_client_callbacks cb = {NULL, NULL, ms_done};
  sess_call *c = call_new(n);
  if (!c)
    return;
  if (start_call(n, "StreamMetrics", CPC_RPC_CLIENT_STREAM, NULL, 0, 0, &cb, c,
                 &n->metrics_call) != 0) {
    free(c);
    n->metrics_call = NULL;
  }
}

static void on_metrics_timer(uv_timer_t *t) {
  cpc_node *n = t->data;
  uint8_t *msg = NULL;
  size_t len = 0;
  if (!cpc__session_ready(n))
    return;
  if (!n->metrics_call) {
    open_metrics_stream(n);
    if (!n->metrics_call)
      return;
  }
  if (cpc__metrics_sample(n, &msg, &len) == 0)
    (void)cpc_rpc_client_call_send(n->metrics_call, msg, len);
  free(msg);
}

/* ---- registration ---------------------------------------------------------------------- */

static void ready(cpc_node *n, const sess_call *c) {
  n->sess_state = S_READY;
  n->attempts = 0;
  n->heartbeat_ms = c->interval >= 100 ? c->interval : 10000;
  cpc_metrics_gauge_set(n->m.orch_connected, 1);
  cpc__node_logf(n, "registered with the orchestrator at %s as %s: %s%s%s; "
                    "heartbeat every %u ms",
                 n->cfg.orchestrator, n->id_text, state_name((int)c->state),
                 c->reason[0] ? " (" : "", c->reason[0] ? c->reason : "",
                 n->heartbeat_ms);
  n->node_state = (int)c->state;
  send_heartbeat(n);
  uv_timer_start(&n->heartbeat_timer, on_heartbeat_timer, n->heartbeat_ms,
                 n->heartbeat_ms);
  open_work_stream(n);
  if (n->sess_state != S_READY)
    return;
  open_metrics_stream(n);
  uv_timer_start(&n->metrics_timer, on_metrics_timer,
                 n->cfg.metrics_interval_ms, n->cfg.metrics_interval_ms);
  cpc__work_flush(n);
}

static void reg_message(cpc_rpc_client_call *call, const uint8_t *msg,
                        size_t len, void *ud) {
  sess_call *c = ud;
  Cpc__Orchestrator__V1__RegisterReply *r;
  (void)call;
  r = cpc__orchestrator__v1__register_reply__unpack(NULL, len, msg);
  if (!r)
    return;
  c->got_reply = 1;
  c->state = r->state;
  c->interval = r->heartbeat_interval_ms;
  snprintf(c->reason, sizeof c->reason, "%s", r->reason ? r->reason : "");
  cpc__orchestrator__v1__register_reply__free_unpacked(r, NULL);
}

static void reg_done(cpc_rpc_client_call *call, int status, const char *message,
                     void *ud) {
  sess_call *c = ud;
  cpc_node *n = c->n;
  char why[400];
  (void)call;
  if (current(c)) {
    if (status == CPC_RPC_OK && c->got_reply) {
      ready(n, c);
    } else {
      if (status == CPC_RPC_UNAUTHENTICATED ||
          status == CPC_RPC_PERMISSION_DENIED ||
          status == CPC_RPC_INVALID_ARGUMENT ||
          status == CPC_RPC_FAILED_PRECONDITION) {
        snprintf(why, sizeof why, "registration refused (%s: %s)",
                 cpc_rpc_status_name(status), message);
        n->attempts += 4; /* do not hammer an orchestrator that says no */
      } else {
        snprintf(why, sizeof why, "unavailable (%s: %s)",
                 cpc_rpc_status_name(status), message);
      }
      schedule_reconnect(n, why);
    }
  }
  free(c);
}

static void do_register(uv_timer_t *t) {
  static const cpc_rpc_client_callbacks cb = {reg_message, NULL, reg_done};
  cpc_node *n = t->data;
  uint8_t *body = NULL;
  size_t len = 0;
  sess_call *c;
  int rc;
  if (n->closing)
    return;
  n->session_gen++;
  n->sess_state = S_REGISTERING;
  rc = cpc__node_commitment(n, &body, &len);
  if (rc != 0) {
    schedule_reconnect(n, "cannot build the commitment");
    return;
  }
  c = call_new(n);
  if (!c) {
    free(body);
    schedule_reconnect(n, "out of memory");
    return;
  }
  rc = start_call(n, "RegisterNode", CPC_RPC_UNARY, body, len,
                  CPC__NODE_CALL_TIMEOUT_MS, &cb, c, NULL);
  free(body);
  if (rc != 0) {
    free(c);
    schedule_reconnect(n, cpc_strerror(rc));
  }
}

int cpc__session_start(cpc_node *n) {
  cpc_rpc_client_config cc;
  int rc;
  uv_timer_init(n->loop, &n->reconnect_timer);
  uv_timer_init(n->loop, &n->heartbeat_timer);
  uv_timer_init(n->loop, &n->metrics_timer);
  n->reconnect_timer.data = n->heartbeat_timer.data = n->metrics_timer.data = n;
  if (!n->cfg.orchestrator[0])
    return 0;
  rc = cpc__node_parse_hostport(n->cfg.orchestrator, n->orch_host,
                                sizeof n->orch_host, &n->orch_port);
  if (rc != 0)
    return rc;
  cpc_rpc_client_config_default(&cc);
  cc.connect_timeout_ms = 5000;
  cc.keepalive_ms = 10000;
  cc.max_recv_message = CPC__NODE_MAX_WORK_MSG;
  rc = cpc_rpc_client_new(&n->rpc, n->loop, n->orch_host, n->orch_port, &cc);
  if (rc != 0)
    return rc;
  cpc__node_logf(n, "connecting to the orchestrator at %s",
                 n->cfg.orchestrator);
  uv_timer_start(&n->reconnect_timer, do_register, 0, 0);
  return 0;
}

static void rpc_closed(void *ud) {
  cpc_node *n = ud;
  cpc__node_pending_done(n);
}

void cpc__session_stop(cpc_node *n) {
  uv_timer_stop(&n->reconnect_timer);
  end_streams(n);
  n->sess_state = S_IDLE;
  if (n->rpc) {
    cpc_rpc_client *cl = n->rpc;
    n->rpc = NULL;
    n->close_pending++;
    cpc_rpc_client_close(cl, rpc_closed, n);
  }
}
