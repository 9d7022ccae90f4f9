/*
 * sql_lease.c: named leases in the cpc_leases table (see cpc/sql.h), for
 * splitting work between processes that share a database.
 */
#include <string.h>

#include "cpc/error.h"
#include "store/sql_int.h"

#define MAX_TTL_MS (366LL * 24 * 3600 * 1000)
#define MAX_NAME 1024

int cpc_sql_now_ms(cpc_sql *db, int64_t *out) {
  if (!db || !out)
    return CPC_EINVAL;
  int found;
  int rc = cpc__sql_query_int64(db, db->ops->now_ms_sql, out, &found);
  if (!rc && !found)
    rc = CPC_EIO;
  return rc;
}

static int name_ok(const char *s) {
  size_t n = s ? strnlen(s, MAX_NAME + 1) : 0;
  return n > 0 && n <= MAX_NAME;
}

/* Runs sql with ($1 name, $2 owner[, $3 expires[, $4 now]]); *changes. */
static int run(cpc_sql *db, const char *sql, const char *name,
               const char *owner, int64_t expires, int64_t now, int n_params,
               int64_t *changes) {
  cpc_sql_stmt *st = NULL;
  int rc = cpc_sql_prepare(db, sql, &st);
  if (rc)
    return rc;
  if ((rc = cpc_sql_bind_str(st, 1, name)) != 0 ||
      (rc = cpc_sql_bind_str(st, 2, owner)) != 0)
    goto out;
  if (n_params >= 3 && (rc = cpc_sql_bind_int64(st, 3, expires)) != 0)
    goto out;
  if (n_params >= 4 && (rc = cpc_sql_bind_int64(st, 4, now)) != 0)
    goto out;
  rc = cpc_sql_step(st);
  if (rc == CPC_SQL_DONE)
    rc = cpc_sql_changes(st, changes);
  else if (rc == CPC_SQL_ROW)
    rc = CPC_EINVAL;
out:
  cpc_sql_finalize(st);
  return rc;
}

int cpc_sql_lease_acquire(cpc_sql *db, const char *name, const char *owner,
                          int64_t ttl_ms, int64_t now_ms, int *acquired,
                          int64_t *expires_at) {
  if (acquired)
    *acquired = 0;
  if (!db || !acquired || !name_ok(name) || !name_ok(owner) || ttl_ms <= 0 ||
      ttl_ms > MAX_TTL_MS || now_ms < 0 || now_ms > INT64_MAX - MAX_TTL_MS)
    return CPC_EINVAL;
  int rc;
  if (now_ms == 0 && (rc = cpc_sql_now_ms(db, &now_ms)) != 0)
    return rc;
  int64_t expires = now_ms + ttl_ms, changes = 0;
  rc = run(db,
           "INSERT INTO cpc_leases (name, owner, expires_at) VALUES ($1, $2, "
           "$3) ON CONFLICT (name) DO NOTHING",
           name, owner, expires, 0, 3, &changes);
  if (rc)
    return rc;
  if (changes == 0) {
    /* held: renew our own, or take over an expired one */
    rc = run(db,
             "UPDATE cpc_leases SET owner = $2, expires_at = $3 WHERE name = "
             "$1 AND (owner = $2 OR expires_at <= $4)",
             name, owner, expires, now_ms, 4, &changes);
    if (rc)
      return rc;
  }
  *acquired = changes == 1;
  if (*acquired && expires_at)
    *expires_at = expires;
  return 0;
}

int cpc_sql_lease_release(cpc_sql *db, const char *name, const char *owner,
                          int *released) {
  if (released)
    *released = 0;
  if (!db || !name_ok(name) || !name_ok(owner))
    return CPC_EINVAL;
  int64_t changes = 0;
  int rc = run(db, "DELETE FROM cpc_leases WHERE name = $1 AND owner = $2",
               name, owner, 0, 0, 2, &changes);
  if (!rc && released)
    *released = changes == 1;
  return rc;
}
