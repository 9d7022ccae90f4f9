/*
 * rest_content_owner.c: what a content owner's PDS does after registering.
 *   GET  /v1/content?owner=P             P's content the caller may see,
 *                                        with replication; paginated
 *   PUT  /v1/content/{cid}/keys          owner: seal the key for more readers
 *   POST /v1/content/{cid}/audit_tokens  owner: top up audit challenges
 * As everywhere, content the caller may not see answers 404 not_found; a
 * reader who sees it but is not the owner gets 403 on the writes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "orchestrator/orchestrator_int.h"
#include "orchestrator/rest_int.h"

#define MAX_SEALED 256

static int bad(cpc_http_request *req, const char *field, const char *what) {
  cpc_http_respond_error(req, 400, "invalid_field", "%s %s", field, what);
  return CPC_EINVAL;
}

/* ---- GET /v1/content?owner= ------------------------------------------------ */

static int list_content(cpc_http_request *req, void *ctx) {
  cpc__rest *r = ctx;
  char me[CPC_PEER_ID_MAX_TEXT], key[CPC__REST_MAX_KEY + 1],
      owner[CPC_PEER_ID_MAX_TEXT], last[CPC__MAX_CID_TEXT + 1] = "";
  const char *caller = cpc__rest_caller(req, me, sizeof me);
  const char *ow = cpc_http_request_query(req, "owner");
  cpc_sql *db = NULL;
  cpc_sql_stmt *st = NULL;
  json_t *items = NULL;
  int64_t limit, n = 0;
  int rc;

  if (cpc__rest_page_args(req, &limit, key, sizeof key) != 0)
    return 0;
  if (!ow || cpc__rest_peer_text(ow, owner, sizeof owner) != 0)
    return bad(req, "owner", "must be a PeerId (use /v1/search to search)"), 0;
  db = cpc__rest_db_get(r);
  if (!db)
    return cpc__rest_fail(req, CPC_EIO);
  rc = cpc__q_prepare(
      db, &st,
      "SELECT " SUMMARY_COLS " FROM content WHERE owner = $1 AND state = 0 "
      "AND content_id > $2 "
      "AND (access_control = 0 OR owner = $3 OR (access_control = 1 AND "
      "EXISTS (SELECT 1 FROM follows f WHERE f.follower = $3 AND "
      "f.followee = content.owner))) "
      "ORDER BY content_id LIMIT $4",
      "sssi", owner, key, caller ? caller : "", limit + 1);
  items = json_array();
  while (rc == 0 && (rc = cpc_sql_step(st)) == CPC_SQL_ROW) {
    json_t *it, *rep = NULL;
    rc = 0;
    if (n++ == limit)
      break;
    cpc__q_text(st, 0, last, sizeof last);
    it = cpc__rest_summary(st);
    json_array_append_new(items, it);
    /* A second statement while st is open: fine on SQLite and libpq
     * (cpc_sql reads a PostgreSQL result whole). */
    rc = cpc__rest_replication(db, last, cpc__q_col_int(st, 6, 3), 0, &rep,
                               NULL);
    if (rc == 0)
      json_object_set_new(it, "replication", rep);
  }
  if (rc < 0) {
    cpc__rest_fail(req, rc);
    goto out;
  }
  cpc_http_respond_json(req, 200,
                        json_pack("{s:O, s:o}", "items", items, "next_cursor",
                                  n > limit ? cpc__rest_cursor(last)
                                            : json_null()));
out:
  json_decref(items);
  cpc_sql_finalize(st);
  cpc__rest_db_put(r, db);
  return 0;
}

/* ---- owner writes ----------------------------------------------------------- */

typedef struct owner_write {
  const char *content_id;
  const char *caller;
  json_t *items; /* borrowed, validated */
  int64_t now;
  int64_t unused; /* out: audit tokens left (top-up) */
} owner_write;

/*
 * Load the content for an owner's write: visible to caller (else 404), owned
 * by caller (else 403). *access gets its access_control. Answers errors
 * itself and returns non-zero then.
 */
