/*
 * sql_postgres.c: the PostgreSQL back end of cpc/sql.h (libpq).
 *
 * Each run is one PQexecParams (extended protocol: parse, bind, execute in
 * one round trip). Parameters carry their type, as SQLite values do:
 * bigint and double precision in text form, text, bytea in binary form;
 * NULL leaves the type to the server. Results come in text format (BIGINT
 * as decimal, bytea as "\x" hex, decoded on demand).
 */
#include <errno.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "store/sql_int.h"

/* type OIDs (pg_type.h, stable across versions) */
#define BYTEAOID 17
#define INT8OID 20
#define TEXTOID 25
#define FLOAT8OID 701

#define H(db) ((PGconn *)(db)->handle)

struct pg_stmt {
  char *sql;
  PGresult *res; /* of the current run */
  int row;       /* current row index in res */
  int n_cols;
  void **decoded; /* per column: decoded bytea of the current row */
  size_t *decoded_len;
  char (*num)[32]; /* text of int/double parameters */
};

#define P(st) ((struct pg_stmt *)(st)->handle)

/* Records the failure of res (or of the connection) and maps it. */
static int fail_res(cpc_sql *db, const PGresult *res) {
  const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  const char *msg = res ? PQresultErrorMessage(res) : NULL;
  if (!msg || !*msg)
    msg = PQerrorMessage(H(db));
  cpc__sql_set_error(db, msg);
  if (!state) /* no server error: the connection failed */
    return PQstatus(H(db)) == CONNECTION_BAD ? CPC_EIO
                                               : (res ? CPC_EIO : CPC_ENOMEM);
  return cpc__sql_sqlstate_rc(state);
}

/* Session settings, applied at connect and after a reconnect. */
static const char session_sql[] = "SET client_encoding = 'UTF8'; "
                                  "SET bytea_output = 'hex'; "
                                  "SET lock_timeout = 5000";

/*
 * A broken connection is re-established between transactions (inside one,
 * the transaction is lost anyway: the statement fails with CPC_EIO).
 * cpc_sql_set_lock_timeout() must be repeated after a reconnect.
 */
static void revive(cpc_sql *db) {
  if (PQstatus(H(db)) != CONNECTION_BAD || db->in_txn)
    return;
  PQreset(H(db));
  if (PQstatus(H(db)) == CONNECTION_OK)
    PQclear(PQexec(H(db), session_sql));
}

static void pg_close(cpc_sql *db) { PQfinish(H(db)); }

static int pg_exec(cpc_sql *db, const char *sql) {
  revive(db);
  PGresult *res = PQexec(H(db), sql);
  ExecStatusType s = PQresultStatus(res);
  int rc = 0;
  if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
    rc = fail_res(db, res);
  else if (!strcmp(sql, "COMMIT") && !strcmp(PQcmdStatus(res), "ROLLBACK")) {
    /* COMMIT of a transaction that had failed: the server rolled back */
    cpc__sql_set_error(db, "transaction was aborted by an earlier error");
    rc = CPC_ESTATE;
  }
  PQclear(res);
  return rc;
}

static int pg_set_lock_timeout(cpc_sql *db, uint32_t ms) {
  char sql[64];
  snprintf(sql, sizeof sql, "SET lock_timeout = %u", ms ? ms : 1u);
  return pg_exec(db, sql);
}

static void drop_row(struct pg_stmt *p) {
  if (p->decoded) {
    for (int i = 0; i < p->n_cols; i++) {
      free(p->decoded[i]);
      p->decoded[i] = NULL;
    }
  }
}

static void drop_result(struct pg_stmt *p) {
  drop_row(p);
  free(p->decoded);
  free(p->decoded_len);
  p->decoded = NULL;
  p->decoded_len = NULL;
  PQclear(p->res);
  p->res = NULL;
  p->n_cols = 0;
}

static int pg_prepare(cpc_sql_stmt *st, const char *sql) {
  struct pg_stmt *p = calloc(1, sizeof *p);
  if (!p)
    return CPC_ENOMEM;
  size_t n = strlen(sql) + 1;
  p->sql = malloc(n);
  if (st->n_params)
    p->num = calloc((size_t)st->n_params, sizeof *p->num);
  if (!p->sql || (st->n_params && !p->num)) {
    free(p->sql);
    free(p->num);
    free(p);
    return CPC_ENOMEM;
  }
  memcpy(p->sql, sql, n);
  st->handle = p;
  return 0;
}

