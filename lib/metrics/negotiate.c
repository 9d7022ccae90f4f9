/*
 * negotiate.c: picks the exposition format from an HTTP Accept header
 * (RFC 9110 section 12.5.1) and names its Content-Type (see cpc/metrics.h).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cpc/metrics.h"

const char *cpc_metrics_content_type(enum cpc_metrics_format fmt) {
  return fmt == CPC_METRICS_OPENMETRICS ? CPC_METRICS_CONTENT_TYPE_OPENMETRICS
                                        : CPC_METRICS_CONTENT_TYPE_PROMETHEUS;
}

static int is_space(char c) { return c == ' ' || c == '\t'; }

/* [s, e) with blanks trimmed on both sides. */
static void trim(const char **s, const char **e) {
  while (*s < *e && is_space(**s))
    (*s)++;
  while (*e > *s && is_space((*e)[-1]))
    (*e)--;
}

static int token_is(const char *s, const char *e, const char *word) {
  size_t n = strlen(word);
  return (size_t)(e - s) == n && strncasecmp(s, word, n) == 0;
}

/* A q value: "0", "1", "0.xyz", "1.000" (anything else counts as 0). */
static double parse_q(const char *s, const char *e) {
  if (s == e || (*s != '0' && *s != '1'))
    return 0;
  double q = *s - '0', scale = 0.1;
  s++;
  if (s < e && *s == '.') {
    for (s++; s < e && *s >= '0' && *s <= '9'; s++, scale /= 10)
      q += (*s - '0') * scale;
  }
  if (s != e || q > 1)
    return 0;
  return q;
}

/*
 * One media range [s, e): its kind (1 OpenMetrics 1.0.0 or unversioned,
 * 2 text/plain 0.0.4 or unversioned or a wildcard, 0 other) and q.
 */
static int media_range(const char *s, const char *e, double *q) {
  const char *semi = memchr(s, ';', (size_t)(e - s));
  const char *type_end = semi ? semi : e, *ts = s;
  trim(&ts, &type_end);
  int kind = 0;
  if (token_is(ts, type_end, "application/openmetrics-text"))
    kind = 1;
  else if (token_is(ts, type_end, "text/plain") ||
           token_is(ts, type_end, "text/*") || token_is(ts, type_end, "*/*"))
    kind = 2;
  *q = 1;
  const char *p = semi;
  while (p && p < e) {
    const char *ps = p + 1;
    const char *pe = memchr(ps, ';', (size_t)(e - ps));
    p = pe;
    if (!pe)
      pe = e;
    const char *eq = memchr(ps, '=', (size_t)(pe - ps));
    if (!eq)
      continue;
    const char *ns = ps, *ne = eq, *vs = eq + 1, *ve = pe;
    trim(&ns, &ne);
    trim(&vs, &ve);
    if (ve - vs >= 2 && *vs == '"' && ve[-1] == '"')
      vs++, ve--;
    if (token_is(ns, ne, "q"))
      *q = parse_q(vs, ve);
    else if (token_is(ns, ne, "version")) {
      if (kind == 1 && !token_is(vs, ve, "1.0.0"))
        kind = 0;
      else if (kind == 2 && !token_is(vs, ve, "0.0.4"))
        kind = 0;
    }
  }
  return kind;
}

enum cpc_metrics_format cpc_metrics_negotiate(const char *accept) {
  if (!accept)
    return CPC_METRICS_PROMETHEUS;
  double om = 0, prom = 0;
  const char *s = accept;
  for (;;) {
    const char *e = strchr(s, ',');
    const char *end = e ? e : s + strlen(s);
    double q;
    int kind = media_range(s, end, &q);
    if (kind == 1 && q > om)
      om = q;
    else if (kind == 2 && q > prom)
      prom = q;
    if (!e)
      break;
    s = e + 1;
  }
  return om > 0 && om >= prom ? CPC_METRICS_OPENMETRICS
                              : CPC_METRICS_PROMETHEUS;
}
