/*
 * health.c: grpc.health.v1.Health (grpc/grpc doc/health-checking.md):
 * a map service name -> serving status, Check (unary) and Watch (server
 * stream of the status, sent at once and on every change).
 */
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/rpc.h"
#include "grpc/health/v1/health.pb-c.h"
#include "rpc/rpc_int.h"

#define MAX_SERVICES 1024u
#define MAX_SERVICE_NAME 256u

typedef struct health_entry {
  char *service;
  int status;
} health_entry;

typedef struct health_watch {
  cpc_rpc_call *call;
  char *service;
  int last;    /* status last sent, -1 none */
  int pending; /* status waiting for room to send, -1 none */
  struct health_watch *prev, *next;
} health_watch;

struct cpc_rpc_health {
  health_entry *entries;
  size_t n, cap;
  health_watch *watchers;
};

static health_entry *find(cpc_rpc_health *h, const char *service) {
  size_t i;
  for (i = 0; i < h->n; i++)
    if (strcmp(h->entries[i].service, service) == 0)
      return &h->entries[i];
  return NULL;
}

static int status_of(cpc_rpc_health *h, const char *service) {
  health_entry *e = find(h, service);
  return e ? e->status : CPC_RPC_HEALTH_SERVICE_UNKNOWN;
}

/* Send w's pending status if there is room; CPC_EAGAIN keeps it pending
 * for on_writable. */
static void watch_flush(health_watch *w) {
  Grpc__Health__V1__HealthCheckResponse resp =
      GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
  if (w->pending < 0 || w->pending == w->last) {
    w->pending = -1;
    return;
  }
  resp.status =
      (Grpc__Health__V1__HealthCheckResponse__ServingStatus)w->pending;
  if (cpc_rpc_call_send_pb(w->call, &resp.base) == 0) {
    w->last = w->pending;
    w->pending = -1;
  }
}

static void notify(cpc_rpc_health *h, const char *service) {
  health_watch *w;
  int st = status_of(h, service);
  for (w = h->watchers; w; w = w->next)
    if (strcmp(w->service, service) == 0) {
      w->pending = st;
      watch_flush(w);
    }
}

static Grpc__Health__V1__HealthCheckRequest *
unpack_request(cpc_rpc_call *call, const uint8_t *msg, size_t len) {
  Grpc__Health__V1__HealthCheckRequest *req =
      grpc__health__v1__health_check_request__unpack(NULL, len, msg);
  if (!req)
    (void)cpc_rpc_call_finish(call, CPC_RPC_INVALID_ARGUMENT,
                              "malformed HealthCheckRequest");
  else if (strlen(req->service) > MAX_SERVICE_NAME) {
    grpc__health__v1__health_check_request__free_unpacked(req, NULL);
    (void)cpc_rpc_call_finish(call, CPC_RPC_INVALID_ARGUMENT,
                              "service name too long");
    req = NULL;
  }
  return req;
}

static void on_check(cpc_rpc_call *call, const uint8_t *msg, size_t len) {
  cpc_rpc_health *h = cpc_rpc_call_method_data(call);
  Grpc__Health__V1__HealthCheckResponse resp =
      GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
  Grpc__Health__V1__HealthCheckRequest *req = unpack_request(call, msg, len);
  health_entry *e;
  if (!req)
    return;
  e = find(h, req->service);
  grpc__health__v1__health_check_request__free_unpacked(req, NULL);
  if (!e) {
    (void)cpc_rpc_call_finish(call, CPC_RPC_NOT_FOUND, "unknown service");
    return;
  }
  resp.status = (Grpc__Health__V1__HealthCheckResponse__ServingStatus)e->status;
  if (cpc_rpc_call_send_pb(call, &resp.base) != 0) {
    (void)cpc_rpc_call_finish(call, CPC_RPC_INTERNAL, "could not send");
    return;
  }
  (void)cpc_rpc_call_finish(call, CPC_RPC_OK, NULL);
}

