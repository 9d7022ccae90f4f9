/*
 * node_service.c: cpc.orchestrator.v1.NodeService over the libcpc gRPC
 * server. Each call is authenticated (node_auth.c), checked against the
 * node's registration, then handed to the store layer; WorkStream keeps
 * one open stream per node and sends it queued work (docs/node-rpc.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "cpc/cid.h"
#include "cpc/error.h"
#include "cpc/orchestrator/v1/node.pb-c.h"
#include "orchestrator/orchestrator_int.h"

#define PKG "/cpc.orchestrator.v1.NodeService/"
#define DISPATCH_BATCH 16
#define MAX_SOURCES 16
/* An open stream's drop orders are looked at this often (and at once
 * again while a look finds a full batch). */
#define DROP_CHECK_MS 30000

typedef struct work_stream {
  struct work_stream *next;
  cpc__node_service *svc;
  cpc_rpc_call *call;
  char peer_id[CPC_PEER_ID_MAX_TEXT];
  int64_t drops_at; /* next look at the node's drop orders (0: at once) */
} work_stream;

struct cpc__node_service {
  cpc__orch_core *core;
  work_stream *streams;
};

typedef struct metrics_call {
  char peer_id[CPC_PEER_ID_MAX_TEXT];
  uint32_t samples;
  uint64_t sent, received;
} metrics_call;

/* The identity of an authenticated caller. */
typedef struct caller {
  cpc_peer_id id;
  cpc_pubkey pk;
  char peer_id[CPC_PEER_ID_MAX_TEXT];
  cpc__node_status st;
} caller;

static cpc__node_service *svc_of(cpc_rpc_call *call) {
  return cpc_rpc_call_method_data(call);
}

static void count_bytes(cpc__node_service *svc, size_t n) {
  if (svc->core->metrics)
    atomic_fetch_add(&svc->core->metrics->bytes, (uint64_t)n);
}

static void finish(cpc_rpc_call *call, int status, const char *msg) {
  cpc__node_service *svc = svc_of(call);
  const char *path = cpc_rpc_call_path(call);
  const char *method = path ? strrchr(path, '/') : NULL;
  cpc__orch_metrics_grpc(svc->core->metrics, method ? method + 1 : "?", status);
  (void)cpc_rpc_call_finish(call, status, msg);
}

static void reply(cpc_rpc_call *call, const ProtobufCMessage *m) {
  int rc;
  count_bytes(svc_of(call), protobuf_c_message_get_packed_size(m));
  rc = cpc_rpc_call_send_pb(call, m);
  finish(call, rc == 0 ? CPC_RPC_OK : CPC_RPC_INTERNAL,
         rc == 0 ? NULL : cpc_strerror(rc));
}

static int status_of(int rc) {
  switch (rc) {
  case CPC_ENOENT: return CPC_RPC_NOT_FOUND;
  case CPC_EMALFORMED:
  case CPC_EINVAL:
  case CPC_ETOOBIG:
  case CPC_EMISMATCH:
  case CPC_EUNSUPPORTED: return CPC_RPC_INVALID_ARGUMENT;
  case CPC_EPERM: return CPC_RPC_PERMISSION_DENIED;
  case CPC_ESTATE: return CPC_RPC_FAILED_PRECONDITION;
  case CPC_EAGAIN:
  case CPC_EIO:
  case CPC_ETIMEDOUT: /* a statement timeout; stale signatures are
                         answered where they are checked */
    return CPC_RPC_UNAVAILABLE;
  case CPC_EBADSIG: return CPC_RPC_UNAUTHENTICATED;
  default: return CPC_RPC_INTERNAL;
  }
}

static int node_state_pb(int state) { return state + 1; }

/*
 * Authenticate the call and, unless registering, check the registration:
 * unknown node or another key → PERMISSION_DENIED; disqualified or left
 * → PERMISSION_DENIED unless allow_retired. Finishes the call and returns
 * nonzero on failure.
 */
