/*
 * router.c: method + path-pattern routing with {params}.
 *
 * Patterns and paths are split on '/' after the leading one ("/" is one
 * empty segment). A route matches a path with as many segments when every
 * literal segment equals the decoded path segment and every {param} segment
 * is non-empty. Among the routes of one method that match, the one whose
 * first literal-vs-param difference is a literal wins (a score with one bit
 * per segment, the first segment the highest bit). Routes are few (tens),
 * so matching is a linear scan.
 */
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/http.h"
#include "http/http_int.h"

struct route {
  char method[CPC_HTTP_MAX_METHOD + 1];
  char *pattern;
  enum cpc_http_auth_mode auth;
  cpc_http_handler handler;
  void *ctx;
  size_t nseg;
  char *literal[CPC_HTTP_MAX_SEGMENTS]; /* NULL: a parameter */
  char *param[CPC_HTTP_MAX_SEGMENTS];   /* name, for parameters */
};

struct cpc_http_router {
  struct route *routes;
  size_t count;
  size_t cap;
};

int cpc_http_router_new(cpc_http_router **out) {
  *out = calloc(1, sizeof **out);
  return *out ? 0 : CPC_ENOMEM;
}

static void route_free(struct route *rt) {
  free(rt->pattern);
  for (size_t i = 0; i < rt->nseg; i++) {
    free(rt->literal[i]);
    free(rt->param[i]);
  }
}

void cpc_http_router_free(cpc_http_router *r) {
  if (!r)
    return;
  for (size_t i = 0; i < r->count; i++)
    route_free(&r->routes[i]);
  free(r->routes);
  free(r);
}

static int method_ok(const char *m) {
  size_t n = 0;
  for (; m[n]; n++)
    if (m[n] < 'A' || m[n] > 'Z' || n >= CPC_HTTP_MAX_METHOD)
      return 0;
  return n > 0;
}

static int literal_char_ok(char c) {
  return c > 0x20 && c < 0x7f && c != '/' && c != '{' && c != '}' && c != '?' &&
         c != '#' && c != '%';
}

static int name_char_ok(char c, int first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         (!first && c >= '0' && c <= '9');
}

/* Parse pattern into rt's segments (allocations owned by rt). */
static int parse_pattern(const char *pattern, struct route *rt) {
  const char *p;
  size_t len = strlen(pattern);

  if (len == 0 || pattern[0] != '/')
    return CPC_EINVAL;
  if (len > CPC_HTTP_MAX_PATTERN)
    return CPC_ETOOBIG;
  p = pattern + 1;
  for (;;) {
    const char *end = strchr(p, '/');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (rt->nseg == CPC_HTTP_MAX_SEGMENTS)
      return CPC_ETOOBIG;
    if (n >= 2 && p[0] == '{' && p[n - 1] == '}') {
      size_t nlen = n - 2;
      if (nlen == 0 || nlen > CPC_HTTP_MAX_PARAM_NAME)
        return nlen == 0 ? CPC_EINVAL : CPC_ETOOBIG;
      for (size_t i = 0; i < nlen; i++)
        if (!name_char_ok(p[1 + i], i == 0))
          return CPC_EINVAL;
      for (size_t i = 0; i < rt->nseg; i++)
        if (rt->param[i] && strlen(rt->param[i]) == nlen &&
            memcmp(rt->param[i], p + 1, nlen) == 0)
          return CPC_EINVAL; /* duplicate name */
      rt->param[rt->nseg] = strndup(p + 1, nlen);
      if (!rt->param[rt->nseg])
        return CPC_ENOMEM;
    } else {
      for (size_t i = 0; i < n; i++)
        if (!literal_char_ok(p[i]))
          return CPC_EINVAL;
      rt->literal[rt->nseg] = strndup(p, n);
      if (!rt->literal[rt->nseg])
        return CPC_ENOMEM;
    }
    rt->nseg++;
    if (!end)
      break;
    p = end + 1;
  }
  {
    size_t nparams = 0;
    for (size_t i = 0; i < rt->nseg; i++)
      nparams += rt->param[i] != NULL;
    if (nparams > CPC_HTTP_MAX_PARAMS)
      return CPC_ETOOBIG;
  }
  return 0;
}

/* 1 if a and b match the same paths (same literals at the same places). */
static int same_shape(const struct route *a, const struct route *b) {
  if (a->nseg != b->nseg)
    return 0;
  for (size_t i = 0; i < a->nseg; i++) {
    if (!a->literal[i] != !b->literal[i])
      return 0;
    if (a->literal[i] && strcmp(a->literal[i], b->literal[i]) != 0)
      return 0;
  }
  return 1;
}