static void pg_finalize(cpc_sql_stmt *st) {
  struct pg_stmt *p = P(st);
  drop_result(p);
  free(p->sql);
  free(p->num);
  free(p);
}

static void pg_reset(cpc_sql_stmt *st) { drop_result(P(st)); }

/* Runs the statement: one PQexecParams. */
static int run(cpc_sql_stmt *st) {
  struct pg_stmt *p = P(st);
  int n = st->n_params;
  const char *values[CPC_SQL_MAX_PARAMS];
  int lengths[CPC_SQL_MAX_PARAMS], formats[CPC_SQL_MAX_PARAMS];
  Oid types[CPC_SQL_MAX_PARAMS];
  for (int i = 0; i < n; i++) {
    const struct cpc__sql_param *v = &st->params[i];
    values[i] = NULL;
    lengths[i] = 0;
    formats[i] = 0;
    types[i] = 0;
    switch (v->type) {
    case CPC__SQL_UNSET:
    case CPC__SQL_NULL: break;
    case CPC__SQL_INT:
      snprintf(p->num[i], sizeof p->num[i], "%lld", (long long)v->i);
      values[i] = p->num[i];
      types[i] = INT8OID;
      break;
    case CPC__SQL_DOUBLE:
      if (isnan(v->d))
        snprintf(p->num[i], sizeof p->num[i], "NaN");
      else if (isinf(v->d))
        snprintf(p->num[i], sizeof p->num[i], "%sInfinity",
                 v->d < 0 ? "-" : "");
      else
        snprintf(p->num[i], sizeof p->num[i], "%.17g", v->d);
      values[i] = p->num[i];
      types[i] = FLOAT8OID;
      break;
    case CPC__SQL_TEXT:
      if (memchr(v->p, '\0', v->len)) {
        cpc__sql_set_errorf(st->db, "parameter $%d: NUL byte in text", i + 1);
        return CPC_EINVAL;
      }
      values[i] = v->p;
      types[i] = TEXTOID;
      break;
    case CPC__SQL_BLOB:
      if (v->len > 0x7fffffff)
        return CPC_ETOOBIG;
      values[i] = v->p;
      lengths[i] = (int)v->len;
      formats[i] = 1;
      types[i] = BYTEAOID;
      break;
    }
  }
  revive(st->db);
  PGresult *res = PQexecParams(H(st->db), p->sql, n, types, values, lengths,
                               formats, 0);
  ExecStatusType s = PQresultStatus(res);
  if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK) {
    int rc = fail_res(st->db, res);
    PQclear(res);
    return rc;
  }
  p->res = res;
  p->row = -1;
  p->n_cols = PQnfields(res);
  if (p->n_cols) {
    p->decoded = calloc((size_t)p->n_cols, sizeof *p->decoded);
    p->decoded_len = calloc((size_t)p->n_cols, sizeof *p->decoded_len);
    if (!p->decoded || !p->decoded_len) {
      drop_result(p);
      return CPC_ENOMEM;
    }
  }
  const char *tuples = PQcmdTuples(res);
  st->changes = 0;
  if (*tuples && strncmp(PQcmdStatus(res), "SELECT", 6) != 0)
    st->changes = strtoll(tuples, NULL, 10);
  return 0;
}

static int pg_step(cpc_sql_stmt *st) {
  struct pg_stmt *p = P(st);
  if (!st->running) {
    drop_result(p);
    int rc = run(st);
    if (rc)
      return rc;
    st->running = 1;
  }
  drop_row(p);
  p->row++;
  if (p->row < PQntuples(p->res))
    return CPC_SQL_ROW;
  drop_result(p);
  st->running = 0;
  return CPC_SQL_DONE;
}

static int pg_column_count(const cpc_sql_stmt *st) { return P(st)->n_cols; }

static int pg_is_null(const cpc_sql_stmt *st, int col) {
  const struct pg_stmt *p = P(st);
  return PQgetisnull(p->res, p->row, col);
}

