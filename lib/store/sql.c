/*
 * sql.c: the engine-neutral part of cpc/sql.h: URL dispatch, statements
 * and their bindings, transactions with retry, error messages.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpc/error.h"
#include "store/sql_int.h"

void cpc__sql_set_error(cpc_sql *db, const char *msg) {
  free(db->errmsg);
  db->errmsg = NULL;
  if (msg) {
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
      n--; /* libpq ends its messages with a newline */
    db->errmsg = malloc(n + 1);
    if (db->errmsg) {
      memcpy(db->errmsg, msg, n);
      db->errmsg[n] = '\0';
    }
  }
}

void cpc__sql_set_errorf(cpc_sql *db, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  cpc__sql_set_error(db, buf);
}

int cpc__sql_sqlstate_rc(const char *s) {
  if (!s || strlen(s) != 5)
    return CPC_EIO;
  /* unique violation; duplicate table / object (42P07, 42710: two sessions
   * racing on CREATE … IF NOT EXISTS, which PostgreSQL does not serialize) */
  if (!strcmp(s, "23505") || !strcmp(s, "42P07") || !strcmp(s, "42710"))
    return CPC_EEXIST;
  if (!strcmp(s, "23503"))
    return CPC_ENOENT;
  if (!strncmp(s, "23", 2) || !strncmp(s, "22", 2) || !strncmp(s, "42", 2))
    return CPC_EINVAL; /* constraint, data, syntax or access rule */
  if (!strcmp(s, "40001") || !strcmp(s, "40P01") || !strcmp(s, "55P03"))
    return CPC_EAGAIN;
  if (!strcmp(s, "53100") || !strcmp(s, "53200"))
    return s[3] == '1' ? CPC_ENOSPC : CPC_ENOMEM;
  if (!strcmp(s, "57014"))
    return CPC_ETIMEDOUT;
  return CPC_EIO;
}

int cpc_sql_open(const char *url, cpc_sql **out, char **errmsg) {
  int rc;
  if (errmsg)
    *errmsg = NULL;
  if (out)
    *out = NULL;
  if (!url || !out || strnlen(url, CPC_SQL_MAX_URL + 1) > CPC_SQL_MAX_URL)
    return CPC_EINVAL;
  cpc_sql *db = calloc(1, sizeof *db);
  if (!db)
    return CPC_ENOMEM;
  if (!strncmp(url, "sqlite:", 7)) {
    if (!url[7]) {
      free(db);
      return CPC_EINVAL;
    }
    rc = cpc__sql_sqlite_open(db, url + 7);
  } else if (!strncmp(url, "postgres://", 11) ||
             !strncmp(url, "postgresql://", 13)) {
    rc = cpc__sql_postgres_open(db, url);
  } else {
    free(db);
    return CPC_EINVAL;
  }
  if (rc) {
    if (errmsg && db->errmsg) {
      *errmsg = db->errmsg;
      db->errmsg = NULL;
    }
    free(db->errmsg);
    free(db);
    return rc;
  }
  *out = db;
  return 0;
}

void cpc_sql_close(cpc_sql *db) {
  if (!db)
    return;
  while (db->stmts)
    cpc_sql_finalize(db->stmts);
  if (db->in_txn)
    db->ops->exec(db, "ROLLBACK");
  db->ops->close(db);
  free(db->errmsg);
  free(db);
}

enum cpc_sql_engine cpc_sql_engine_of(const cpc_sql *db) {
  return db->engine;
}

const char *cpc_sql_errmsg(const cpc_sql *db) {
  return db && db->errmsg ? db->errmsg : "";
}

int cpc_sql_set_lock_timeout(cpc_sql *db, uint32_t ms) {
  if (!db)
    return CPC_EINVAL;
  return db->ops->set_lock_timeout(db, ms);
}

int cpc_sql_exec(cpc_sql *db, const char *sql) {
  if (!db || !sql || strnlen(sql, CPC_SQL_MAX_STATEMENT + 1) >
                         CPC_SQL_MAX_STATEMENT)
    return CPC_EINVAL;
  return db->ops->exec(db, sql);
}

int cpc_sql_prepare(cpc_sql *db, const char *sql, cpc_sql_stmt **out) {
  int rc;
  char *text = NULL;
  cpc_sql_stmt *st = NULL;
  if (out)
    *out = NULL;
  if (!db || !sql || !out)
    return CPC_EINVAL;
  int n;
  rc = cpc__sql_scan_params(sql, db->ops->translate_params, &text, &n);
  if (rc) {
    cpc__sql_set_errorf(db, "bad parameters in SQL (use $1..$%d, each used, "
                            "no '?'): %.200s", CPC_SQL_MAX_PARAMS, sql);
    return rc == CPC_ENOMEM ? rc : CPC_EINVAL;
  }
  st = calloc(1, sizeof *st);
  if (!st) {
    rc = CPC_ENOMEM;
    goto out;
  }
  st->db = db;
  st->n_params = n;
  if (n) {
    st->params = calloc((size_t)n, sizeof *st->params);
    if (!st->params) {
      rc = CPC_ENOMEM;
      goto out;
    }
  }
  rc = db->ops->prepare(st, text);
  if (rc)
    goto out;
  st->next = db->stmts;
  if (db->stmts)
    db->stmts->prev = st;
  db->stmts = st;
  *out = st;
out:
  free(text);
  if (rc && st) {
    free(st->params);
    free(st);
  }
  return rc;
}