static int load_owned(cpc_http_request *req, cpc_sql *db, const char *caller,
                      char *id, size_t cap, int *access) {
  char owner[CPC_PEER_ID_MAX_TEXT];
  cpc_sql_stmt *st = NULL;
  int rc = cpc__rest_load_visible(req, db, caller, &st);
  if (rc != 0) {
    cpc_sql_finalize(st); /* it may be set on failure too */
    return rc;
  }
  cpc__q_text(st, 0, id, cap);
  cpc__q_text(st, 1, owner, sizeof owner);
  *access = (int)cpc__q_col_int(st, 5, 2);
  cpc_sql_finalize(st);
  if (strcmp(owner, caller) != 0) {
    cpc_http_respond_error(req, 403, "forbidden",
                           "only the owner may change this content");
    return CPC_EPERM;
  }
  return 0;
}

/* The content must still be active and the caller's (a delete may race). */
static int still_owned_txn(cpc_sql *db, const owner_write *w) {
  int64_t one;
  int rc = cpc__q_int(db, &one,
                      "SELECT 1 FROM content WHERE content_id = $1 AND "
                      "owner = $2 AND state = 0",
                      "ss", w->content_id, w->caller);
  return rc == CPC_ENOENT ? CPC_ESTATE : rc;
}

static int keys_txn(cpc_sql *db, void *arg) {
  owner_write *w = arg;
  uint8_t buf[MAX_SEALED];
  size_t i, n;
  json_t *v;
  int rc = still_owned_txn(db, w);
  json_array_foreach(w->items, i, v) {
    if (rc != 0)
      break;
    if (cpc__rest_unb64(json_string_value(json_object_get(v, "sealed_key")),
                        buf, sizeof buf, &n) != 0)
      return CPC_EMALFORMED; /* validated before: cannot happen */
    rc = cpc__q_run(db, NULL,
                    "INSERT INTO wrapped_keys (content_id, reader, sealed_key) "
                    "VALUES ($1, $2, $3) ON CONFLICT (content_id, reader) "
                    "DO UPDATE SET sealed_key = excluded.sealed_key",
                    "ssb", w->content_id,
                    json_string_value(json_object_get(v, "reader")), buf, n);
  }
  return rc;
}

/* The single array field name of body j, validated present. */
static json_t *only_field(cpc_http_request *req, json_t *j, const char *name) {
  json_t *a = json_object_get(j, name);
  if (json_object_size(j) != 1 || !json_is_array(a) ||
      json_array_size(a) == 0) {
    cpc_http_respond_error(req, 400, "invalid_field",
                           "the body must be {\"%s\": [ ... ]} with at least "
                           "one item",
                           name);
    return NULL;
  }
  return a;
}

static int put_keys(cpc_http_request *req, void *ctx) {
  cpc__rest *r = ctx;
  char me[CPC_PEER_ID_MAX_TEXT], id[CPC__MAX_CID_TEXT + 1];
  const char *caller = cpc__rest_caller(req, me, sizeof me);
  json_t *j = NULL, *a, *v;
  cpc_sql *db = NULL;
  owner_write w;
  size_t i, k;
  int access, rc;

  if (cpc_http_request_json(req, &j) != 0)
    return 0;
  if (!(a = only_field(req, j, "wrapped_keys")) ||
      cpc__rest_check_wrapped(req, a) != 0)
    goto out;
  json_array_foreach(a, i, v) {
    for (k = 0; k < i; k++)
      if (json_equal(json_object_get(json_array_get(a, k), "reader"),
                     json_object_get(v, "reader"))) {
        bad(req, "wrapped_keys", "must not name a reader twice");
        goto out;
      }
  }
  db = cpc__rest_db_get(r);
  if (!db) {
    cpc__rest_fail(req, CPC_EIO);
    goto out;
  }
  if (load_owned(req, db, caller, id, sizeof id, &access) != 0)
    goto out;
  if (access == 0) {
    bad(req, "wrapped_keys",
        "are not used for public content (its key is stored in clear)");
    goto out;
  }
  memset(&w, 0, sizeof w);
  w.content_id = id;
  w.caller = caller;
  w.items = a;
  rc = cpc_sql_transact(db, keys_txn, &w);
  if (rc == CPC_ESTATE)
    cpc_http_respond_error(req, 404, "not_found", "no such content");
  else if (rc != 0)
    cpc__rest_fail(req, rc);
  else
    cpc_http_respond(req, 204, NULL, NULL, 0);
out:
  json_decref(j);
  cpc__rest_db_put(r, db);
  return 0;
}

