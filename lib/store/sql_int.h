/*
 * sql_int.h: what the engine back ends (sql_sqlite.c, sql_postgres.c) and
 * the engine-neutral files of the SQL layer share. Not a public API.
 */
#ifndef CPC_SQL_INT_H
#define CPC_SQL_INT_H

#include <stddef.h>
#include <stdint.h>

#include "cpc/sql.h"

enum cpc__sql_param_type {
  CPC__SQL_UNSET = 0,
  CPC__SQL_NULL,
  CPC__SQL_INT,
  CPC__SQL_DOUBLE,
  CPC__SQL_TEXT,
  CPC__SQL_BLOB
};

/* A bound parameter; p (text and blob, NUL-terminated) is owned. */
struct cpc__sql_param {
  enum cpc__sql_param_type type;
  int64_t i;
  double d;
  char *p;
  size_t len;
};

struct cpc__sql_ops {
  void (*close)(cpc_sql *db);
  int (*exec)(cpc_sql *db, const char *sql);
  int (*set_lock_timeout)(cpc_sql *db, uint32_t ms);
  /* sql has $N parameters already translated for the engine */
  int (*prepare)(cpc_sql_stmt *st, const char *sql);
  void (*finalize)(cpc_sql_stmt *st);
  /* runs (st->running 0) or advances; sets st->changes when done */
  int (*step)(cpc_sql_stmt *st);
  void (*reset)(cpc_sql_stmt *st);
  int (*column_count)(const cpc_sql_stmt *st);
  int (*is_null)(const cpc_sql_stmt *st, int col);
  int (*col_int64)(cpc_sql_stmt *st, int col, int64_t *out);
  int (*col_double)(cpc_sql_stmt *st, int col, double *out);
  int (*col_text)(cpc_sql_stmt *st, int col, const char **out, size_t *len);
  int (*col_blob)(cpc_sql_stmt *st, int col, const void **out, size_t *len);
  const char *begin_sql;    /* a write transaction */
  const char *now_ms_sql;   /* one row, one BIGINT: ms since the epoch */
  int translate_params;     /* $N -> ?N */
};

struct cpc_sql {
  const struct cpc__sql_ops *ops;
  enum cpc_sql_engine engine;
  int in_txn;
  char *errmsg;          /* last failure, owned; NULL when none */
  cpc_sql_stmt *stmts;   /* open statements, for close */
  void *handle;          /* sqlite3 * or PGconn * */
  void *engine_state;    /* the back end's own (SQLite: statement cache) */
};

struct cpc_sql_stmt {
  cpc_sql *db;
  cpc_sql_stmt *prev, *next;
  int n_params;
  struct cpc__sql_param *params; /* n_params, index 0 is $1 */
  int running;  /* started, DONE not reached */
  int has_row;  /* a row is current */
  int64_t changes;
  void *handle; /* engine state */
};

/* sql.c */
void cpc__sql_set_error(cpc_sql *db, const char *msg);
void cpc__sql_set_errorf(cpc_sql *db, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* maps a PostgreSQL SQLSTATE ("23505" …) to a CPC_E* code */
int cpc__sql_sqlstate_rc(const char *sqlstate);

/* sql_params.c: checks $N parameters; *out is a malloc'd copy of sql,
 * translated to ?N when translate is set; *n_params the highest N. */
int cpc__sql_scan_params(const char *sql, int translate, char **out,
                         int *n_params);

/* the back ends */
int cpc__sql_sqlite_open(cpc_sql *db, const char *path);
int cpc__sql_postgres_open(cpc_sql *db, const char *conninfo);

/* sql_migrate.c and sql_lease.c run small statements through this */
int cpc__sql_query_int64(cpc_sql *db, const char *sql, int64_t *out,
                         int *found);

#endif /* CPC_SQL_INT_H */