static int authenticate(cpc_rpc_call *call, const uint8_t *body, size_t len,
                        int registering, int allow_retired, caller *who) {
  cpc__node_service *svc = svc_of(call);
  char why[CPC__MAX_REASON + 64];
  int rc;
  count_bytes(svc, len);
  rc = cpc__rpc_auth_check(cpc_rpc_call_path(call),
                           cpc_rpc_call_metadata(call, "x-cpc-node-id"),
                           cpc_rpc_call_metadata(call, "x-cpc-timestamp"),
                           cpc_rpc_call_metadata(call, "x-cpc-signature"),
                           body, len, cpc__orch_now_ms(),
                           svc->core->sched.clock_skew_ms, &who->id, &who->pk,
                           why, sizeof why);
  if (rc == 0)
    rc = cpc_peer_id_format(&who->id, who->peer_id, sizeof who->peer_id);
  if (rc != 0) {
    finish(call, CPC_RPC_UNAUTHENTICATED, why);
    return 1;
  }
  if (registering)
    return 0;
  rc = cpc__orch_node_lookup(svc->core, who->peer_id, &who->pk, &who->st);
  if (rc == CPC_ENOENT) {
    finish(call, CPC_RPC_PERMISSION_DENIED,
           "node not registered: call Register first");
    return 1;
  }
  if (rc == CPC_EPERM) {
    finish(call, CPC_RPC_PERMISSION_DENIED,
           "node key does not match the registered node");
    return 1;
  }
  if (rc != 0) {
    finish(call, status_of(rc), cpc_strerror(rc));
    return 1;
  }
  if (!allow_retired && (who->st.state == CPC__NODE_DISQUALIFIED ||
                         who->st.state == CPC__NODE_LEFT)) {
    snprintf(why, sizeof why, "node is %s: %s",
             who->st.state == CPC__NODE_LEFT ? "gone" : "disqualified",
             who->st.reason);
    finish(call, CPC_RPC_PERMISSION_DENIED, why);
    return 1;
  }
  return 0;
}

/* ---- Register, Heartbeat -------------------------------------------------- */

static void on_register(cpc_rpc_call *call, const uint8_t *msg, size_t len) {
  cpc__node_service *svc = svc_of(call);
  Cpc__Orchestrator__V1__RegisterReply r = CPC__ORCHESTRATOR__V1__REGISTER_REPLY__INIT;
  cpc__commitment c;
  cpc__node_status st;
  char why[CPC__MAX_REASON];
  caller who;
  int rc;

  if (authenticate(call, msg, len, 1, 1, &who))
    return;
  rc = cpc__commitment_verify(msg, len, cpc__orch_now_ms(),
                              svc->core->sched.clock_skew_ms, &c, why,
                              sizeof why);
  if (rc != 0) {
    finish(call,
           rc == CPC_EBADSIG || rc == CPC_ETIMEDOUT ? CPC_RPC_UNAUTHENTICATED
                                                    : status_of(rc),
           why);
    return;
  }
  if (!cpc_peer_id_equal(&c.id, &who.id)) {
    cpc__commitment_clear(&c);
    finish(call, CPC_RPC_PERMISSION_DENIED,
           "the commitment is for another node key than x-cpc-node-id");
    return;
  }
  rc = cpc__orch_node_register(svc->core, &c, msg, len, cpc__orch_now_ms(),
                               &st);
  cpc__commitment_clear(&c);
  if (rc == CPC_ESTATE) {
    finish(call, CPC_RPC_FAILED_PRECONDITION,
           "commitment older than the one registered");
    return;
  }
  if (rc != 0) {
    finish(call, status_of(rc), cpc_strerror(rc));
    return;
  }
  r.state = node_state_pb(st.state);
  r.reason = st.reason;
  r.heartbeat_interval_ms = (uint32_t)svc->core->sched.heartbeat_interval_ms;
  r.peer_id = who.peer_id;
  reply(call, &r.base);
}

