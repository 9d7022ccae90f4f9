/*
 * rest_follows.c: the follow graph.
 *   PUT    /v1/users/{peer_id}/following/{other}   follow (owner only)
 *   DELETE /v1/users/{peer_id}/following/{other}   unfollow (owner only)
 *   GET    /v1/users/{peer_id}/following           paginated
 *   GET    /v1/users/{peer_id}/followers           paginated
 * Both writes are idempotent (204 either way).
 */
#include <string.h>

#include "cpc/error.h"
#include "orchestrator/orchestrator_int.h"
#include "orchestrator/rest_int.h"

static int change(cpc_http_request *req, cpc__rest *r, int follow) {
  char pid[CPC_PEER_ID_MAX_TEXT], other[CPC_PEER_ID_MAX_TEXT],
      me[CPC_PEER_ID_MAX_TEXT];
  cpc_sql *db;
  int rc;

  if (cpc__rest_peer_text(cpc_http_request_param(req, "peer_id"), pid,
                          sizeof pid) != 0 ||
      cpc__rest_peer_text(cpc_http_request_param(req, "other"), other,
                          sizeof other) != 0)
    return cpc_http_respond_error(req, 404, "not_found", "no such user");
  if (!cpc__rest_caller(req, me, sizeof me) || strcmp(me, pid) != 0)
    return cpc_http_respond_error(req, 403, "forbidden",
                                  "only the user may change whom they follow");
  if (strcmp(pid, other) == 0)
    return cpc_http_respond_error(req, 400, "invalid_field",
                                  "a user cannot follow themselves");
  db = cpc__rest_db_get(r);
  if (!db)
    return cpc__rest_fail(req, CPC_EIO);
  rc = cpc__rest_user_exists(db, pid);
  if (rc == 1)
    rc = cpc__rest_user_exists(db, other);
  if (rc == 0) {
    cpc_http_respond_error(req, 404, "not_found", "no such user");
    goto out;
  }
  if (rc == 1 && follow)
    rc = cpc__q_run(db, NULL,
                    "INSERT INTO follows (follower, followee, created_at) "
                    "VALUES ($1, $2, $3) ON CONFLICT (follower, followee) "
                    "DO NOTHING",
                    "ssi", pid, other, cpc__orch_now_ms());
  else if (rc == 1)
    rc = cpc__q_run(db, NULL,
                    "DELETE FROM follows WHERE follower = $1 AND followee = $2",
                    "ss", pid, other);
  if (rc < 0)
    cpc__rest_fail(req, rc);
  else
    cpc_http_respond(req, 204, NULL, NULL, 0);
out:
  cpc__rest_db_put(r, db);
  return 0;
}

static int put_follow(cpc_http_request *req, void *ctx) {
  return change(req, ctx, 1);
}
static int delete_follow(cpc_http_request *req, void *ctx) {
  return change(req, ctx, 0);
}

static int list(cpc_http_request *req, cpc__rest *r, int followers) {
  static const char *const q[2] = {
      "SELECT followee, created_at FROM follows WHERE follower = $1 AND "
      "followee > $2 ORDER BY followee LIMIT $3",
      "SELECT follower, created_at FROM follows WHERE followee = $1 AND "
      "follower > $2 ORDER BY follower LIMIT $3"};
  char pid[CPC_PEER_ID_MAX_TEXT], key[CPC__REST_MAX_KEY + 1],
      last[CPC_PEER_ID_MAX_TEXT] = "";
  cpc_sql *db = NULL;
  cpc_sql_stmt *st = NULL;
  json_t *items = NULL;
  int64_t limit, n = 0;
  int rc;

  if (cpc__rest_peer_text(cpc_http_request_param(req, "peer_id"), pid,
                          sizeof pid) != 0)
    return cpc_http_respond_error(req, 404, "not_found", "no such user");
  if (cpc__rest_page_args(req, &limit, key, sizeof key) != 0)
    return 0;
  db = cpc__rest_db_get(r);
  if (!db)
    return cpc__rest_fail(req, CPC_EIO);
  rc = cpc__rest_user_exists(db, pid);
  if (rc == 0) {
    cpc_http_respond_error(req, 404, "not_found", "no such user");
    goto out;
  }
  if (rc == 1)
    rc = cpc__q_prepare(db, &st, q[followers], "ssi", pid, key, limit + 1);
  items = json_array();
  while (rc >= 0 && (rc = cpc_sql_step(st)) == CPC_SQL_ROW) {
    if (n++ == limit)
      break;
    cpc__q_text(st, 0, last, sizeof last);
    json_array_append_new(items,
                          json_pack("{s:s, s:I}", "peer_id", last, "since",
                                    (json_int_t)cpc__q_col_int(st, 1, 0)));
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

static int get_following(cpc_http_request *req, void *ctx) {
  return list(req, ctx, 0);
}
static int get_followers(cpc_http_request *req, void *ctx) {
  return list(req, ctx, 1);
}

int cpc__rest_follows_routes(cpc_http_router *rt, cpc__rest *r) {
  int rc = cpc_http_router_add(rt, "PUT", "/v1/users/{peer_id}/following/{other}",
                               CPC_HTTP_AUTH_REQUIRED, put_follow, r);
  if (rc == 0)
    rc = cpc_http_router_add(rt, "DELETE",
                             "/v1/users/{peer_id}/following/{other}",
                             CPC_HTTP_AUTH_REQUIRED, delete_follow, r);
  if (rc == 0)
    rc = cpc_http_router_add(rt, "GET", "/v1/users/{peer_id}/following",
                             CPC_HTTP_AUTH_NONE, get_following, r);
  if (rc == 0)
    rc = cpc_http_router_add(rt, "GET", "/v1/users/{peer_id}/followers",
                             CPC_HTTP_AUTH_NONE, get_followers, r);
  return rc;
}
