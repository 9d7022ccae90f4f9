/*
 * fuzz_router.c: the request-target parsing a server does before any
 * handler runs: router matching (path splitting, %-decoding, parameters,
 * the Allow list) and query-string parsing. The first byte picks the
 * method; the rest is the request-target. A match must give the pattern's
 * parameters, each non-empty and NUL-free; a miss gives a sane Allow list.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int h(cpc_http_request *req, void *ctx) {
  (void)req;
  (void)ctx;
  return 0;
}

static cpc_http_router *router;

static const struct {
  const char *method, *pattern;
  size_t nparams;
} routes[] = {
    {"GET", "/", 0},
    {"GET", "/healthz", 0},
    {"POST", "/v1/users", 0},
    {"GET", "/v1/users/{peer_id}", 1},
    {"GET", "/v1/users/me", 0},
    {"GET", "/v1/users/{peer_id}/profile", 1},
    {"PUT", "/v1/users/{peer_id}/profile", 1},
    {"GET", "/v1/users/{peer_id}/following/{other}", 2},
    {"PUT", "/v1/users/{peer_id}/following/{other}", 2},
    {"DELETE", "/v1/users/{peer_id}/following/{other}", 2},
    {"GET", "/v1/content/{cid}/locate", 1},
    {"GET", "/v1/{a}/{b}/{c}/{d}/{e}/{f}/{g}", 7},
};

static const char *methods[] = {"GET",    "HEAD",  "POST",    "PUT",
                                "DELETE", "PATCH", "OPTIONS", "BREW"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static cpc_http_match m;
  static cpc_http_query q;
  const char *target, *qm;
  size_t path_len;
  int rc;

  if (!router) {
    if (cpc_http_router_new(&router) != 0)
      abort();
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
      if (cpc_http_router_add(router, routes[i].method, routes[i].pattern,
                              CPC_HTTP_AUTH_NONE, h, (void *)&routes[i]) != 0)
        abort();
  }
  if (size < 1)
    return 0;
  target = (const char *)data + 1;
  qm = memchr(target, '?', size - 1);
  path_len = qm ? (size_t)(qm - target) : size - 1;

  rc =
      cpc_http_router_match(router, methods[data[0] % 8], target, path_len, &m);
  if (rc == 0) {
    const __typeof__(routes[0]) *rt = m.ctx;
    if (strcmp(rt->pattern, m.pattern) != 0 || m.nparams != rt->nparams)
      abort();
    for (size_t i = 0; i < m.nparams; i++) {
      size_t n = strlen(m.values[i]);
      if (n == 0 || n > path_len)
        abort();
    }
  } else if (rc == CPC_ENOENT) {
    if (strlen(m.allow) >= sizeof m.allow)
      abort();
  } else if (rc != CPC_EMALFORMED && rc != CPC_ETOOBIG) {
    abort();
  }

  if (qm) {
    size_t qlen = size - 1 - path_len - 1;
    rc = cpc_http_query_parse(qm + 1, qlen, &q);
    if (rc == 0) {
      if (q.count > CPC_HTTP_MAX_QUERY_PARAMS)
        abort();
      for (size_t i = 0; i < q.count; i++)
        if (q.names[i][0] == '\0' || strlen(q.values[i]) > qlen)
          abort();
    } else if (rc != CPC_EMALFORMED && rc != CPC_ETOOBIG) {
      abort();
    }
  }
  return 0;
}
