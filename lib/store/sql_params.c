/*
 * sql_params.c: the $N parameter syntax of cpc/sql.h. Finds parameters
 * outside string literals, quoted identifiers and comments, checks them,
 * and rewrites them as ?N for SQLite (whose own "$name" parameters would
 * number by first appearance, not by N).
 */
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "store/sql_int.h"

int cpc__sql_scan_params(const char *sql, int translate, char **out,
                         int *n_params) {
  unsigned char used[CPC_SQL_MAX_PARAMS + 1] = {0};
  int max = 0;
  *out = NULL;
  *n_params = 0;
  size_t len = strnlen(sql, CPC_SQL_MAX_STATEMENT + 1);
  if (len > CPC_SQL_MAX_STATEMENT)
    return CPC_ETOOBIG;
  /* "$100" becomes "?100": never longer */
  char *t = malloc(len + 1), *w = t;
  if (!t)
    return CPC_ENOMEM;
  const char *s = sql, *end = sql + len;
  while (s < end) {
    char c = *s;
    if (c == '\'' || c == '"') { /* '' and "" escape themselves */
      const char *q = s + 1;
      for (;;) {
        q = memchr(q, c, (size_t)(end - q));
        if (!q)
          goto bad;
        if (q + 1 < end && q[1] == c) {
          q += 2;
          continue;
        }
        break;
      }
      q++;
      memcpy(w, s, (size_t)(q - s));
      w += q - s;
      s = q;
    } else if (c == '-' && s + 1 < end && s[1] == '-') {
      const char *q = memchr(s, '\n', (size_t)(end - s));
      q = q ? q + 1 : end;
      memcpy(w, s, (size_t)(q - s));
      w += q - s;
      s = q;
    } else if (c == '/' && s + 1 < end && s[1] == '*') {
      const char *q = s + 2;
      while (q + 1 < end && !(q[0] == '*' && q[1] == '/'))
        q++;
      if (q + 1 >= end)
        goto bad;
      q += 2;
      memcpy(w, s, (size_t)(q - s));
      w += q - s;
      s = q;
    } else if (c == '?') {
      goto bad;
    } else if (c == '$') {
      const char *q = s + 1;
      int n = 0;
      if (q >= end || *q < '1' || *q > '9')
        goto bad; /* $$ quoting, $0, $name */
      while (q < end && *q >= '0' && *q <= '9') {
        n = n * 10 + (*q - '0');
        if (n > CPC_SQL_MAX_PARAMS)
          goto bad;
        q++;
      }
      used[n] = 1;
      if (n > max)
        max = n;
      *w++ = translate ? '?' : '$';
      memcpy(w, s + 1, (size_t)(q - s - 1));
      w += q - s - 1;
      s = q;
    } else {
      *w++ = c;
      s++;
    }
  }
  *w = '\0';
  for (int i = 1; i <= max; i++)
    if (!used[i])
      goto bad;
  *out = t;
  *n_params = max;
  return 0;
bad:
  free(t);
  return CPC_EINVAL;
}
