/*
 * json_text.c: JSON written straight into a growing buffer, for the hot
 * answers (locate) where building a jansson tree and dumping it costs more
 * than the database work. Callers write well-formed JSON by construction;
 * strings are escaped here.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchestrator/rest_int.h"

void cpc__jt_raw(cpc__jtext *t, const char *s, size_t n) {
  if (t->oom)
    return;
  if (t->len + n + 1 > t->cap) {
    size_t cap = t->cap ? t->cap : 1024;
    char *p;
    while (cap < t->len + n + 1)
      cap *= 2;
    p = realloc(t->p, cap);
    if (!p) {
      t->oom = 1;
      return;
    }
    t->p = p;
    t->cap = cap;
  }
  memcpy(t->p + t->len, s, n);
  t->len += n;
  t->p[t->len] = '\0';
}

void cpc__jt_lit(cpc__jtext *t, const char *s) { cpc__jt_raw(t, s, strlen(s)); }

void cpc__jt_str(cpc__jtext *t, const char *s) {
  static const char hex[] = "0123456789abcdef";
  const char *run = s;
  cpc__jt_raw(t, "\"", 1);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    char esc[6] = {'\\', 'u', '0', '0', 0, 0};
    size_t n = 2;
    if (c >= 0x20 && c != '"' && c != '\\')
      continue;
    cpc__jt_raw(t, run, (size_t)(s - run));
    run = s + 1;
    if (c == '"' || c == '\\')
      esc[1] = (char)c;
    else if (c == '\n')
      esc[1] = 'n';
    else if (c == '\t')
      esc[1] = 't';
    else if (c == '\r')
      esc[1] = 'r';
    else {
      esc[4] = hex[c >> 4];
      esc[5] = hex[c & 15];
      n = 6;
    }
    cpc__jt_raw(t, esc, n);
  }
  cpc__jt_raw(t, run, (size_t)(s - run));
  cpc__jt_raw(t, "\"", 1);
}

void cpc__jt_int(cpc__jtext *t, int64_t v) {
  char buf[24];
  int n = snprintf(buf, sizeof buf, "%" PRId64, v);
  cpc__jt_raw(t, buf, (size_t)n);
}

void cpc__jt_free(cpc__jtext *t) {
  free(t->p);
  memset(t, 0, sizeof *t);
}