static void on_heartbeat(cpc_rpc_call *call, const uint8_t *msg, size_t len) {
  cpc__node_service *svc = svc_of(call);
  Cpc__Orchestrator__V1__HeartbeatRequest *req;
  Cpc__Orchestrator__V1__HeartbeatReply r = CPC__ORCHESTRATOR__V1__HEARTBEAT_REPLY__INIT;
  cpc__node_status st;
  caller who;
  int rc;

  if (authenticate(call, msg, len, 0, 1, &who))
    return;
  req = cpc__orchestrator__v1__heartbeat_request__unpack(NULL, len, msg);
  if (!req) {
    finish(call, CPC_RPC_INVALID_ARGUMENT, "malformed HeartbeatRequest");
    return;
  }
  rc = cpc__orch_node_heartbeat(svc->core, who.peer_id, req->used_bytes,
                                req->free_bytes, cpc__orch_now_ms(), &st);
  cpc__orchestrator__v1__heartbeat_request__free_unpacked(req, NULL);
  if (rc != 0) {
    finish(call, status_of(rc), cpc_strerror(rc));
    return;
  }
  r.state = node_state_pb(st.state);
  r.reason = st.reason;
  r.heartbeat_interval_ms = (uint32_t)svc->core->sched.heartbeat_interval_ms;
  reply(call, &r.base);
}

/* ---- WorkStream ---------------------------------------------------------------- */

typedef struct work_pb {
  Cpc__Orchestrator__V1__Work w;
  Cpc__Orchestrator__V1__Replicate rep;
  Cpc__Orchestrator__V1__Delete del;
  Cpc__Orchestrator__V1__Audit aud;
  Cpc__Orchestrator__V1__Source src[MAX_SOURCES];
  Cpc__Orchestrator__V1__Source *srcp[MAX_SOURCES];
  char **addrs[MAX_SOURCES];
  uint8_t nonce[CPC__AUDIT_NONCE_LEN];
  json_t *detail;
} work_pb;

static void work_pb_free(work_pb *p) {
  size_t i;
  for (i = 0; i < MAX_SOURCES; i++)
    free(p->addrs[i]);
  json_decref(p->detail);
}

/* Build the Work message of w (strings borrowed from w and p->detail). */
static int work_pb_build(work_pb *p, cpc__work_item *w) {
  json_error_t e;
  memset(p, 0, sizeof *p);
  cpc__orchestrator__v1__work__init(&p->w);
  p->w.work_id = (uint64_t)w->work_id;
  p->w.deadline_ms = (uint64_t)w->deadline;
  p->detail = json_loads(w->detail, 0, &e);
  if (!json_is_object(p->detail))
    return CPC_EMALFORMED;
  if (w->kind == CPC__WORK_REPLICATE) {
    json_t *srcs = json_object_get(p->detail, "sources"), *s;
    size_t i, n = 0;
    cpc__orchestrator__v1__replicate__init(&p->rep);
    p->rep.cid = w->cid;
    p->rep.size = (uint64_t)json_integer_value(json_object_get(p->detail, "size"));
    json_array_foreach(srcs, i, s) {
      json_t *addrs = json_object_get(s, "addrs"), *a;
      size_t k, m = 0;
      if (n == MAX_SOURCES)
        break;
      cpc__orchestrator__v1__source__init(&p->src[n]);
      p->src[n].peer_id =
          (char *)(json_string_value(json_object_get(s, "peer_id")) ?: "");
      p->addrs[n] = calloc(json_array_size(addrs) + 1, sizeof(char *));
      if (!p->addrs[n])
        return CPC_ENOMEM;
      json_array_foreach(addrs, k, a) if (json_is_string(a)) p->addrs[n][m++] =
          (char *)json_string_value(a);
      p->src[n].addrs = p->addrs[n];
      p->src[n].n_addrs = m;
      p->srcp[n] = &p->src[n];
      n++;
    }
    p->rep.sources = p->srcp;
    p->rep.n_sources = n;
    p->w.kind_case = CPC__ORCHESTRATOR__V1__WORK__KIND_REPLICATE;
    p->w.replicate = &p->rep;
  } else if (w->kind == CPC__WORK_DELETE) {
    cpc__orchestrator__v1__delete__init(&p->del);
    p->del.cid = w->cid;
    p->w.kind_case = CPC__ORCHESTRATOR__V1__WORK__KIND_DELETE;
    p->w.delete_ = &p->del;
  } else if (w->kind == CPC__WORK_AUDIT) {
    const char *hex = json_string_value(json_object_get(p->detail, "nonce"));
    size_t nlen = 0;
    if (!hex || sodium_hex2bin(p->nonce, sizeof p->nonce, hex, strlen(hex),
                               NULL, &nlen, NULL) != 0 ||
        nlen != sizeof p->nonce)
      return CPC_EMALFORMED;
    cpc__orchestrator__v1__audit__init(&p->aud);
    p->aud.audit_id = (uint64_t)w->work_id;
    p->aud.cid = w->cid;
    p->aud.offset =
        (uint64_t)json_integer_value(json_object_get(p->detail, "offset"));
    p->aud.length =
        (uint64_t)json_integer_value(json_object_get(p->detail, "length"));
    p->aud.nonce.data = p->nonce;
    p->aud.nonce.len = sizeof p->nonce;
    p->w.kind_case = CPC__ORCHESTRATOR__V1__WORK__KIND_AUDIT;
    p->w.audit = &p->aud;
  } else {
    return CPC_EMALFORMED;
  }
  return 0;
}

