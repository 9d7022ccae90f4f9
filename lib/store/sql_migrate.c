/*
 * sql_migrate.c: versioned schema migrations (see cpc/sql.h).
 *
 * schema_migrations holds one row per applied version, plus a row with
 * version 0 that is never a schema version: each migration transaction
 * first updates that row, which takes a row lock both engines honour, so
 * concurrent migrators queue up (PostgreSQL then fails the later ones with
 * a serialization error; they retry, re-read the version and find the work
 * done). SQLite's BEGIN IMMEDIATE serializes them already.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpc/error.h"
#include "store/sql_int.h"

static const char library_tables[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version BIGINT PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " applied_at BIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS cpc_leases ("
    " name TEXT PRIMARY KEY,"
    " owner TEXT NOT NULL,"
    " expires_at BIGINT NOT NULL);"
    "INSERT INTO schema_migrations (version, name, applied_at)"
    " VALUES (0, 'migration lock', 0) ON CONFLICT (version) DO NOTHING";

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(int ms) {
  struct timespec ts = {0, (long)ms * 1000000};
  nanosleep(&ts, NULL);
}

int cpc_sql_schema_version(cpc_sql *db, int64_t *version) {
  if (!db || !version)
    return CPC_EINVAL;
  int64_t v = 0;
  int found;
  int rc = cpc__sql_query_int64(db, "SELECT max(version) FROM schema_migrations",
                                &v, &found);
  if (rc == CPC_EINVAL) { /* no table yet (or SQL the engine refused) */
    if (db->in_txn) {
      /* PostgreSQL aborts the transaction on any error */
      return rc;
    }
    rc = 0;
    v = 0;
  }
  if (rc)
    return rc;
  *version = found ? v : 0;
  return 0;
}

static int check_list(const cpc_sql_migration *migs, size_t n) {
  if (n && !migs)
    return CPC_EINVAL;
  if (n > CPC_SQL_MAX_MIGRATIONS)
    return CPC_EINVAL;
  for (size_t i = 0; i < n; i++) {
    if (migs[i].version <= 0 || (i && migs[i].version <= migs[i - 1].version))
      return CPC_EINVAL;
    if (!migs[i].sql)
      return CPC_EINVAL;
  }
  return 0;
}

/* One attempt at applying m (rc CPC_EAGAIN: try again). */
static int apply_one(cpc_sql *db, const cpc_sql_migration *m, int64_t last) {
  cpc_sql_stmt *st = NULL;
  int64_t v = 0;
  int rc = cpc_sql_begin(db);
  if (rc)
    return rc;
  rc = cpc_sql_exec(db, "UPDATE schema_migrations SET applied_at = applied_at "
                        "WHERE version = 0");
  if (rc)
    goto out;
  rc = cpc_sql_schema_version(db, &v);
  if (rc)
    goto out;
  if (v > last) {
    cpc__sql_set_errorf(db, "database schema version %lld is newer than this "
                            "program's %lld", (long long)v, (long long)last);
    rc = CPC_EUNSUPPORTED;
    goto out;
  }
  if (v >= m->version)
    goto out; /* another process applied it meanwhile */
  const char *sql = m->sql;
  if (db->engine == CPC_SQL_SQLITE && m->sql_sqlite)
    sql = m->sql_sqlite;
  if (db->engine == CPC_SQL_POSTGRES && m->sql_postgres)
    sql = m->sql_postgres;
  rc = cpc_sql_exec(db, sql);
  if (rc) {
    char *msg = db->errmsg;
    db->errmsg = NULL;
    cpc__sql_set_errorf(db, "migration %lld (%s) failed: %s",
                        (long long)m->version, m->name ? m->name : "",
                        msg ? msg : "");
    free(msg);
    goto out;
  }
  rc = cpc_sql_prepare(db, "INSERT INTO schema_migrations (version, name, "
                           "applied_at) VALUES ($1, $2, $3)",
                       &st);
  if (rc)
    goto out;
  if ((rc = cpc_sql_bind_int64(st, 1, m->version)) != 0 ||
      (rc = cpc_sql_bind_str(st, 2, m->name ? m->name : "")) != 0 ||
      (rc = cpc_sql_bind_int64(st, 3, wall_ms())) != 0)
    goto out;
  rc = cpc_sql_step(st);
out:
  cpc_sql_finalize(st);
  if (rc) {
    char *msg = db->errmsg;
    db->errmsg = NULL;
    if (db->in_txn)
      cpc_sql_rollback(db);
    free(db->errmsg);
    db->errmsg = msg;
    return rc;
  }
  return cpc_sql_commit(db);
}

int cpc_sql_migrate(cpc_sql *db, const cpc_sql_migration *migs, size_t n,
                    int64_t *version) {
  int rc;
  if (!db || check_list(migs, n))
    return CPC_EINVAL;
  if (db->in_txn)
    return CPC_ESTATE;
  int64_t last = n ? migs[n - 1].version : 0;

  /* concurrent CREATE TABLE IF NOT EXISTS may collide on PostgreSQL */
  for (int attempt = 0;; attempt++) {
    rc = cpc_sql_exec(db, library_tables);
    if (rc == 0 || attempt == 5 || (rc != CPC_EEXIST && rc != CPC_EAGAIN))
      break;
    pause_ms(10 << attempt);
  }
  if (rc)
    return rc;

  int64_t v;
  rc = cpc_sql_schema_version(db, &v);
  if (rc)
    return rc;
  if (v > last) {
    cpc__sql_set_errorf(db, "database schema version %lld is newer than this "
                            "program's %lld: upgrade the program",
                        (long long)v, (long long)last);
    return CPC_EUNSUPPORTED;
  }
  for (size_t i = 0; i < n; i++) {
    if (migs[i].version <= v)
      continue;
    for (int attempt = 0;; attempt++) {
      rc = apply_one(db, &migs[i], last);
      if (rc != CPC_EAGAIN || attempt == CPC_SQL_TRANSACT_ATTEMPTS)
        break;
      pause_ms(1 + attempt * 5);
    }
    if (rc)
      return rc;
  }
  if (version)
    return cpc_sql_schema_version(db, version);
  return 0;
}