static int tokens_txn(cpc_sql *db, void *arg) {
  owner_write *w = arg;
  uint8_t nonce[64], expected[64];
  size_t i, n;
  json_t *v;
  int64_t one;
  int rc = still_owned_txn(db, w);
  json_array_foreach(w->items, i, v) {
    const char *cid = json_string_value(json_object_get(v, "cid"));
    if (rc != 0)
      break;
    rc = cpc__q_int(db, &one,
                    "SELECT 1 FROM chunks WHERE content_id = $1 AND cid = $2 "
                    "LIMIT 1",
                    "ss", w->content_id, cid);
    if (rc == CPC_ENOENT)
      return CPC_EMISMATCH;
    if (rc != 0)
      break;
    cpc__rest_unb64(json_string_value(json_object_get(v, "nonce")), nonce,
                    sizeof nonce, &n);
    cpc__rest_unb64(json_string_value(json_object_get(v, "expected")),
                    expected, sizeof expected, &n);
    rc = cpc__orch_audit_token_add(
        db, w->content_id, cid,
        (uint64_t)json_integer_value(json_object_get(v, "offset")),
        (uint64_t)json_integer_value(json_object_get(v, "length")), nonce,
        expected, NULL);
  }
  if (rc == 0)
    rc = cpc__q_int(db, &w->unused,
                    "SELECT count(*) FROM audit_tokens WHERE content_id = $1 "
                    "AND used = 0",
                    "s", w->content_id);
  return rc;
}

static int post_tokens(cpc_http_request *req, void *ctx) {
  cpc__rest *r = ctx;
  char me[CPC_PEER_ID_MAX_TEXT], id[CPC__MAX_CID_TEXT + 1];
  const char *caller = cpc__rest_caller(req, me, sizeof me);
  json_t *j = NULL, *a;
  cpc_sql *db = NULL;
  owner_write w;
  int access, rc;

  if (cpc_http_request_json(req, &j) != 0)
    return 0;
  if (!(a = only_field(req, j, "audit_tokens")) ||
      cpc__rest_check_tokens(req, a, NULL) != 0)
    goto out;
  db = cpc__rest_db_get(r);
  if (!db) {
    cpc__rest_fail(req, CPC_EIO);
    goto out;
  }
  if (load_owned(req, db, caller, id, sizeof id, &access) != 0)
    goto out;
  memset(&w, 0, sizeof w);
  w.content_id = id;
  w.caller = caller;
  w.items = a;
  rc = cpc_sql_transact(db, tokens_txn, &w);
  if (rc == CPC_ESTATE)
    cpc_http_respond_error(req, 404, "not_found", "no such content");
  else if (rc == CPC_EMISMATCH)
    bad(req, "audit_tokens", "cid must be one of the content's chunks");
  else if (rc != 0)
    cpc__rest_fail(req, rc);
  else
    cpc_http_respond_json(req, 200,
                          json_pack("{s:I, s:I}", "added",
                                    (json_int_t)json_array_size(a),
                                    "audit_tokens_unused",
                                    (json_int_t)w.unused));
out:
  json_decref(j);
  cpc__rest_db_put(r, db);
  return 0;
}

int cpc__rest_content_owner_routes(cpc_http_router *rt, cpc__rest *r) {
  int rc = cpc_http_router_add(rt, "GET", "/v1/content",
                               CPC_HTTP_AUTH_OPTIONAL, list_content, r);
  if (rc == 0)
    rc = cpc_http_router_add(rt, "PUT", "/v1/content/{cid}/keys",
                             CPC_HTTP_AUTH_REQUIRED, put_keys, r);
  if (rc == 0)
    rc = cpc_http_router_add(rt, "POST", "/v1/content/{cid}/audit_tokens",
                             CPC_HTTP_AUTH_REQUIRED, post_tokens, r);
  return rc;
}