/* Send e's node as much queued work as its stream takes. */
static void pump(work_stream *e, int64_t now) {
  cpc__node_service *svc = e->svc;
  cpc__work_item items[DISPATCH_BATCH];
  size_t n, i;
  int rc;
  if (now >= e->drops_at) { /* drop orders become delete work first */
    size_t batch = svc->core->sched.batch, looked = 0;
    if (cpc__orch_drops_release(svc->core, e->peer_id, now, batch, &looked,
                                NULL) != 0 ||
        looked < batch)
      e->drops_at = now + DROP_CHECK_MS;
  }
  while (cpc_rpc_call_writable(e->call)) {
    memset(items, 0, sizeof items);
    if (cpc__orch_work_claim(svc->core, e->peer_id, now, items, DISPATCH_BATCH,
                             &n) != 0 ||
        n == 0)
      return;
    for (i = 0; i < n; i++) {
      work_pb p;
      rc = work_pb_build(&p, &items[i]);
      if (rc == 0) {
        count_bytes(svc, protobuf_c_message_get_packed_size(&p.w.base));
        rc = cpc_rpc_call_send_pb(e->call, &p.w.base);
        if (rc != 0)
          (void)cpc__orch_work_unclaim(svc->core, items[i].work_id);
      } else if (rc == CPC_EMALFORMED) {
        /* unreadable detail: leave it sent; its deadline retires it */
        rc = 0;
      }
      work_pb_free(&p);
      if (rc != 0) {
        size_t k;
        for (k = i + 1; k < n; k++)
          (void)cpc__orch_work_unclaim(svc->core, items[k].work_id);
        for (k = 0; k < n; k++)
          cpc__work_item_clear(&items[k]);
        return;
      }
    }
    for (i = 0; i < n; i++)
      cpc__work_item_clear(&items[i]);
    if (n < DISPATCH_BATCH)
      return;
  }
}

static void stream_remove(cpc__node_service *svc, work_stream *e) {
  work_stream **pp;
  for (pp = &svc->streams; *pp; pp = &(*pp)->next)
    if (*pp == e) {
      *pp = e->next;
      break;
    }
}

