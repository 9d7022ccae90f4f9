/*
 * request.c: what handlers read from a request.
 */
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/http.h"
#include "http/http_int.h"

void cpc__http_request_release(struct cpc_http_request *req) {
  free(req->target);
  free(req->body);
  req->target = NULL;
  req->body = NULL;
  req->body_len = req->body_cap = 0;
  cpc__http_response_clear(&req->resp);
}

const char *cpc_http_request_method(const cpc_http_request *req) {
  return req->method;
}

const char *cpc_http_request_target(const cpc_http_request *req) {
  return req->target;
}

const char *cpc_http_request_route(const cpc_http_request *req) {
  return req->routed ? req->match.pattern : NULL;
}

const char *cpc_http_request_param(const cpc_http_request *req,
                                   const char *name) {
  if (!req->routed)
    return NULL;
  for (size_t i = 0; i < req->match.nparams; i++)
    if (strcmp(req->match.names[i], name) == 0)
      return req->match.values[i];
  return NULL;
}

const char *cpc_http_request_query(const cpc_http_request *req,
                                   const char *name) {
  return cpc_http_query_get(&req->query, name);
}

const cpc_http_query *cpc_http_request_query_all(const cpc_http_request *req) {
  return &req->query;
}

const char *cpc_http_request_header(const cpc_http_request *req,
                                    const char *name) {
  return req->conn ? cpc__http_conn_header(req->conn, name) : NULL;
}

const uint8_t *cpc_http_request_body(const cpc_http_request *req, size_t *len) {
  if (len)
    *len = req->body_len;
  return req->body;
}

int cpc_http_request_json(cpc_http_request *req, json_t **out) {
  char msg[256];
  int rc;

  rc = cpc_http_json_parse(req->body, req->body_len, req->max_json_depth, out,
                           msg, sizeof msg);
  if (rc == CPC_ENOMEM)
    cpc_http_respond_error(req, 500, "internal", "%s", msg);
  else if (rc != 0)
    cpc_http_respond_error(req, 400, "malformed_json", "%s", msg);
  return rc;
}

const cpc_peer_id *cpc_http_request_caller(const cpc_http_request *req) {
  return req->has_caller ? &req->caller : NULL;
}