static void param_clear(struct cpc__sql_param *p) {
  free(p->p);
  memset(p, 0, sizeof *p);
}

void cpc_sql_finalize(cpc_sql_stmt *st) {
  if (!st)
    return;
  cpc_sql *db = st->db;
  db->ops->finalize(st);
  if (st->prev)
    st->prev->next = st->next;
  else
    db->stmts = st->next;
  if (st->next)
    st->next->prev = st->prev;
  for (int i = 0; i < st->n_params; i++)
    param_clear(&st->params[i]);
  free(st->params);
  free(st);
}

int cpc_sql_reset(cpc_sql_stmt *st) {
  if (!st)
    return CPC_EINVAL;
  if (st->running)
    st->db->ops->reset(st);
  st->running = 0;
  st->has_row = 0;
  return 0;
}

/* The parameter to (re)bind, with the statement reset and the old value
 * dropped; NULL if idx is out of range. */
static struct cpc__sql_param *param_slot(cpc_sql_stmt *st, int idx) {
  if (!st || idx < 1 || idx > st->n_params)
    return NULL;
  cpc_sql_reset(st);
  struct cpc__sql_param *p = &st->params[idx - 1];
  param_clear(p);
  return p;
}

int cpc_sql_bind_int64(cpc_sql_stmt *st, int idx, int64_t v) {
  struct cpc__sql_param *p = param_slot(st, idx);
  if (!p)
    return CPC_EINVAL;
  p->type = CPC__SQL_INT;
  p->i = v;
  return 0;
}

int cpc_sql_bind_double(cpc_sql_stmt *st, int idx, double v) {
  struct cpc__sql_param *p = param_slot(st, idx);
  if (!p)
    return CPC_EINVAL;
  p->type = CPC__SQL_DOUBLE;
  p->d = v;
  return 0;
}

static int bind_bytes(cpc_sql_stmt *st, int idx, const void *data, size_t len,
                      enum cpc__sql_param_type type) {
  if (!data && len)
    return CPC_EINVAL;
  if (len > CPC_SQL_MAX_STATEMENT * (size_t)64)
    return CPC_ETOOBIG;
  struct cpc__sql_param *p = param_slot(st, idx);
  if (!p)
    return CPC_EINVAL;
  p->p = malloc(len + 1);
  if (!p->p)
    return CPC_ENOMEM;
  if (len)
    memcpy(p->p, data, len);
  p->p[len] = '\0';
  p->len = len;
  p->type = type;
  return 0;
}

int cpc_sql_bind_text(cpc_sql_stmt *st, int idx, const char *s, size_t len) {
  return bind_bytes(st, idx, s, len, CPC__SQL_TEXT);
}

int cpc_sql_bind_str(cpc_sql_stmt *st, int idx, const char *s) {
  if (!s)
    return CPC_EINVAL;
  return bind_bytes(st, idx, s, strlen(s), CPC__SQL_TEXT);
}

int cpc_sql_bind_blob(cpc_sql_stmt *st, int idx, const void *data,
                      size_t len) {
  return bind_bytes(st, idx, data, len, CPC__SQL_BLOB);
}

int cpc_sql_bind_null(cpc_sql_stmt *st, int idx) {
  struct cpc__sql_param *p = param_slot(st, idx);
  if (!p)
    return CPC_EINVAL;
  p->type = CPC__SQL_NULL;
  return 0;
}

int cpc_sql_step(cpc_sql_stmt *st) {
  if (!st)
    return CPC_EINVAL;
  if (!st->running) {
    for (int i = 0; i < st->n_params; i++) {
      if (st->params[i].type == CPC__SQL_UNSET) {
        cpc__sql_set_errorf(st->db, "parameter $%d is not bound", i + 1);
        return CPC_ESTATE;
      }
    }
  }
  st->has_row = 0;
  int rc = st->db->ops->step(st);
  if (rc == CPC_SQL_ROW)
    st->has_row = 1;
  return rc;
}

int cpc_sql_changes(const cpc_sql_stmt *st, int64_t *out) {
  if (!st || !out)
    return CPC_EINVAL;
  *out = st->changes;
  return 0;
}

int cpc_sql_column_count(const cpc_sql_stmt *st) {
  if (!st || !st->has_row)
    return 0;
  return st->db->ops->column_count(st);
}

/* col is valid for the current row */
static int col_ok(const cpc_sql_stmt *st, int col) {
  return st && st->has_row && col >= 0 && col < st->db->ops->column_count(st);
}

int cpc_sql_column_is_null(const cpc_sql_stmt *st, int col) {
  if (!col_ok(st, col))
    return CPC_EINVAL;
  return st->db->ops->is_null(st, col);
}

