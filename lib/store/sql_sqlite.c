/*
 * sql_sqlite.c: the SQLite back end of cpc/sql.h.
 *
 * Compiling a statement costs more than running a short one, so each
 * connection keeps up to CACHE_MAX finished statements (reset, bindings
 * cleared) keyed by their SQL text, and cpc_sql_prepare of the same text
 * takes one back instead of compiling again. The process-wide memory
 * statistics of SQLite are switched off: they put one global mutex around
 * every allocation of every connection.
 */
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "store/sql_int.h"

#define H(db) ((sqlite3 *)(db)->handle)
#define S(st) ((sqlite3_stmt *)(st)->handle)

#define CACHE_MAX 32

typedef struct cached_stmt {
  uint64_t hash;
  char *sql; /* owned */
  sqlite3_stmt *s;
} cached_stmt;

/* A connection's idle statements; slot order is age (0 is the oldest). */
typedef struct stmt_cache {
  cached_stmt v[CACHE_MAX];
  size_t n;
} stmt_cache;

static uint64_t sql_hash(const char *sql) {
  uint64_t h = UINT64_C(1469598103934665603);
  for (; *sql; sql++)
    h = (h ^ (unsigned char)*sql) * UINT64_C(1099511628211);
  return h;
}

/* Take an idle statement for sql out of db's cache; NULL when none. */
static sqlite3_stmt *cache_take(cpc_sql *db, const char *sql, uint64_t h) {
  stmt_cache *c = db->engine_state;
  size_t i;
  if (!c)
    return NULL;
  for (i = c->n; i-- > 0;) {
    if (c->v[i].hash == h && strcmp(c->v[i].sql, sql) == 0) {
      sqlite3_stmt *s = c->v[i].s;
      free(c->v[i].sql);
      memmove(&c->v[i], &c->v[i + 1], (c->n - i - 1) * sizeof c->v[0]);
      c->n--;
      return s;
    }
  }
  return NULL;
}

/* Keep finished statement s for later (or finalize it). */
static void cache_put(cpc_sql *db, sqlite3_stmt *s) {
  stmt_cache *c = db->engine_state;
  const char *sql = sqlite3_sql(s);
  char *copy;
  if (!c || !sql || !(copy = strdup(sql))) {
    sqlite3_finalize(s);
    return;
  }
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  if (c->n == CACHE_MAX) { /* evict the oldest */
    sqlite3_finalize(c->v[0].s);
    free(c->v[0].sql);
    memmove(&c->v[0], &c->v[1], (CACHE_MAX - 1) * sizeof c->v[0]);
    c->n--;
  }
  c->v[c->n].hash = sql_hash(copy);
  c->v[c->n].sql = copy;
  c->v[c->n].s = s;
  c->n++;
}

static void cache_free(cpc_sql *db) {
  stmt_cache *c = db->engine_state;
  size_t i;
  if (!c)
    return;
  for (i = 0; i < c->n; i++) {
    sqlite3_finalize(c->v[i].s);
    free(c->v[i].sql);
  }
  free(c);
  db->engine_state = NULL;
}