int cpc_http_router_add(cpc_http_router *r, const char *method,
                        const char *pattern, enum cpc_http_auth_mode auth,
                        cpc_http_handler handler, void *ctx) {
  struct route rt;
  int rc;

  memset(&rt, 0, sizeof rt);
  if (!r || !method || !pattern || !handler || !method_ok(method) ||
      (auth != CPC_HTTP_AUTH_NONE && auth != CPC_HTTP_AUTH_REQUIRED &&
       auth != CPC_HTTP_AUTH_OPTIONAL))
    return CPC_EINVAL;
  if (r->count == CPC_HTTP_MAX_ROUTES)
    return CPC_ETOOBIG;
  rc = parse_pattern(pattern, &rt);
  if (rc != 0)
    goto out;
  for (size_t i = 0; i < r->count; i++) {
    if (strcmp(r->routes[i].method, method) == 0 &&
        same_shape(&r->routes[i], &rt)) {
      rc = CPC_EEXIST;
      goto out;
    }
  }
  if (r->count == r->cap) {
    size_t ncap = r->cap ? r->cap * 2 : 16;
    struct route *n = realloc(r->routes, ncap * sizeof *n);
    if (!n) {
      rc = CPC_ENOMEM;
      goto out;
    }
    r->routes = n;
    r->cap = ncap;
  }
  rt.pattern = strdup(pattern);
  if (!rt.pattern) {
    rc = CPC_ENOMEM;
    goto out;
  }
  strcpy(rt.method, method); /* method_ok checked the length */
  rt.auth = auth;
  rt.handler = handler;
  rt.ctx = ctx;
  r->routes[r->count++] = rt;
  return 0;
out:
  route_free(&rt);
  return rc;
}

/* Append method to allow ("GET, POST") unless it is there already. */
static void allow_add(char *allow, size_t cap, const char *method) {
  size_t used = strlen(allow), n = strlen(method);
  const char *p = allow;

  while ((p = strstr(p, method)) != NULL) {
    if ((p == allow || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0'))
      return;
    p += n;
  }
  if (used + (used ? 2 : 0) + n + 1 > cap)
    return; /* over 128 bytes of methods: keep the first ones */
  if (used) {
    memcpy(allow + used, ", ", 2);
    used += 2;
  }
  memcpy(allow + used, method, n + 1);
}

/* Score of rt against the decoded segments, or -1 if it does not match. */
static long route_score(const struct route *rt, size_t nseg,
                        char *const seg[]) {
  long score = 0;

  if (rt->nseg != nseg)
    return -1;
  for (size_t i = 0; i < nseg; i++) {
    if (rt->literal[i]) {
      if (strcmp(rt->literal[i], seg[i]) != 0)
        return -1;
      score |= 1L << (CPC_HTTP_MAX_SEGMENTS - 1 - i);
    } else if (seg[i][0] == '\0') {
      return -1;
    }
  }
  return score;
}

int cpc_http_router_match(const cpc_http_router *r, const char *method,
                          const char *path, size_t path_len,
                          cpc_http_match *m) {
  char *seg[CPC_HTTP_MAX_SEGMENTS];
  size_t nseg = 0, used = 0, i = 1;
  const struct route *best = NULL, *best_get = NULL;
  long best_score = -1, best_get_score = -1;
  int is_head = strcmp(method, "HEAD") == 0, rc;

  m->allow[0] = '\0';
  m->nparams = 0;
  if (path_len == 0 || path[0] != '/')
    return CPC_EMALFORMED;
  if (path_len > CPC_HTTP_MAX_TARGET)
    return CPC_ETOOBIG;
  /* Each segment decodes to at most its raw length plus a NUL, and takes
   * the place of its leading '/': the total fits in path_len bytes. */
  for (;;) {
    size_t end = i, n;
    while (end < path_len && path[end] != '/')
      end++;
    if (nseg == CPC_HTTP_MAX_SEGMENTS)
      return CPC_ETOOBIG;
    rc = cpc__http_pct_decode(path + i, end - i, 0, m->buf + used, &n);
    if (rc != 0)
      return rc;
    seg[nseg++] = m->buf + used;
    used += n + 1;
    if (end >= path_len)
      break;
    i = end + 1;
  }

  for (size_t k = 0; k < r->count; k++) {
    const struct route *rt = &r->routes[k];
    long s = route_score(rt, nseg, seg);
    if (s < 0)
      continue;
    allow_add(m->allow, sizeof m->allow, rt->method);
    if (strcmp(rt->method, "GET") == 0) {
      allow_add(m->allow, sizeof m->allow, "HEAD");
      if (s > best_get_score) {
        best_get = rt;
        best_get_score = s;
      }
    }
    if (strcmp(rt->method, method) == 0 && s > best_score) {
      best = rt;
      best_score = s;
    }
  }
  if (!best && is_head)
    best = best_get;
  if (!best)
    return CPC_ENOENT;

  m->pattern = best->pattern;
  m->method = best->method;
  m->auth = best->auth;
  m->handler = best->handler;
  m->ctx = best->ctx;
  for (size_t k = 0; k < nseg; k++) {
    if (best->param[k]) {
      m->names[m->nparams] = best->param[k];
      m->values[m->nparams] = seg[k];
      m->nparams++;
    }
  }
  m->allow[0] = '\0';
  return 0;
}