int cpc_sql_column_int64(cpc_sql_stmt *st, int col, int64_t *out) {
  if (!out || !col_ok(st, col))
    return CPC_EINVAL;
  if (st->db->ops->is_null(st, col))
    return CPC_ENOENT;
  return st->db->ops->col_int64(st, col, out);
}

int cpc_sql_column_double(cpc_sql_stmt *st, int col, double *out) {
  if (!out || !col_ok(st, col))
    return CPC_EINVAL;
  if (st->db->ops->is_null(st, col))
    return CPC_ENOENT;
  return st->db->ops->col_double(st, col, out);
}

int cpc_sql_column_text(cpc_sql_stmt *st, int col, const char **out,
                        size_t *len) {
  if (!out || !col_ok(st, col))
    return CPC_EINVAL;
  if (st->db->ops->is_null(st, col))
    return CPC_ENOENT;
  size_t n;
  int rc = st->db->ops->col_text(st, col, out, &n);
  if (!rc && len)
    *len = n;
  return rc;
}

int cpc_sql_column_blob(cpc_sql_stmt *st, int col, const void **out,
                        size_t *len) {
  if (!out || !col_ok(st, col))
    return CPC_EINVAL;
  if (st->db->ops->is_null(st, col))
    return CPC_ENOENT;
  size_t n;
  int rc = st->db->ops->col_blob(st, col, out, &n);
  if (!rc && len)
    *len = n;
  return rc;
}

/* Statements left mid-run would hold SQLite read locks past the end of
 * the transaction; stop them. */
static void reset_all(cpc_sql *db) {
  for (cpc_sql_stmt *st = db->stmts; st; st = st->next)
    cpc_sql_reset(st);
}

int cpc_sql_begin(cpc_sql *db) {
  if (!db)
    return CPC_EINVAL;
  if (db->in_txn)
    return CPC_ESTATE;
  int rc = db->ops->exec(db, db->ops->begin_sql);
  if (rc == 0)
    db->in_txn = 1;
  return rc;
}

int cpc_sql_commit(cpc_sql *db) {
  if (!db)
    return CPC_EINVAL;
  if (!db->in_txn)
    return CPC_ESTATE;
  reset_all(db);
  int rc = db->ops->exec(db, "COMMIT");
  if (rc) {
    char *msg = db->errmsg;
    db->errmsg = NULL;
    db->ops->exec(db, "ROLLBACK"); /* SQLite keeps a txn whose COMMIT failed */
    free(db->errmsg);
    db->errmsg = msg;
  }
  db->in_txn = 0;
  return rc;
}

int cpc_sql_rollback(cpc_sql *db) {
  if (!db)
    return CPC_EINVAL;
  if (!db->in_txn)
    return CPC_ESTATE;
  reset_all(db);
  db->in_txn = 0;
  return db->ops->exec(db, "ROLLBACK");
}

/* xorshift64*, seeded from the clock and the stack, for back-off jitter */
static uint64_t jitter_next(void) {
  static _Thread_local uint64_t state;
  if (!state) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    state = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
            (uint64_t)(uintptr_t)&ts;
    if (!state)
      state = 0x9e3779b97f4a7c15u;
  }
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 0x2545f4914f6cdd1du;
}

static void backoff(int attempt) {
  uint64_t cap_us = 1000u << (attempt < 7 ? attempt : 7);
  if (cap_us > 100000)
    cap_us = 100000;
  uint64_t us = cap_us / 2 + jitter_next() % (cap_us / 2 + 1);
  struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
  nanosleep(&ts, NULL);
}

int cpc_sql_transact(cpc_sql *db, cpc_sql_txn_fn fn, void *arg) {
  if (!db || !fn)
    return CPC_EINVAL;
  if (db->in_txn)
    return CPC_ESTATE;
  int rc = CPC_EAGAIN;
  for (int attempt = 0; attempt < CPC_SQL_TRANSACT_ATTEMPTS; attempt++) {
    if (attempt)
      backoff(attempt - 1);
    rc = cpc_sql_begin(db);
    if (rc == CPC_EAGAIN)
      continue;
    if (rc)
      return rc;
    rc = fn(db, arg);
    if (rc) {
      if (db->in_txn) {
        char *msg = db->errmsg;
        db->errmsg = NULL;
        cpc_sql_rollback(db);
        free(db->errmsg);
        db->errmsg = msg;
      }
      if (rc == CPC_EAGAIN)
        continue;
      return rc;
    }
    if (!db->in_txn) /* fn committed or rolled back itself */
      return CPC_ESTATE;
    rc = cpc_sql_commit(db);
    if (rc != CPC_EAGAIN)
      return rc;
  }
  return rc;
}

int cpc__sql_query_int64(cpc_sql *db, const char *sql, int64_t *out,
                         int *found) {
  cpc_sql_stmt *st;
  *found = 0;
  int rc = cpc_sql_prepare(db, sql, &st);
  if (rc)
    return rc;
  rc = cpc_sql_step(st);
  if (rc == CPC_SQL_ROW) {
    rc = cpc_sql_column_int64(st, 0, out);
    if (rc == 0)
      *found = 1;
    else if (rc == CPC_ENOENT)
      rc = 0;
  }
  cpc_sql_finalize(st);
  return rc;
}
