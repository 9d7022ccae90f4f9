/*
 * rest_server.c: the REST server of the orchestrator: the connection pool,
 * the SQL nonce store, request metrics, shared helpers, and start/stop.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cpc/error.h"
#include "orchestrator/orchestrator_int.h"
#include "orchestrator/rest_int.h"

struct cpc_orchestrator_rest {
  cpc__rest ctx;
  cpc_http_router *router;
  cpc_http_server *server;
  cpc_nonce_store *nonces;
};

/* ---- connection pool ---------------------------------------------------- */

cpc_sql *cpc__rest_db_get(cpc__rest *r) {
  cpc_sql *db = NULL;
  pthread_mutex_lock(&r->lock);
  if (r->n_idle > 0)
    db = r->idle[--r->n_idle];
  pthread_mutex_unlock(&r->lock);
  if (!db && cpc_sql_open(r->db_url, &db, NULL) != 0)
    db = NULL;
  return db;
}

void cpc__rest_db_put(cpc__rest *r, cpc_sql *db) {
  if (!db)
    return;
  pthread_mutex_lock(&r->lock);
  if (r->n_idle < CPC__REST_POOL_MAX) {
    r->idle[r->n_idle++] = db;
    db = NULL;
  }
  pthread_mutex_unlock(&r->lock);
  cpc_sql_close(db);
}

/* ---- helpers ------------------------------------------------------------ */

int cpc__rest_fail(cpc_http_request *req, int rc) {
  if (rc == CPC_EAGAIN || rc == CPC_EIO)
    cpc_http_respond_error(req, 503, "unavailable",
                           "the database is busy or unreachable; retry");
  else
    cpc_http_respond_error(req, 500, "internal", "database error (%s)",
                           cpc_strerror(rc));
  return 0;
}

const char *cpc__rest_caller(const cpc_http_request *req, char *buf,
                             size_t cap) {
  const cpc_peer_id *id = cpc_http_request_caller(req);
  if (!id || cpc_peer_id_format(id, buf, cap) != 0)
    return NULL;
  return buf;
}

int cpc__rest_peer_text(const char *in, char *out, size_t cap) {
  cpc_peer_id id;
  if (!in || cpc_peer_id_parse(in, &id) != 0 ||
      cpc_peer_id_format(&id, out, cap) != 0)
    return CPC_EMALFORMED;
  return 0;
}

int cpc__rest_user_exists(cpc_sql *db, const char *peer_id) {
  int64_t one;
  int rc = cpc__q_int(db, &one, "SELECT 1 FROM users WHERE peer_id = $1", "s",
                      peer_id);
  if (rc == CPC_ENOENT)
    return 0;
  return rc == 0 ? 1 : rc;
}

int cpc__rest_can_read(cpc_sql *db, const char *owner, int access,
                       const char *caller, int *ok) {
  int64_t one;
  int rc;
  *ok = 0;
  if (access == 0 || (caller && strcmp(caller, owner) == 0)) {
    *ok = 1;
    return 0;
  }
  if (access != 1 || !caller)
    return 0;
  rc = cpc__q_int(db, &one,
                  "SELECT 1 FROM follows WHERE follower = $1 AND followee = $2",
                  "ss", caller, owner);
  if (rc == 0)
    *ok = 1;
  return rc == CPC_ENOENT ? 0 : rc;
}

