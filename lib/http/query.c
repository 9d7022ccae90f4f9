/*
 * query.c: percent-decoding and query-string parsing.
 */
#include <string.h>

#include "cpc/error.h"
#include "cpc/http.h"
#include "http/http_int.h"

static int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int cpc__http_pct_decode(const char *in, size_t len, int plus_is_space,
                         char *out, size_t *out_len) {
  size_t o = 0;

  for (size_t i = 0; i < len; i++) {
    char c = in[i];
    if (c == '%') {
      int hi, lo;
      if (len - i < 3)
        return CPC_EMALFORMED;
      hi = hex_value(in[i + 1]);
      lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
        return CPC_EMALFORMED;
      out[o++] = (char)(hi << 4 | lo);
      i += 2;
    } else if (c == '\0') {
      return CPC_EMALFORMED;
    } else {
      out[o++] = (plus_is_space && c == '+') ? ' ' : c;
    }
  }
  out[o] = '\0';
  if (out_len)
    *out_len = o;
  return 0;
}

int cpc_http_query_parse(const char *query, size_t len, cpc_http_query *q) {
  size_t used = 0, i = 0;
  int rc;

  q->count = 0;
  if (len > CPC_HTTP_MAX_QUERY)
    return CPC_ETOOBIG;
  while (i < len) {
    size_t end = i, eq, n;
    while (end < len && query[end] != '&')
      end++;
    if (end == i) { /* empty piece: "&&" or a leading/trailing '&' */
      i = end + 1;
      continue;
    }
    if (q->count == CPC_HTTP_MAX_QUERY_PARAMS)
      return CPC_ETOOBIG;
    eq = i;
    while (eq < end && query[eq] != '=')
      eq++;
    if (eq == i)
      return CPC_EMALFORMED; /* "=value": no name */
    /* Decoded text never grows. A pair takes at most its raw bytes + 2
     * (two NULs, one of them standing for '=' when present); pairs are
     * separated by '&', so the total is at most len + count + 1, within
     * buf (CPC_HTTP_MAX_QUERY + 2 * CPC_HTTP_MAX_QUERY_PARAMS + 2). */
    rc = cpc__http_pct_decode(query + i, eq - i, 1, q->buf + used, &n);
    if (rc != 0)
      return rc;
    q->names[q->count] = q->buf + used;
    used += n + 1;
    if (eq < end) {
      rc = cpc__http_pct_decode(query + eq + 1, end - eq - 1, 1, q->buf + used,
                                &n);
      if (rc != 0)
        return rc;
    } else {
      q->buf[used] = '\0';
      n = 0;
    }
    q->values[q->count] = q->buf + used;
    used += n + 1;
    q->count++;
    i = end + 1;
  }
  return 0;
}

const char *cpc_http_query_get(const cpc_http_query *q, const char *name) {
  for (size_t i = 0; i < q->count; i++)
    if (strcmp(q->names[i], name) == 0)
      return q->values[i];
  return NULL;
}
