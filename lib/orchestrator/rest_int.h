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
  cpc_orchestrator *orch; /* borrowed */
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

/* ---- content (rest_content.c, shared with rest_content_owner.c) ---- */

#define CPC__REST_MAX_READERS 10000 /* wrapped keys in one body */
#define CPC__REST_MAX_TOKENS 10000  /* audit tokens in one body */

/* "public", "followers", "private" by access_control value 0, 1, 2. */
extern const char *const cpc__rest_access_names[3];

/* The columns cpc__rest_summary reads, in order. */
#define SUMMARY_COLS                                                           \
  "content_id, owner, size, created_at, registered_at, access_control, "     \
  "replicas_desired, name, description, state"

/* Summary JSON (new reference) of the current row of a SELECT of
 * SUMMARY_COLS. */
json_t *cpc__rest_summary(cpc_sql_stmt *st);

/*
 * Load the active content named by the {cid} path parameter for caller
 * (NULL: anonymous): *st is positioned on its SUMMARY_COLS row. *st may
 * be set on failure too: the caller finalizes it in every case. Answers 404 itself (unknown, deleted, or not visible
 * to caller) and returns CPC_ENOENT; other errors are answered too and
 * returned.
 */
int cpc__rest_load_visible(cpc_http_request *req, cpc_sql *db,
                           const char *caller, cpc_sql_stmt **st);

/* Validate a wrapped_keys array (at most CPC__REST_MAX_READERS items
 * {reader: canonical PeerId, sealed_key: base64 of 1..256 bytes}).
 * Answers 400 itself and returns CPC_EINVAL. */
int cpc__rest_check_wrapped(cpc_http_request *req, json_t *a);

/* Validate an audit_tokens array (at most CPC__REST_MAX_TOKENS items
 * {cid, offset, length >= 1, nonce, expected}, 32-byte base64 nonce and
 * expected). With chunks (the registration's chunk array) each cid must
 * be one of them; NULL skips that check. Answers 400 itself and returns
 * CPC_EINVAL. */
int cpc__rest_check_tokens(cpc_http_request *req, json_t *a, json_t *chunks);

/*
 * Replication of content_id against target replicas: a new object
 * {target, chunks, chunks_at_target, min_confirmed, complete} where a
 * chunk's confirmed count is its stored replicas on active nodes (what
 * the scheduler counts). With per_chunk (may be NULL) *per_chunk gets a
 * new array, in chunk order, of {index, cid, size, confirmed, pending}
 * plus audit_tokens (unused tokens of the chunk) when with_tokens.
 * Returns 0 (*out set) or an SQL error (nothing set).
 */
int cpc__rest_replication(cpc_sql *db, const char *content_id, int64_t target,
                          int with_tokens, json_t **out, json_t **per_chunk);

/* ---- json_text.c: JSON written into a buffer (hot answers) ---------- */

/* Zero-initialise; p is NUL-terminated text of len bytes once anything
 * was written. After a failed allocation oom is set and writes stop. */
typedef struct cpc__jtext {
  char *p;
  size_t len, cap;
  int oom;
} cpc__jtext;

/* Append n bytes of s as they are (s must be valid JSON in context). */
void cpc__jt_raw(cpc__jtext *t, const char *s, size_t n);
/* Append the NUL-terminated text s as it is. */
void cpc__jt_lit(cpc__jtext *t, const char *s);
/* Append s (UTF-8, NUL-terminated) as a quoted, escaped JSON string. */
void cpc__jt_str(cpc__jtext *t, const char *s);
/* Append v as a JSON number. */
void cpc__jt_int(cpc__jtext *t, int64_t v);
/* Free the buffer and zero t. */
void cpc__jt_free(cpc__jtext *t);

/* Route registration, one function per resource file. */
int cpc__rest_users_routes(cpc_http_router *rt, cpc__rest *r);
int cpc__rest_follows_routes(cpc_http_router *rt, cpc__rest *r);
int cpc__rest_content_routes(cpc_http_router *rt, cpc__rest *r);
int cpc__rest_content_owner_routes(cpc_http_router *rt, cpc__rest *r);
int cpc__rest_nodes_routes(cpc_http_router *rt, cpc__rest *r);
int cpc__rest_system_routes(cpc_http_router *rt, cpc__rest *r);

/* The embedded docs/openapi.json (CMake step, generated C). */
extern const char cpc__orchestrator_openapi[];
extern const size_t cpc__orchestrator_openapi_len;

#endif /* CPC_REST_INT_H */