int cpc__rest_page_args(cpc_http_request *req, int64_t *limit, char *key,
                        size_t cap) {
  const char *l = cpc_http_request_query(req, "limit");
  const char *c = cpc_http_request_query(req, "cursor");
  size_t n = 0;
  *limit = CPC__REST_PAGE_DEFAULT;
  key[0] = '\0';
  if (l) {
    char *end = NULL;
    long long v = strtoll(l, &end, 10);
    if (!*l || *end || v < 1 || v > CPC__REST_PAGE_MAX) {
      cpc_http_respond_error(req, 400, "invalid_field",
                             "limit must be an integer from 1 to %d",
                             CPC__REST_PAGE_MAX);
      return CPC_EINVAL;
    }
    *limit = v;
  }
  if (c && *c) {
    if (strlen(c) > 2 * CPC__REST_MAX_KEY ||
        sodium_base642bin((unsigned char *)key, cap - 1, c, strlen(c), NULL,
                          &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        memchr(key, '\0', n)) {
      cpc_http_respond_error(req, 400, "invalid_field",
                             "cursor is not one this server gave out");
      return CPC_EINVAL;
    }
    key[n] = '\0';
  }
  return 0;
}

json_t *cpc__rest_cursor(const char *key) {
  char buf[2 * CPC__REST_MAX_KEY];
  size_t n = strlen(key);
  if (n > CPC__REST_MAX_KEY)
    return json_null();
  sodium_bin2base64(buf, sizeof buf, (const unsigned char *)key, n,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return json_string(buf);
}

json_t *cpc__rest_b64(const void *p, size_t n) {
  size_t cap = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
  char *buf = malloc(cap);
  json_t *j;
  if (!buf)
    return NULL;
  sodium_bin2base64(buf, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
  j = json_string(buf);
  free(buf);
  return j;
}

int cpc__rest_unb64(const char *text, uint8_t *out, size_t cap, size_t *n) {
  const char *end = NULL;
  if (!text || sodium_base642bin(out, cap, text, strlen(text), NULL, n, &end,
                                 sodium_base64_VARIANT_ORIGINAL) != 0 ||
      (end && *end))
    return CPC_EMALFORMED;
  return 0;
}

/* ---- nonce store in request_nonces ------------------------------------------ */

typedef struct sql_nonces {
  cpc_nonce_store base;
  cpc__rest *r;
  _Atomic uint64_t inserts;
} sql_nonces;

static int nonces_check(cpc_nonce_store *s, const cpc_peer_id *peer,
                        const char *nonce, size_t nonce_len, int64_t expiry,
                        int64_t now) {
  sql_nonces *ns = (sql_nonces *)s;
  char pid[CPC_PEER_ID_MAX_TEXT], nb[CPC_HTTP_AUTH_NONCE_MAX + 1];
  int64_t changes = 0;
  cpc_sql *db;
  int rc;

  if (nonce_len >= sizeof nb || cpc_peer_id_format(peer, pid, sizeof pid))
    return CPC_EINVAL;
  memcpy(nb, nonce, nonce_len);
  nb[nonce_len] = '\0';
  db = cpc__rest_db_get(ns->r);
  if (!db)
    return CPC_EIO;
  /* Sweep expired rows now and then (every 128 inserts). */
  if ((atomic_fetch_add(&ns->inserts, 1) & 127) == 0)
    (void)cpc__q_run(db, NULL,
                     "DELETE FROM request_nonces WHERE expires_at <= $1", "i",
                     now * 1000);
  rc = cpc__q_run(db, &changes,
                  "INSERT INTO request_nonces (peer_id, nonce, expires_at) "
                  "VALUES ($1, $2, $3) ON CONFLICT (peer_id, nonce) DO UPDATE "
                  "SET expires_at = excluded.expires_at "
                  "WHERE request_nonces.expires_at <= $4",
                  "ssii", pid, nb, expiry * 1000, now * 1000);
  cpc__rest_db_put(ns->r, db);
  if (rc != 0)
    return rc;
  return changes == 0 ? CPC_EEXIST : 0;
}

static void nonces_destroy(cpc_nonce_store *s) { free(s); }

static const cpc_nonce_store_ops sql_nonce_ops = {nonces_check,
                                                  nonces_destroy};

/* ---- request metrics ----------------------------------------------------- */

static void on_done(void *ctx, const char *route, const char *method,
                    unsigned status, double duration_s) {
  cpc__rest *r = ctx;
  char code[8];
  const char *v[3];
  cpc_metrics_series *s = NULL;
  snprintf(code, sizeof code, "%u", status);
  v[0] = route ? route : "unmatched";
  v[1] = method;
  v[2] = code;
  if (cpc_metrics_series_get(r->requests, v, 3, &s) == 0)
    cpc_metrics_counter_inc(s);
  if (cpc_metrics_series_get(r->latency, v, 2, &s) == 0)
    cpc_metrics_histogram_observe(s, duration_s);
}

static int metrics_init(cpc__rest *r) {
  static const char *const labels3[] = {"route", "method", "status"};
  static const double bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                  0.05,   0.1,   0.25,   0.5,   1,    2.5};
  int rc = cpc_metrics_counter_new(
      r->metrics, "cpc_orchestrator_http_requests", NULL,
      "REST requests answered, by route pattern, method and status.", labels3,
      3, &r->requests);
  if (rc == 0)
    rc = cpc_metrics_histogram_new(
        r->metrics, "cpc_orchestrator_http_request_duration_seconds", "seconds",
        "REST request latency, by route pattern and method.", labels3, 2,
        bounds, sizeof bounds / sizeof bounds[0], &r->latency);
  return rc;
}

/* ---- start / stop ------------------------------------------------------------- */

int cpc_orchestrator_rest_start(cpc_orchestrator *o, const char *listen,
                                cpc_orchestrator_rest **out, char *err,
                                size_t cap) {
  cpc_orchestrator_rest *s;
  sql_nonces *ns;
  cpc_http_config cfg;
  cpc_sql *db;
  int rc;

  if (!o || !listen || !out)
    return CPC_EINVAL;
  *out = NULL;
  s = calloc(1, sizeof *s);
  if (!s)
    return CPC_ENOMEM;
  pthread_mutex_init(&s->ctx.lock, NULL);
  snprintf(s->ctx.db_url, sizeof s->ctx.db_url, "%s",
           cpc_orchestrator_config_of(o)->db_url);
  s->ctx.orch = o;
  s->ctx.metrics = cpc_orchestrator_metrics(o);
  db = cpc__rest_db_get(&s->ctx);
  if (!db) {
    rc = CPC_EIO;
    snprintf(err, cap, "REST: cannot open the database %s", s->ctx.db_url);
    goto fail;
  }
  cpc__rest_db_put(&s->ctx, db);
  rc = metrics_init(&s->ctx);
  if (rc == 0)
    rc = cpc_http_router_new(&s->router);
  if (rc == 0)
    rc = cpc__rest_users_routes(s->router, &s->ctx);
  if (rc == 0)
    rc = cpc__rest_follows_routes(s->router, &s->ctx);
  if (rc == 0)
    rc = cpc__rest_content_routes(s->router, &s->ctx);
  if (rc == 0)
    rc = cpc__rest_content_owner_routes(s->router, &s->ctx);
  if (rc == 0)
    rc = cpc__rest_nodes_routes(s->router, &s->ctx);
  if (rc == 0)
    rc = cpc__rest_system_routes(s->router, &s->ctx);
  if (rc != 0) {
    snprintf(err, cap, "REST: setup failed: %s", cpc_strerror(rc));
    goto fail;
  }
  ns = calloc(1, sizeof *ns);
  if (!ns) {
    rc = CPC_ENOMEM;
    snprintf(err, cap, "out of memory");
    goto fail;
  }
  ns->base.ops = &sql_nonce_ops;
  ns->r = &s->ctx;
  atomic_init(&ns->inserts, 0);
  s->nonces = &ns->base;
  cpc_http_config_init(&cfg);
  cfg.listen = listen;
  cfg.nonces = s->nonces;
  cfg.on_request_done = on_done;
  cfg.on_request_done_ctx = &s->ctx;
  rc = cpc_http_server_start(&cfg, s->router, &s->server);
  if (rc != 0) {
    snprintf(err, cap, "cannot listen for REST on %s (%s)", listen,
             rc == CPC_EIO ? "address in use or not available"
                           : cpc_strerror(rc));
    goto fail;
  }
  *out = s;
  return 0;
fail:
  cpc_orchestrator_rest_stop(s);
  return rc;
}

uint16_t cpc_orchestrator_rest_port(const cpc_orchestrator_rest *r) {
  return r ? cpc_http_server_port(r->server) : 0;
}

void cpc_orchestrator_rest_stop(cpc_orchestrator_rest *r) {
  size_t i;
  if (!r)
    return;
  cpc_http_server_stop(r->server);
  cpc_http_router_free(r->router);
  cpc_nonce_store_free(r->nonces);
  for (i = 0; i < r->ctx.n_idle; i++)
    cpc_sql_close(r->ctx.idle[i]);
  pthread_mutex_destroy(&r->ctx.lock);
  free(r);
}
