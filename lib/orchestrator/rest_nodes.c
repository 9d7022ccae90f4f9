/*
 * rest_nodes.c: provider node status (public, no auth).
 *   GET /v1/nodes              paginated by peer id
 *   GET /v1/nodes/{peer_id}
 */
#include <string.h>

#include "cpc/error.h"
#include "orchestrator/orchestrator_int.h"
#include "orchestrator/rest_int.h"

static const char *const STATE[] = {"vetting", "active", "offline",
                                    "disqualified", "left"};

#define NODE_COLS                                                              \
  "peer_id, state, state_reason, capacity_bytes, used_bytes, free_bytes, "   \
  "bandwidth_bps, region, addrs, registered_at, last_heartbeat, "            \
  "audits_passed, audits_failed, audit_score"

static json_t *node_json(cpc_sql_stmt *st, char *pid, size_t cap) {
  char reason[CPC__MAX_REASON], region[CPC__MAX_REGION + 1];
  const char *addrs = "[]";
  size_t l;
  double score = 0;
  int64_t s = cpc__q_col_int(st, 1, 0);
  json_t *a;
  cpc__q_text(st, 0, pid, cap);
  cpc__q_text(st, 2, reason, sizeof reason);
  cpc__q_text(st, 7, region, sizeof region);
  cpc_sql_column_text(st, 8, &addrs, &l);
  cpc_sql_column_double(st, 13, &score);
  a = json_loads(addrs ? addrs : "[]", 0, NULL);
  return json_pack(
      "{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:o, s:I, s:I, s:I, s:I, "
      "s:f}",
      "peer_id", pid, "state", STATE[s >= 0 && s <= 4 ? s : 4], "state_reason",
      reason, "capacity_bytes", (json_int_t)cpc__q_col_int(st, 3, 0),
      "used_bytes", (json_int_t)cpc__q_col_int(st, 4, 0), "free_bytes",
      (json_int_t)cpc__q_col_int(st, 5, -1), "bandwidth_bps",
      (json_int_t)cpc__q_col_int(st, 6, 0), "region", region, "addrs",
      a ? a : json_array(), "registered_at",
      (json_int_t)cpc__q_col_int(st, 9, 0), "last_heartbeat",
      (json_int_t)cpc__q_col_int(st, 10, 0), "audits_passed",
      (json_int_t)cpc__q_col_int(st, 11, 0), "audits_failed",
      (json_int_t)cpc__q_col_int(st, 12, 0), "audit_score", score);
}

static int list_nodes(cpc_http_request *req, void *ctx) {
  cpc__rest *r = ctx;
  char key[CPC__REST_MAX_KEY + 1], last[CPC_PEER_ID_MAX_TEXT] = "";
  cpc_sql *db;
  cpc_sql_stmt *st = NULL;
  json_t *items;
  int64_t limit, n = 0;
  int rc;

  if (cpc__rest_page_args(req, &limit, key, sizeof key) != 0)
    return 0;
  db = cpc__rest_db_get(r);
  if (!db)
    return cpc__rest_fail(req, CPC_EIO);
  rc = cpc__q_prepare(db, &st,
                      "SELECT " NODE_COLS " FROM nodes WHERE peer_id > $1 "
                      "ORDER BY peer_id LIMIT $2",
                      "si", key, limit + 1);
  items = json_array();
  while (rc == 0 && (rc = cpc_sql_step(st)) == CPC_SQL_ROW) {
    rc = 0;
    if (n++ == limit)
      break;
    json_array_append_new(items, node_json(st, last, sizeof last));
  }
  if (rc < 0)
    cpc__rest_fail(req, rc);
  else
    cpc_http_respond_json(req, 200,
                          json_pack("{s:O, s:o}", "items", items, "next_cursor",
                                    n > limit ? cpc__rest_cursor(last)
                                              : json_null()));
  json_decref(items);
  cpc_sql_finalize(st);
  cpc__rest_db_put(r, db);
  return 0;
}

static int get_node(cpc_http_request *req, void *ctx) {
  cpc__rest *r = ctx;
  char pid[CPC_PEER_ID_MAX_TEXT];
  cpc_sql *db;
  cpc_sql_stmt *st = NULL;
  int rc;

  if (cpc__rest_peer_text(cpc_http_request_param(req, "peer_id"), pid,
                          sizeof pid) != 0)
    return cpc_http_respond_error(req, 404, "not_found", "no such node");
  db = cpc__rest_db_get(r);
  if (!db)
    return cpc__rest_fail(req, CPC_EIO);
  rc = cpc__q_prepare(db, &st,
                      "SELECT " NODE_COLS " FROM nodes WHERE peer_id = $1", "s",
                      pid);
  if (rc == 0)
    rc = cpc_sql_step(st);
  if (rc == CPC_SQL_ROW)
    cpc_http_respond_json(req, 200, node_json(st, pid, sizeof pid));
  else if (rc == CPC_SQL_DONE)
    cpc_http_respond_error(req, 404, "not_found", "no such node");
  else
    cpc__rest_fail(req, rc);
  cpc_sql_finalize(st);
  cpc__rest_db_put(r, db);
  return 0;
}

int cpc__rest_nodes_routes(cpc_http_router *rt, cpc__rest *r) {
  int rc = cpc_http_router_add(rt, "GET", "/v1/nodes", CPC_HTTP_AUTH_NONE,
                               list_nodes, r);
  if (rc == 0)
    rc = cpc_http_router_add(rt, "GET", "/v1/nodes/{peer_id}",
                             CPC_HTTP_AUTH_NONE, get_node, r);
  return rc;
}
