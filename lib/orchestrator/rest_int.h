/*
 * rest_int.h: internals shared by the REST files of lib/orchestrator
 * (rest_server.c and one rest_<resource>.c per resource). Not installed.
 */
#ifndef CPC_REST_INT_H
#define CPC_REST_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cpc/http.h"
#include "cpc/metrics.h"
#include "cpc/orchestrator_rest.h"
#include "cpc/sql.h"

#define CPC__REST_POOL_MAX 16       /* idle connections kept */
#define CPC__REST_PAGE_DEFAULT 50   /* ?limit default */
#define CPC__REST_PAGE_MAX 200      /* ?limit cap */
#define CPC__REST_MAX_KEY 256       /* bytes of a cursor key */

/* Handler context shared by every route (thread-safe parts only). */
typedef struct cpc__rest {
  char db_url[CPC_SQL_MAX_URL];
  pthread_mutex_t lock; /* guards idle[] */
  cpc_sql *idle[CPC__REST_POOL_MAX];
  size_t n_idle;
  cpc_metrics *metrics; /* borrowed: the orchestrator's registry */
  cpc_metrics_family *requests, *latency;
} cpc__rest;

/* A connection for this request (from the pool or newly opened); NULL when
 * the database cannot be reached. Give it back with cpc__rest_db_put. */
cpc_sql *cpc__rest_db_get(cpc__rest *r);
/* Return db to the pool (closed if the pool is full). NULL is fine. */
void cpc__rest_db_put(cpc__rest *r, cpc_sql *db);

/* Answer for an SQL failure rc: 503 unavailable for CPC_EAGAIN/no
 * connection, 500 internal otherwise. Returns 0. */
int cpc__rest_fail(cpc_http_request *req, int rc);

/* The caller's PeerId as base58 text in buf (cap bytes); NULL when the
 * request is anonymous. */
const char *cpc__rest_caller(const cpc_http_request *req, char *buf,
                             size_t cap);

/* Canonical text (base58) of a PeerId given as text; 0 or CPC_EMALFORMED. */
int cpc__rest_peer_text(const char *in, char *out, size_t cap);

/* 1 if the user exists, 0 if not, <0 on an SQL error. */
int cpc__rest_user_exists(cpc_sql *db, const char *peer_id);

/* May caller (NULL: anonymous) read content of owner with access_control
 * access (0 public, 1 followers, 2 private)? *ok 1/0. SQL error <0. */
int cpc__rest_can_read(cpc_sql *db, const char *owner, int access,
                       const char *caller, int *ok);

/* ?limit (default CPC__REST_PAGE_DEFAULT, 1..CPC__REST_PAGE_MAX) and
 * ?cursor (decoded into key, cap bytes; "" when absent). Answers 400
 * invalid_field itself and returns CPC_EINVAL on bad values. */
int cpc__rest_page_args(cpc_http_request *req, int64_t *limit, char *key,
                        size_t cap);

/* The opaque cursor for key, a new JSON string (base64url). */
json_t *cpc__rest_cursor(const char *key);

/* Base64 (standard, padded) of p[0..n) as a new JSON string. */
json_t *cpc__rest_b64(const void *p, size_t n);

/* Decode standard padded base64 text into out (cap bytes); *n its length.
 * Returns 0 or CPC_EMALFORMED. */
int cpc__rest_unb64(const char *text, uint8_t *out, size_t cap, size_t *n);

/* Route registration, one function per resource file. */
int cpc__rest_users_routes(cpc_http_router *rt, cpc__rest *r);
int cpc__rest_follows_routes(cpc_http_router *rt, cpc__rest *r);
int cpc__rest_content_routes(cpc_http_router *rt, cpc__rest *r);
int cpc__rest_nodes_routes(cpc_http_router *rt, cpc__rest *r);
int cpc__rest_system_routes(cpc_http_router *rt, cpc__rest *r);

/* The embedded docs/openapi.json (CMake step, generated C). */
extern const char cpc__orchestrator_openapi[];
extern const size_t cpc__orchestrator_openapi_len;

#endif /* CPC_REST_INT_H */
