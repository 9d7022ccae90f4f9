/*
 * store_query.c: bind-by-format helpers over cpc/sql.h, so the
 * orchestrator's data access reads as SQL plus its arguments.
 */
#include <stdarg.h>
#include <string.h>

#include "cpc/error.h"
#include "orchestrator/orchestrator_int.h"

static int bind_va(cpc_sql_stmt *st, const char *fmt, va_list ap) {
  int idx = 1, rc = 0;
  const char *s;
  const void *p;
  size_t len;
  for (; fmt && *fmt && rc == 0; fmt++, idx++) {
    switch (*fmt) {
    case 'i':
      rc = cpc_sql_bind_int64(st, idx, va_arg(ap, int64_t));
      break;
    case 'd':
      rc = cpc_sql_bind_double(st, idx, va_arg(ap, double));
      break;
    case 's':
      s = va_arg(ap, const char *);
      rc = s ? cpc_sql_bind_str(st, idx, s) : cpc_sql_bind_null(st, idx);
      break;
    case 'b':
      p = va_arg(ap, const void *);
      len = va_arg(ap, size_t);
      rc = cpc_sql_bind_blob(st, idx, p, len);
      break;
    case 'n':
      rc = cpc_sql_bind_null(st, idx);
      break;
    default:
      rc = CPC_EINVAL;
    }
  }
  return rc;
}

int cpc__q_prepare(cpc_sql *db, cpc_sql_stmt **st, const char *sql,
                   const char *fmt, ...) {
  va_list ap;
  int rc;
  *st = NULL;
  rc = cpc_sql_prepare(db, sql, st);
  if (rc != 0)
    return rc;
  va_start(ap, fmt);
  rc = bind_va(*st, fmt, ap);
  va_end(ap);
  if (rc != 0) {
    cpc_sql_finalize(*st);
    *st = NULL;
  }
  return rc;
}

int cpc__q_run(cpc_sql *db, int64_t *changes, const char *sql, const char *fmt,
               ...) {
  cpc_sql_stmt *st = NULL;
  va_list ap;
  int rc;
  rc = cpc_sql_prepare(db, sql, &st);
  if (rc != 0)
    return rc;
  va_start(ap, fmt);
  rc = bind_va(st, fmt, ap);
  va_end(ap);
  if (rc != 0)
    goto out;
  while ((rc = cpc_sql_step(st)) == CPC_SQL_ROW)
    ;
  if (rc == CPC_SQL_DONE && changes)
    rc = cpc_sql_changes(st, changes);
out:
  cpc_sql_finalize(st);
  return rc;
}

int cpc__q_int(cpc_sql *db, int64_t *out, const char *sql, const char *fmt,
               ...) {
  cpc_sql_stmt *st = NULL;
  va_list ap;
  int rc;
  rc = cpc_sql_prepare(db, sql, &st);
  if (rc != 0)
    return rc;
  va_start(ap, fmt);
  rc = bind_va(st, fmt, ap);
  va_end(ap);
  if (rc != 0)
    goto out;
  rc = cpc_sql_step(st);
  if (rc == CPC_SQL_ROW)
    rc = cpc_sql_column_int64(st, 0, out);
  else if (rc == CPC_SQL_DONE)
    rc = CPC_ENOENT;
out:
  cpc_sql_finalize(st);
  return rc;
}

void cpc__q_text(cpc_sql_stmt *st, int col, char *out, size_t cap) {
  const char *s = NULL;
  size_t len = 0;
  if (cap == 0)
    return;
  out[0] = '\0';
  if (cpc_sql_column_text(st, col, &s, &len) != 0 || !s)
    return;
  if (len >= cap)
    len = cap - 1;
  memcpy(out, s, len);
  out[len] = '\0';
}

int64_t cpc__q_col_int(cpc_sql_stmt *st, int col, int64_t def) {
  int64_t v;
  return cpc_sql_column_int64(st, col, &v) == 0 ? v : def;
}