static void lite_global_init(void) {
  /* Fails harmlessly (SQLITE_MISUSE) if SQLite was already initialised. */
  (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* Maps an (extended) SQLite result code to a CPC_E* code. */
static int map_rc(int rc) {
  switch (rc) {
  case SQLITE_CONSTRAINT_UNIQUE:
  case SQLITE_CONSTRAINT_PRIMARYKEY:
  case SQLITE_CONSTRAINT_ROWID:
    return CPC_EEXIST;
  case SQLITE_CONSTRAINT_FOREIGNKEY:
    return CPC_ENOENT;
  case SQLITE_FULL:
    return CPC_ENOSPC;
  case SQLITE_NOMEM:
    return CPC_ENOMEM;
  case SQLITE_TOOBIG:
    return CPC_ETOOBIG;
  case SQLITE_ERROR: /* syntax, missing table or column */
  case SQLITE_RANGE:
  case SQLITE_MISMATCH:
    return CPC_EINVAL;
  }
  switch (rc & 0xff) {
  case SQLITE_CONSTRAINT:
    return CPC_EINVAL; /* NOT NULL, CHECK */
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
    return CPC_EAGAIN;
  case SQLITE_FULL:
    return CPC_ENOSPC;
  case SQLITE_NOMEM:
    return CPC_ENOMEM;
  case SQLITE_ERROR:
    return CPC_EINVAL;
  }
  return CPC_EIO;
}

static int fail(cpc_sql *db, int rc) {
  cpc__sql_set_error(db, sqlite3_errmsg(H(db)));
  return map_rc(rc);
}

static void lite_close(cpc_sql *db) {
  cache_free(db);
  sqlite3_close_v2(H(db));
}

static int lite_exec(cpc_sql *db, const char *sql) {
  char *msg = NULL;
  int rc = sqlite3_exec(H(db), sql, NULL, NULL, &msg);
  if (rc != SQLITE_OK) {
    cpc__sql_set_error(db, msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return map_rc(sqlite3_extended_errcode(H(db)));
  }
  return 0;
}

static int lite_set_lock_timeout(cpc_sql *db, uint32_t ms) {
  int rc = sqlite3_busy_timeout(H(db), ms > INT_MAX ? INT_MAX : (int)ms);
  return rc == SQLITE_OK ? 0 : fail(db, rc);
}

static int lite_prepare(cpc_sql_stmt *st, const char *sql) {
  sqlite3_stmt *s = NULL;
  const char *tail = NULL;
  uint64_t h = sql_hash(sql);
  int rc;
  s = cache_take(st->db, sql, h);
  if (s) {
    st->handle = s;
    return 0;
  }
  rc = sqlite3_prepare_v2(H(st->db), sql, -1, &s, &tail);
  if (rc != SQLITE_OK)
    return fail(st->db, rc);
  if (!s) {
    cpc__sql_set_error(st->db, "no SQL statement");
    return CPC_EINVAL;
  }
  while (tail && (*tail == ' ' || *tail == '\n' || *tail == '\t' ||
                  *tail == '\r' || *tail == ';'))
    tail++;
  if (tail && *tail) {
    sqlite3_finalize(s);
    cpc__sql_set_error(st->db, "more than one statement (use cpc_sql_exec)");
    return CPC_EINVAL;
  }
  st->handle = s;
  return 0;
}

static void lite_finalize(cpc_sql_stmt *st) { cache_put(st->db, S(st)); }

static int bind_all(cpc_sql_stmt *st) {
  sqlite3_stmt *s = S(st);
  for (int i = 0; i < st->n_params; i++) {
    const struct cpc__sql_param *p = &st->params[i];
    int rc = SQLITE_OK;
    switch (p->type) {
    case CPC__SQL_UNSET:
    case CPC__SQL_NULL: rc = sqlite3_bind_null(s, i + 1); break;
    case CPC__SQL_INT: rc = sqlite3_bind_int64(s, i + 1, p->i); break;
    case CPC__SQL_DOUBLE: rc = sqlite3_bind_double(s, i + 1, p->d); break;
    case CPC__SQL_TEXT:
      rc = sqlite3_bind_text64(s, i + 1, p->p, p->len, SQLITE_STATIC,
                               SQLITE_UTF8);
      break;
    case CPC__SQL_BLOB:
      rc = sqlite3_bind_blob64(s, i + 1, p->p, p->len, SQLITE_STATIC);
      break;
    }
    if (rc != SQLITE_OK)
      return fail(st->db, rc);
  }
  return 0;
}

static int lite_step(cpc_sql_stmt *st) {
  sqlite3_stmt *s = S(st);
  if (!st->running) {
    sqlite3_reset(s);
    int rc = bind_all(st);
    if (rc)
      return rc;
    st->running = 1;
    st->changes = 0;
  }
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW)
    return CPC_SQL_ROW;
  st->running = 0;
  if (rc == SQLITE_DONE) {
    st->changes = sqlite3_stmt_readonly(s) ? 0 : sqlite3_changes64(H(st->db));
    sqlite3_reset(s);
    return CPC_SQL_DONE;
  }
  rc = fail(st->db, sqlite3_extended_errcode(H(st->db)));
  sqlite3_reset(s);
  return rc;
}

static void lite_reset(cpc_sql_stmt *st) { sqlite3_reset(S(st)); }

static int lite_column_count(const cpc_sql_stmt *st) {
  return sqlite3_data_count(S(st));
}

static int lite_is_null(const cpc_sql_stmt *st, int col) {
  return sqlite3_column_type(S(st), col) == SQLITE_NULL;
}

static int lite_int64(cpc_sql_stmt *st, int col, int64_t *out) {
  if (sqlite3_column_type(S(st), col) != SQLITE_INTEGER)
    return CPC_EMALFORMED;
  *out = sqlite3_column_int64(S(st), col);
  return 0;
}

static int lite_double(cpc_sql_stmt *st, int col, double *out) {
  int t = sqlite3_column_type(S(st), col);
  if (t != SQLITE_FLOAT && t != SQLITE_INTEGER)
    return CPC_EMALFORMED;
  *out = sqlite3_column_double(S(st), col);
  return 0;
}

static int lite_text(cpc_sql_stmt *st, int col, const char **out,
                     size_t *len) {
  const unsigned char *t = sqlite3_column_text(S(st), col);
  if (!t)
    return CPC_ENOMEM; /* not NULL (checked), so the conversion failed */
  *out = (const char *)t;
  *len = (size_t)sqlite3_column_bytes(S(st), col);
  return 0;
}

static int lite_blob(cpc_sql_stmt *st, int col, const void **out,
                     size_t *len) {
  const void *b = sqlite3_column_blob(S(st), col);
  int n = sqlite3_column_bytes(S(st), col);
  *out = b ? b : (const void *)"";
  *len = (size_t)n;
  return 0;
}

static const struct cpc__sql_ops lite_ops = {
    .close = lite_close,
    .exec = lite_exec,
    .set_lock_timeout = lite_set_lock_timeout,
    .prepare = lite_prepare,
    .finalize = lite_finalize,
    .step = lite_step,
    .reset = lite_reset,
    .column_count = lite_column_count,
    .is_null = lite_is_null,
    .col_int64 = lite_int64,
    .col_double = lite_double,
    .col_text = lite_text,
    .col_blob = lite_blob,
    .begin_sql = "BEGIN IMMEDIATE",
    .now_ms_sql =
        "SELECT CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
    .translate_params = 1,
};

int cpc__sql_sqlite_open(cpc_sql *db, const char *path) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  sqlite3 *h = NULL;
  (void)pthread_once(&once, lite_global_init);
  db->ops = &lite_ops;
  db->engine = CPC_SQL_SQLITE;
  db->engine_state = calloc(1, sizeof(stmt_cache)); /* NULL: no cache */
  int rc = sqlite3_open_v2(path, &h,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                               SQLITE_OPEN_NOMUTEX,
                           NULL);
  db->handle = h;
  if (rc != SQLITE_OK) {
    cpc__sql_set_errorf(db, "cannot open SQLite database %s: %s", path,
                        h ? sqlite3_errmsg(h) : sqlite3_errstr(rc));
    cache_free(db);
    sqlite3_close_v2(h);
    db->handle = NULL;
    return rc == SQLITE_NOMEM ? CPC_ENOMEM : CPC_EIO;
  }
  sqlite3_extended_result_codes(h, 1);
  sqlite3_busy_timeout(h, 5000);
  /* journal_mode answers with a row; "memory" for :memory: is fine */
  rc = lite_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                     "PRAGMA foreign_keys=ON");
  if (rc) {
    char *msg = db->errmsg;
    db->errmsg = NULL;
    cpc__sql_set_errorf(db, "cannot set up SQLite database %s: %s", path,
                        msg ? msg : "?");
    free(msg);
    cache_free(db);
    sqlite3_close_v2(h);
    db->handle = NULL;
    return CPC_EIO;
  }
  return 0;
}