static void on_work_stream(cpc_rpc_call *call, const uint8_t *msg, size_t len) {
  cpc__node_service *svc = svc_of(call);
  work_stream *e, *old;
  caller who;

  if (authenticate(call, msg, len, 0, 0, &who))
    return;
  e = calloc(1, sizeof *e);
  if (!e) {
    finish(call, CPC_RPC_RESOURCE_EXHAUSTED, "out of memory");
    return;
  }
  /* One stream per node: a newer one replaces the older. */
  for (old = svc->streams; old; old = old->next)
    if (strcmp(old->peer_id, who.peer_id) == 0)
      break;
  if (old) {
    stream_remove(svc, old);
    cpc_rpc_call_set_data(old->call, NULL);
    finish(old->call, CPC_RPC_ABORTED, "replaced by a newer WorkStream");
    free(old);
  }
  e->svc = svc;
  e->call = call;
  snprintf(e->peer_id, sizeof e->peer_id, "%s", who.peer_id);
  e->next = svc->streams;
  svc->streams = e;
  cpc_rpc_call_set_data(call, e);
  /* The response headers and an empty Work (work_id 0, no kind) go out at
   * once, so the node knows the stream is live before any work comes. */
  (void)cpc_rpc_call_add_metadata(call, 0, "x-cpc-peer-id", who.peer_id);
  {
    Cpc__Orchestrator__V1__Work hello = CPC__ORCHESTRATOR__V1__WORK__INIT;
    count_bytes(svc, protobuf_c_message_get_packed_size(&hello.base));
    (void)cpc_rpc_call_send_pb(call, &hello.base);
  }
  pump(e, cpc__orch_now_ms());
}

static void on_work_writable(cpc_rpc_call *call) {
  work_stream *e = cpc_rpc_call_data(call);
  if (e)
    pump(e, cpc__orch_now_ms());
}

static void on_work_cancel(cpc_rpc_call *call, int reason) {
  work_stream *e = cpc_rpc_call_data(call);
  (void)reason;
  if (!e)
    return; /* finished already */
  stream_remove(e->svc, e);
  free(e);
  cpc_rpc_call_set_data(call, NULL);
  finish(call, CPC_RPC_CANCELLED, NULL);
}

void cpc__node_service_dispatch(cpc__node_service *svc, int64_t now) {
  work_stream *e, *next;
  for (e = svc->streams; e; e = next) {
    next = e->next;
    pump(e, now);
  }
}

/* ---- ConfirmStorage, AnswerAudit, ReportCorrupt ----------------------------- */

static int valid_cid(const char *s) {
  cpc_cid cid;
  return s && strlen(s) <= CPC__MAX_CID_TEXT && cpc_cid_parse(s, &cid) == 0;
}

static void on_confirm(cpc_rpc_call *call, const uint8_t *msg, size_t len) {
  cpc__node_service *svc = svc_of(call);
  Cpc__Orchestrator__V1__ConfirmStorageRequest *req;
  Cpc__Orchestrator__V1__ConfirmStorageReply r =
      CPC__ORCHESTRATOR__V1__CONFIRM_STORAGE_REPLY__INIT;
  caller who;
  int rc;

  if (authenticate(call, msg, len, 0, 0, &who))
    return;
  req = cpc__orchestrator__v1__confirm_storage_request__unpack(NULL, len, msg);
  if (!req || !valid_cid(req->cid) || req->work_id > INT64_MAX) {
    if (req)
      cpc__orchestrator__v1__confirm_storage_request__free_unpacked(req, NULL);
    finish(call, CPC_RPC_INVALID_ARGUMENT,
           "malformed ConfirmStorageRequest (cid must be a CID)");
    return;
  }
  rc = cpc__orch_work_confirm(svc->core, who.peer_id, (int64_t)req->work_id,
                              req->cid, req->ok, cpc__orch_now_ms());
  cpc__orchestrator__v1__confirm_storage_request__free_unpacked(req, NULL);
  if (rc == CPC_ENOENT)
    finish(call, CPC_RPC_NOT_FOUND, "no such replicate or delete work for this node");
  else if (rc == CPC_EMISMATCH)
    finish(call, CPC_RPC_INVALID_ARGUMENT, "cid is not the work's");
  else if (rc == CPC_ESTATE)
    finish(call, CPC_RPC_FAILED_PRECONDITION,
           "the work was given up (deadline passed); drop the block");
  else if (rc != 0)
    finish(call, status_of(rc), cpc_strerror(rc));
  else
    reply(call, &r.base);
}