/* ---- migration files ------------------------------------------------- */

#include <dirent.h>
#include <sys/stat.h>

static int read_file(const char *path, char **out) {
  int rc = 0;
  char *buf = NULL;
  FILE *f = fopen(path, "rb");
  if (!f)
    return CPC_EIO;
  struct stat sb;
  if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
    rc = CPC_EIO;
    goto out;
  }
  if (sb.st_size > CPC_SQL_MAX_STATEMENT) {
    rc = CPC_ETOOBIG;
    goto out;
  }
  size_t n = (size_t)sb.st_size;
  buf = malloc(n + 1);
  if (!buf) {
    rc = CPC_ENOMEM;
    goto out;
  }
  if (fread(buf, 1, n, f) != n || memchr(buf, '\0', n)) {
    rc = CPC_EIO;
    goto out;
  }
  buf[n] = '\0';
out:
  fclose(f);
  if (rc) {
    free(buf);
    return rc;
  }
  *out = buf;
  return 0;
}

void cpc_sql_migrations_free(cpc_sql_migration *migs, size_t n) {
  if (!migs)
    return;
  for (size_t i = 0; i < n; i++) {
    free((char *)migs[i].name);
    free((char *)migs[i].sql);
    free((char *)migs[i].sql_sqlite);
    free((char *)migs[i].sql_postgres);
  }
  free(migs);
}

static int ends_with(const char *s, size_t n, const char *suffix) {
  size_t k = strlen(suffix);
  return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static int by_version(const void *a, const void *b) {
  const cpc_sql_migration *x = a, *y = b;
  return (x->version > y->version) - (x->version < y->version);
}

/* Files are "<version>_<name>[.sqlite|.postgres].sql". */
int cpc_sql_migrations_load_dir(const char *dir, cpc_sql_migration **out,
                                size_t *n_out) {
  int rc = 0;
  cpc_sql_migration *migs = NULL;
  size_t n = 0, cap = 0;
  char *text = NULL;
  if (out)
    *out = NULL;
  if (n_out)
    *n_out = 0;
  if (!dir || !out || !n_out)
    return CPC_EINVAL;
  DIR *d = opendir(dir);
  if (!d)
    return CPC_EIO;
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    const char *fn = e->d_name;
    size_t len = strlen(fn);
    if (!ends_with(fn, len, ".sql"))
      continue;
    int engine = 0; /* 0 portable, 1 sqlite, 2 postgres */
    size_t stem = len - 4;
    if (ends_with(fn, stem, ".sqlite"))
      engine = 1, stem -= 7;
    else if (ends_with(fn, stem, ".postgres"))
      engine = 2, stem -= 9;
    int64_t version = 0;
    size_t i = 0;
    for (; i < stem && fn[i] >= '0' && fn[i] <= '9'; i++) {
      if (version > (INT64_MAX - 9) / 10) {
        rc = CPC_EMALFORMED;
        goto out;
      }
      version = version * 10 + (fn[i] - '0');
    }
    if (i == 0 || version == 0 || i >= stem || fn[i] != '_') {
      rc = CPC_EMALFORMED;
      goto out;
    }
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, fn) >= sizeof path) {
      rc = CPC_ETOOBIG;
      goto out;
    }
    rc = read_file(path, &text);
    if (rc)
      goto out;
    cpc_sql_migration *m = NULL;
    for (size_t k = 0; k < n; k++)
      if (migs[k].version == version)
        m = &migs[k];
    if (!m) {
      if (n == CPC_SQL_MAX_MIGRATIONS) {
        rc = CPC_ETOOBIG;
        goto out;
      }
      if (n == cap) {
        size_t c = cap ? cap * 2 : 16;
        cpc_sql_migration *p = realloc(migs, c * sizeof *p);
        if (!p) {
          rc = CPC_ENOMEM;
          goto out;
        }
        migs = p;
        cap = c;
      }
      m = &migs[n++];
      memset(m, 0, sizeof *m);
      m->version = version;
    }
    const char **slot = engine == 0   ? &m->sql
                        : engine == 1 ? &m->sql_sqlite
                                      : &m->sql_postgres;
    if (*slot) {
      rc = CPC_EMALFORMED; /* two files for one version and engine */
      goto out;
    }
    *slot = text;
    text = NULL;
    if (engine == 0) {
      size_t name_len = stem - i - 1;
      char *name = malloc(name_len + 1);
      if (!name) {
        rc = CPC_ENOMEM;
        goto out;
      }
      memcpy(name, fn + i + 1, name_len);
      name[name_len] = '\0';
      m->name = name;
    }
  }
  for (size_t k = 0; k < n; k++) {
    if (!migs[k].sql) {
      rc = CPC_EMALFORMED; /* an engine variant without the portable file */
      goto out;
    }
  }
  if (n)
    qsort(migs, n, sizeof *migs, by_version);
out:
  closedir(d);
  free(text);
  if (rc) {
    cpc_sql_migrations_free(migs, n);
    return rc;
  }
  *out = migs;
  *n_out = n;
  return 0;
}