static int pg_col_int64(cpc_sql_stmt *st, int col, int64_t *out) {
  const struct pg_stmt *p = P(st);
  const char *v = PQgetvalue(p->res, p->row, col);
  char *end;
  errno = 0;
  long long x = strtoll(v, &end, 10);
  if (end == v || *end || errno)
    return CPC_EMALFORMED;
  *out = x;
  return 0;
}

static int pg_double(cpc_sql_stmt *st, int col, double *out) {
  const struct pg_stmt *p = P(st);
  const char *v = PQgetvalue(p->res, p->row, col);
  char *end;
  double x = strtod(v, &end);
  if (end == v || *end)
    return CPC_EMALFORMED;
  *out = x;
  return 0;
}

static int pg_text(cpc_sql_stmt *st, int col, const char **out, size_t *len) {
  const struct pg_stmt *p = P(st);
  *out = PQgetvalue(p->res, p->row, col);
  *len = (size_t)PQgetlength(p->res, p->row, col);
  return 0;
}

static int hex(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static int pg_blob(cpc_sql_stmt *st, int col, const void **out, size_t *len) {
  struct pg_stmt *p = P(st);
  const char *v = PQgetvalue(p->res, p->row, col);
  size_t n = (size_t)PQgetlength(p->res, p->row, col);
  if (PQftype(p->res, col) != BYTEAOID) { /* text: its bytes */
    *out = v;
    *len = n;
    return 0;
  }
  if (!p->decoded[col]) {
    /* bytea_output = hex (the default since 9.0): "\x" then pairs */
    if (n < 2 || v[0] != '\\' || v[1] != 'x' || (n - 2) % 2)
      return CPC_EMALFORMED;
    size_t m = (n - 2) / 2;
    unsigned char *d = malloc(m ? m : 1);
    if (!d)
      return CPC_ENOMEM;
    for (size_t i = 0; i < m; i++) {
      int hi = hex(v[2 + 2 * i]), lo = hex(v[3 + 2 * i]);
      if (hi < 0 || lo < 0) {
        free(d);
        return CPC_EMALFORMED;
      }
      d[i] = (unsigned char)(hi << 4 | lo);
    }
    p->decoded[col] = d;
    p->decoded_len[col] = m;
  }
  *out = p->decoded[col];
  *len = p->decoded_len[col];
  return 0;
}

static void quiet_notice(void *arg, const char *message) {
  (void)arg;
  (void)message; /* "relation … already exists, skipping" and the like */
}

static const struct cpc__sql_ops pg_ops = {
    .close = pg_close,
    .exec = pg_exec,
    .set_lock_timeout = pg_set_lock_timeout,
    .prepare = pg_prepare,
    .finalize = pg_finalize,
    .step = pg_step,
    .reset = pg_reset,
    .column_count = pg_column_count,
    .is_null = pg_is_null,
    .col_int64 = pg_col_int64,
    .col_double = pg_double,
    .col_text = pg_text,
    .col_blob = pg_blob,
    .begin_sql = "BEGIN ISOLATION LEVEL SERIALIZABLE",
    .now_ms_sql = "SELECT CAST(floor(extract(epoch FROM clock_timestamp()) * "
                  "1000) AS BIGINT)",
    .translate_params = 0,
};

int cpc__sql_postgres_open(cpc_sql *db, const char *conninfo) {
  db->ops = &pg_ops;
  db->engine = CPC_SQL_POSTGRES;
  PGconn *c = PQconnectdb(conninfo);
  db->handle = c;
  if (!c)
    return CPC_ENOMEM;
  if (PQstatus(c) != CONNECTION_OK) {
    cpc__sql_set_errorf(db, "cannot connect to PostgreSQL: %s",
                        PQerrorMessage(c));
    PQfinish(c);
    db->handle = NULL;
    return CPC_EIO;
  }
  PQsetNoticeProcessor(c, quiet_notice, NULL);
  int rc = pg_exec(db, session_sql);
  if (rc) {
    PQfinish(c);
    db->handle = NULL;
    return CPC_EIO;
  }
  return 0;
}