static void on_answer_audit(cpc_rpc_call *call, const uint8_t *msg, size_t len) {
  cpc__node_service *svc = svc_of(call);
  Cpc__Orchestrator__V1__AnswerAuditRequest *req;
  Cpc__Orchestrator__V1__AnswerAuditReply r =
      CPC__ORCHESTRATOR__V1__ANSWER_AUDIT_REPLY__INIT;
  cpc__node_status st;
  caller who;
  int rc, passed = 0;

  if (authenticate(call, msg, len, 0, 0, &who))
    return;
  req = cpc__orchestrator__v1__answer_audit_request__unpack(NULL, len, msg);
  if (!req || req->audit_id > INT64_MAX) {
    if (req)
      cpc__orchestrator__v1__answer_audit_request__free_unpacked(req, NULL);
    finish(call, CPC_RPC_INVALID_ARGUMENT, "malformed AnswerAuditRequest");
    return;
  }
  rc = cpc__orch_audit_answer(svc->core, who.peer_id, (int64_t)req->audit_id,
                              req->proof.data, req->proof.len,
                              cpc__orch_now_ms(), &passed, &st);
  cpc__orchestrator__v1__answer_audit_request__free_unpacked(req, NULL);
  if (rc == CPC_ENOENT) {
    finish(call, CPC_RPC_NOT_FOUND, "no open audit with that id for this node");
    return;
  }
  if (rc != 0) {
    finish(call, status_of(rc), cpc_strerror(rc));
    return;
  }
  r.result = passed ? CPC__ORCHESTRATOR__V1__AUDIT_RESULT__AUDIT_RESULT_PASSED
                    : CPC__ORCHESTRATOR__V1__AUDIT_RESULT__AUDIT_RESULT_FAILED;
  r.state = node_state_pb(st.state);
  reply(call, &r.base);
}

static void on_report_corrupt(cpc_rpc_call *call, const uint8_t *msg,
                              size_t len) {
  cpc__node_service *svc = svc_of(call);
  Cpc__Orchestrator__V1__ReportCorruptRequest *req;
  Cpc__Orchestrator__V1__ReportCorruptReply r =
      CPC__ORCHESTRATOR__V1__REPORT_CORRUPT_REPLY__INIT;
  caller who;
  int rc;

  if (authenticate(call, msg, len, 0, 0, &who))
    return;
  req = cpc__orchestrator__v1__report_corrupt_request__unpack(NULL, len, msg);
  if (!req || !valid_cid(req->cid)) {
    if (req)
      cpc__orchestrator__v1__report_corrupt_request__free_unpacked(req, NULL);
    finish(call, CPC_RPC_INVALID_ARGUMENT,
           "malformed ReportCorruptRequest (cid must be a CID)");
    return;
  }
  rc = cpc__orch_report_corrupt(svc->core, who.peer_id, req->cid,
                                cpc__orch_now_ms());
  cpc__orchestrator__v1__report_corrupt_request__free_unpacked(req, NULL);
  if (rc == CPC_ENOENT)
    finish(call, CPC_RPC_NOT_FOUND, "this node holds no such replica");
  else if (rc != 0)
    finish(call, status_of(rc), cpc_strerror(rc));
  else
    reply(call, &r.base);
}

/* ---- StreamMetrics --------------------------------------------------------------- */

static void on_metrics_start(cpc_rpc_call *call, const uint8_t *msg,
                             size_t len) {
  metrics_call *m;
  caller who;
  if (authenticate(call, NULL, 0, 0, 0, &who))
    return;
  m = calloc(1, sizeof *m);
  if (!m) {
    finish(call, CPC_RPC_RESOURCE_EXHAUSTED, "out of memory");
    return;
  }
  snprintf(m->peer_id, sizeof m->peer_id, "%s", who.peer_id);
  cpc_rpc_call_set_data(call, m);
}

