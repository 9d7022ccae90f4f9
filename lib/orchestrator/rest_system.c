/*
 * rest_system.c: operational routes.
 *   GET /healthz           200 {"status":"ok"} when the database answers
 *   GET /metrics           the registry, OpenMetrics or Prometheus text;
 *                          the database gauges are refreshed first when
 *                          older than a second
 *   GET /v1/openapi.json   docs/openapi.json, embedded at build time
 */
#include <stdlib.h>

#include "cpc/error.h"
#include "orchestrator/orchestrator_int.h"
#include "orchestrator/rest_int.h"

static int healthz(cpc_http_request *req, void *ctx) {
  cpc__rest *r = ctx;
  cpc_sql *db = cpc__rest_db_get(r);
  int64_t one = 0;
  int rc = db ? cpc__q_int(db, &one, "SELECT 1", "") : CPC_EIO;
  cpc__rest_db_put(r, db);
  if (rc != 0)
    return cpc_http_respond_error(req, 503, "unavailable",
                                  "the database does not answer");
  cpc_http_response_header(req, "Cache-Control", "no-store");
  return cpc_http_respond_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

static int metrics(cpc_http_request *req, void *ctx) {
  cpc__rest *r = ctx;
  enum cpc_metrics_format f =
      cpc_metrics_negotiate(cpc_http_request_header(req, "Accept"));
  char *text = NULL;
  size_t len = 0;
  cpc_sql *db = cpc__rest_db_get(r);
  int rc;
  /* A database that does not answer leaves the last values: the scrape
   * itself still succeeds (the request counters say the rest). */
  (void)cpc__orchestrator_refresh_metrics(r->orch, db);
  cpc__rest_db_put(r, db);
  rc = cpc_metrics_render(r->metrics, f, &text, &len);
  if (rc != 0)
    return cpc_http_respond_error(req, 500, "internal", "cannot render: %s",
                                  cpc_strerror(rc));
  cpc_http_respond(req, 200, cpc_metrics_content_type(f), text, len);
  free(text);
  return 0;
}

static int openapi(cpc_http_request *req, void *ctx) {
  (void)ctx;
  return cpc_http_respond(req, 200, "application/json",
                          cpc__orchestrator_openapi,
                          cpc__orchestrator_openapi_len);
}

int cpc__rest_system_routes(cpc_http_router *rt, cpc__rest *r) {
  int rc = cpc_http_router_add(rt, "GET", "/healthz", CPC_HTTP_AUTH_NONE,
                               healthz, r);
  if (rc == 0)
    rc = cpc_http_router_add(rt, "GET", "/metrics", CPC_HTTP_AUTH_NONE,
                             metrics, r);
  if (rc == 0)
    rc = cpc_http_router_add(rt, "GET", "/v1/openapi.json", CPC_HTTP_AUTH_NONE,
                             openapi, r);
  return rc;
}