static void on_watch(cpc_rpc_call *call, const uint8_t *msg, size_t len) {
  cpc_rpc_health *h = cpc_rpc_call_method_data(call);
  Grpc__Health__V1__HealthCheckRequest *req = unpack_request(call, msg, len);
  health_watch *w;
  if (!req)
    return;
  w = calloc(1, sizeof *w);
  if (w)
    w->service = strdup(req->service);
  grpc__health__v1__health_check_request__free_unpacked(req, NULL);
  if (!w || !w->service) {
    free(w);
    (void)cpc_rpc_call_finish(call, CPC_RPC_RESOURCE_EXHAUSTED,
                              "out of memory");
    return;
  }
  w->call = call;
  w->last = -1;
  w->pending = status_of(h, w->service);
  w->next = h->watchers;
  if (h->watchers)
    h->watchers->prev = w;
  h->watchers = w;
  cpc_rpc_call_set_data(call, w);
  watch_flush(w);
}

static void on_watch_writable(cpc_rpc_call *call) {
  watch_flush(cpc_rpc_call_data(call));
}

static void watch_free(cpc_rpc_health *h, health_watch *w) {
  if (w->prev)
    w->prev->next = w->next;
  else
    h->watchers = w->next;
  if (w->next)
    w->next->prev = w->prev;
  free(w->service);
  free(w);
}

static void on_watch_cancel(cpc_rpc_call *call, int reason) {
  cpc_rpc_health *h = cpc_rpc_call_method_data(call);
  health_watch *w = cpc_rpc_call_data(call);
  if (w)
    watch_free(h, w);
  (void)cpc_rpc_call_finish(call, CPC_RPC_CANCELLED, NULL);
}

int cpc_rpc_health_enable(cpc_rpc_server *s, cpc_rpc_health **out) {
  cpc_rpc_method m;
  cpc_rpc_health *h;
  int rc;
  if (!s || !out)
    return CPC_EINVAL;
  if (s->health)
    return CPC_EEXIST;
  h = calloc(1, sizeof *h);
  if (!h)
    return CPC_ENOMEM;
  memset(&m, 0, sizeof m);
  m.path = "/grpc.health.v1.Health/Check";
  m.kind = CPC_RPC_UNARY;
  m.ud = h;
  m.on_call = on_check;
  rc = cpc_rpc_server_add_method(s, &m);
  if (rc != 0)
    goto out;
  m.path = "/grpc.health.v1.Health/Watch";
  m.kind = CPC_RPC_SERVER_STREAM;
  m.on_call = on_watch;
  m.on_writable = on_watch_writable;
  m.on_cancel = on_watch_cancel;
  rc = cpc_rpc_server_add_method(s, &m);
  if (rc != 0)
    goto out; /* Check stays registered; harmless without Watch */
  s->health = h;
  h = NULL;
  rc = cpc_rpc_health_set(s->health, "", CPC_RPC_HEALTH_SERVING);
  *out = s->health;
out:
  free(h);
  return rc;
}

int cpc_rpc_health_set(cpc_rpc_health *h, const char *service,
                       enum cpc_rpc_health_status status) {
  health_entry *e;
  if (!h || !service || strlen(service) > MAX_SERVICE_NAME ||
      (status != CPC_RPC_HEALTH_SERVING &&
       status != CPC_RPC_HEALTH_NOT_SERVING &&
       status != CPC_RPC_HEALTH_UNKNOWN))
    return CPC_EINVAL;
  e = find(h, service);
  if (!e) {
    if (h->n >= MAX_SERVICES)
      return CPC_ENOSPC;
    if (h->n == h->cap) {
      size_t cap = h->cap ? h->cap * 2 : 8;
      health_entry *t = realloc(h->entries, cap * sizeof *t);
      if (!t)
        return CPC_ENOMEM;
      h->entries = t;
      h->cap = cap;
    }
    e = &h->entries[h->n];
    e->service = strdup(service);
    if (!e->service)
      return CPC_ENOMEM;
    h->n++;
  }
  e->status = (int)status;
  notify(h, service);
  return 0;
}

int cpc_rpc_health_remove(cpc_rpc_health *h, const char *service) {
  health_entry *e;
  if (!h || !service)
    return CPC_EINVAL;
  e = find(h, service);
  if (!e)
    return CPC_ENOENT;
  free(e->service);
  *e = h->entries[--h->n];
  notify(h, service);
  return 0;
}

void cpc__rpc_health_free(cpc_rpc_health *h) {
  size_t i;
  if (!h)
    return;
  /* Watchers are gone: every connection was torn down before. */
  while (h->watchers)
    watch_free(h, h->watchers);
  for (i = 0; i < h->n; i++)
    free(h->entries[i].service);
  free(h->entries);
  free(h);
}