static void on_metrics_message(cpc_rpc_call *call, const uint8_t *msg,
                               size_t len) {
  cpc__node_service *svc = svc_of(call);
  metrics_call *m = cpc_rpc_call_data(call);
  Cpc__Orchestrator__V1__NodeMetrics *s;
  if (!m)
    return; /* already refused */
  count_bytes(svc, len);
  s = cpc__orchestrator__v1__node_metrics__unpack(NULL, len, msg);
  if (!s) {
    free(m);
    cpc_rpc_call_set_data(call, NULL);
    finish(call, CPC_RPC_INVALID_ARGUMENT, "malformed NodeMetrics");
    return;
  }
  m->samples++;
  m->sent += s->bytes_sent;
  m->received += s->bytes_received;
  if (svc->core->metrics) {
    cpc_metrics_counter_add(svc->core->metrics->node_sent, (double)s->bytes_sent);
    cpc_metrics_counter_add(svc->core->metrics->node_received,
                            (double)s->bytes_received);
  }
  cpc__orchestrator__v1__node_metrics__free_unpacked(s, NULL);
}

static void on_metrics_end(cpc_rpc_call *call) {
  metrics_call *m = cpc_rpc_call_data(call);
  Cpc__Orchestrator__V1__MetricsSummary r =
      CPC__ORCHESTRATOR__V1__METRICS_SUMMARY__INIT;
  if (!m)
    return;
  r.samples = m->samples;
  r.bytes_sent = m->sent;
  r.bytes_received = m->received;
  free(m);
  cpc_rpc_call_set_data(call, NULL);
  reply(call, &r.base);
}

static void on_metrics_cancel(cpc_rpc_call *call, int reason) {
  metrics_call *m = cpc_rpc_call_data(call);
  (void)reason;
  if (!m)
    return; /* finished already */
  free(m);
  cpc_rpc_call_set_data(call, NULL);
  finish(call, CPC_RPC_CANCELLED, NULL);
}

/* ---- registration ---------------------------------------------------------------- */

int cpc__node_service_new(cpc__node_service **out, cpc_rpc_server *server,
                          cpc__orch_core *core) {
  cpc__node_service *svc;
  cpc_rpc_method m[7];
  size_t i;
  int rc = 0;

  svc = calloc(1, sizeof *svc);
  if (!svc)
    return CPC_ENOMEM;
  svc->core = core;
  memset(m, 0, sizeof m);
  m[0].path = PKG "RegisterNode";
  m[0].on_call = on_register;
  m[1].path = PKG "Heartbeat";
  m[1].on_call = on_heartbeat;
  m[2].path = PKG "WorkStream";
  m[2].kind = CPC_RPC_SERVER_STREAM;
  m[2].on_call = on_work_stream;
  m[2].on_writable = on_work_writable;
  m[2].on_cancel = on_work_cancel;
  m[3].path = PKG "ConfirmStorage";
  m[3].on_call = on_confirm;
  m[4].path = PKG "AnswerAudit";
  m[4].on_call = on_answer_audit;
  m[5].path = PKG "ReportCorrupt";
  m[5].on_call = on_report_corrupt;
  m[6].path = PKG "StreamMetrics";
  m[6].kind = CPC_RPC_CLIENT_STREAM;
  m[6].on_call = on_metrics_start;
  m[6].on_message = on_metrics_message;
  m[6].on_end = on_metrics_end;
  m[6].on_cancel = on_metrics_cancel;
  for (i = 0; i < 7 && rc == 0; i++) {
    m[i].ud = svc;
    rc = cpc_rpc_server_add_method(server, &m[i]);
  }
  if (rc != 0) {
    free(svc);
    return rc;
  }
  *out = svc;
  return 0;
}

void cpc__node_service_free(cpc__node_service *svc) {
  work_stream *e, *next;
  if (!svc)
    return;
  for (e = svc->streams; e; e = next) {
    next = e->next;
    cpc_rpc_call_set_data(e->call, NULL);
    finish(e->call, CPC_RPC_UNAVAILABLE, "orchestrator shutting down");
    free(e);
  }
  free(svc);
}
