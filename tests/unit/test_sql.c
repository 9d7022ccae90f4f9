/*
 * test_sql.c: the SQL access layer, the same suite against SQLite (a file
 * in a temporary directory) and, when CPC_TEST_PG_URL is set, against that
 * PostgreSQL database (tests/cli/sql_postgres.sh starts a throwaway server
 * and sets it). The PostgreSQL database should be empty: the tests drop and
 * recreate the tables they use.
 */
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cpc/error.h"
#include "cpc/sql.h"

static char tmpdir[512];
static const char *pg_url;

/* ---- per-test databases ----------------------------------------------- */

struct backend {
  const char *label;
  char url[1024];
};

/* The backends to run a test on: a fresh SQLite file, then PostgreSQL. */
static size_t backends(struct backend out[2], const char *test) {
  static int serial;
  size_t n = 0;
  out[n].label = "sqlite";
  snprintf(out[n].url, sizeof out[n].url, "sqlite:%s/%s-%d.db", tmpdir, test,
           serial++);
  n++;
  if (pg_url) {
    out[n].label = "postgres";
    snprintf(out[n].url, sizeof out[n].url, "%s", pg_url);
    n++;
  }
  return n;
}

static const char *const all_tables[] = {
    "t_child", "t_parent", "t_types", "t_rows", "t_counter", "m_c", "m_b",
    "m_a",     "schema_migrations", "cpc_leases"};

static cpc_sql *open_db(const char *url) {
  cpc_sql *db = NULL;
  char *msg = NULL;
  int rc = cpc_sql_open(url, &db, &msg);
  if (rc)
    print_error("open %s: %s (%s)\n", url, cpc_strerror(rc), msg ? msg : "");
  free(msg);
  assert_int_equal(rc, 0);
  return db;
}

/* Opens url with none of the test tables left from an earlier test. */
static cpc_sql *open_clean(const char *url) {
  cpc_sql *db = open_db(url);
  for (size_t i = 0; i < sizeof all_tables / sizeof *all_tables; i++) {
    char sql[128];
    snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s", all_tables[i]);
    int rc = cpc_sql_exec(db, sql);
    if (rc)
      print_error("%s: %s\n", sql, cpc_sql_errmsg(db));
    assert_int_equal(rc, 0);
  }
  return db;
}

static void exec_ok(cpc_sql *db, const char *sql) {
  int rc = cpc_sql_exec(db, sql);
  if (rc)
    print_error("%s: %s: %s\n", sql, cpc_strerror(rc), cpc_sql_errmsg(db));
  assert_int_equal(rc, 0);
}

static cpc_sql_stmt *prepare_ok(cpc_sql *db, const char *sql) {
  cpc_sql_stmt *st = NULL;
  int rc = cpc_sql_prepare(db, sql, &st);
  if (rc)
    print_error("%s: %s: %s\n", sql, cpc_strerror(rc), cpc_sql_errmsg(db));
  assert_int_equal(rc, 0);
  return st;
}

static int step(cpc_sql_stmt *st, cpc_sql *db) {
  int rc = cpc_sql_step(st);
  if (rc < 0)
    print_error("step: %s: %s\n", cpc_strerror(rc), cpc_sql_errmsg(db));
  return rc;
}

/* The single BIGINT answer of sql (no parameters). */
static int64_t query_int(cpc_sql *db, const char *sql) {
  cpc_sql_stmt *st = prepare_ok(db, sql);
  assert_int_equal(step(st, db), CPC_SQL_ROW);
  int64_t v = -1;
  assert_int_equal(cpc_sql_column_int64(st, 0, &v), 0);
  assert_int_equal(step(st, db), CPC_SQL_DONE);
  cpc_sql_finalize(st);
  return v;
}

/* ---- open --------------------------------------------------------------- */

static void test_open(void **state) {
  (void)state;
  cpc_sql *db = (cpc_sql *)1;
  char *msg = (char *)1;
  assert_int_equal(cpc_sql_open(NULL, &db, &msg), CPC_EINVAL);
  assert_null(db);
  assert_null(msg);
  assert_int_equal(cpc_sql_open("", &db, NULL), CPC_EINVAL);
  assert_int_equal(cpc_sql_open("mysql://x", &db, NULL), CPC_EINVAL);
  assert_int_equal(cpc_sql_open("sqlite:", &db, NULL), CPC_EINVAL);
  assert_int_equal(cpc_sql_open("sqlite:x", NULL, NULL), CPC_EINVAL);
  assert_int_equal(
      cpc_sql_open("sqlite:/nonexistent-cpc-dir/sub/x.db", &db, &msg),
      CPC_EIO);
  assert_non_null(msg);
  assert_non_null(strstr(msg, "nonexistent-cpc-dir"));
  free(msg);
  /* nothing listens on port 1: refused at once */
  assert_int_equal(
      cpc_sql_open("postgres://cpc@127.0.0.1:1/cpc?connect_timeout=5", &db,
                   &msg),
      CPC_EIO);
  assert_non_null(msg);
  free(msg);

  db = open_db("sqlite::memory:");
  assert_int_equal(cpc_sql_engine_of(db), CPC_SQL_SQLITE);
  assert_int_equal(query_int(db, "SELECT 41 + 1"), 42);
  cpc_sql_close(db);
  cpc_sql_close(NULL);

  struct backend b[2];
  size_t n = backends(b, "open");
  for (size_t i = 0; i < n; i++) {
    db = open_db(b[i].url);
    assert_int_equal(cpc_sql_engine_of(db), i == 0 ? CPC_SQL_SQLITE
                                                   : CPC_SQL_POSTGRES);
    if (i == 0) { /* WAL and foreign keys are on */
      cpc_sql_stmt *st = prepare_ok(db, "PRAGMA journal_mode");
      const char *mode;
      assert_int_equal(step(st, db), CPC_SQL_ROW);
      assert_int_equal(cpc_sql_column_text(st, 0, &mode, NULL), 0);
      assert_string_equal(mode, "wal");
      cpc_sql_finalize(st);
      assert_int_equal(query_int(db, "PRAGMA foreign_keys"), 1);
    }
    cpc_sql_close(db);
  }
}

/* ---- values --------------------------------------------------------------- */

static void run_types(const char *url) {
  cpc_sql *db = open_clean(url);
  exec_ok(db, "CREATE TABLE t_types (id BIGINT PRIMARY KEY, i BIGINT, "
              "d DOUBLE PRECISION, s TEXT, b BYTEA)");
  cpc_sql_stmt *ins = prepare_ok(
      db, "INSERT INTO t_types (id, i, d, s, b) VALUES ($1, $2, $3, $4, $5)");
  unsigned char all[256];
  for (int k = 0; k < 256; k++)
    all[k] = (unsigned char)k;
  const char utf8[] = "h\xc3\xa9llo \"q\" 'single' \\ \xe2\x82\xac";

  /* row 1: extremes; row 2: NULLs; row 3: empty values */
  assert_int_equal(cpc_sql_bind_int64(ins, 1, 1), 0);
  assert_int_equal(cpc_sql_bind_int64(ins, 2, INT64_MIN), 0);
  assert_int_equal(cpc_sql_bind_double(ins, 3, -1.5e-300), 0);
  assert_int_equal(cpc_sql_bind_str(ins, 4, utf8), 0);
  assert_int_equal(cpc_sql_bind_blob(ins, 5, all, sizeof all), 0);
  assert_int_equal(step(ins, db), CPC_SQL_DONE);
  int64_t changes = -1;
  assert_int_equal(cpc_sql_changes(ins, &changes), 0);
  assert_int_equal(changes, 1);
  assert_int_equal(cpc_sql_bind_int64(ins, 1, 2), 0);
  assert_int_equal(cpc_sql_bind_null(ins, 2), 0);
  assert_int_equal(cpc_sql_bind_null(ins, 3), 0);
  assert_int_equal(cpc_sql_bind_null(ins, 4), 0);
  assert_int_equal(cpc_sql_bind_null(ins, 5), 0);
  assert_int_equal(step(ins, db), CPC_SQL_DONE);
  assert_int_equal(cpc_sql_bind_int64(ins, 1, 3), 0);
  assert_int_equal(cpc_sql_bind_int64(ins, 2, INT64_MAX), 0);
  assert_int_equal(cpc_sql_bind_double(ins, 3, 0.1), 0);
  assert_int_equal(cpc_sql_bind_text(ins, 4, "", 0), 0);
  assert_int_equal(cpc_sql_bind_blob(ins, 5, NULL, 0), 0);
  assert_int_equal(step(ins, db), CPC_SQL_DONE);
  /* bind errors */
  assert_int_equal(cpc_sql_bind_int64(ins, 0, 1), CPC_EINVAL);
  assert_int_equal(cpc_sql_bind_int64(ins, 6, 1), CPC_EINVAL);
  assert_int_equal(cpc_sql_bind_text(ins, 4, NULL, 1), CPC_EINVAL);
  assert_int_equal(cpc_sql_bind_str(ins, 4, NULL), CPC_EINVAL);
  assert_int_equal(cpc_sql_bind_int64(NULL, 1, 1), CPC_EINVAL);
  cpc_sql_finalize(ins);

  cpc_sql_stmt *sel =
      prepare_ok(db, "SELECT id, i, d, s, b FROM t_types ORDER BY id");
  int64_t v;
  double d;
  const char *s;
  const void *b;
  size_t len;
  assert_int_equal(cpc_sql_column_int64(sel, 0, &v), CPC_EINVAL); /* no row */
  assert_int_equal(cpc_sql_column_count(sel), 0);

  assert_int_equal(step(sel, db), CPC_SQL_ROW);
  assert_int_equal(cpc_sql_column_count(sel), 5);
  assert_int_equal(cpc_sql_column_int64(sel, 0, &v), 0);
  assert_int_equal(v, 1);
  assert_int_equal(cpc_sql_column_int64(sel, 1, &v), 0);
  assert_true(v == INT64_MIN);
  assert_int_equal(cpc_sql_column_double(sel, 2, &d), 0);
  assert_true(d == -1.5e-300);
  assert_int_equal(cpc_sql_column_text(sel, 3, &s, &len), 0);
  assert_string_equal(s, utf8);
  assert_int_equal(len, strlen(utf8));
  assert_int_equal(cpc_sql_column_blob(sel, 4, &b, &len), 0);
  assert_int_equal(len, 256);
  assert_memory_equal(b, all, 256);
  assert_int_equal(cpc_sql_column_is_null(sel, 4), 0);
  /* wrong types and columns */
  assert_int_equal(cpc_sql_column_int64(sel, 3, &v), CPC_EMALFORMED);
  assert_int_equal(cpc_sql_column_double(sel, 3, &d), CPC_EMALFORMED);
  assert_int_equal(cpc_sql_column_int64(sel, 5, &v), CPC_EINVAL);
  assert_int_equal(cpc_sql_column_int64(sel, -1, &v), CPC_EINVAL);
  assert_int_equal(cpc_sql_column_int64(sel, 0, NULL), CPC_EINVAL);
  assert_int_equal(cpc_sql_column_is_null(sel, 9), CPC_EINVAL);
  /* an integer reads as text too */
  assert_int_equal(cpc_sql_column_text(sel, 0, &s, NULL), 0);
  assert_string_equal(s, "1");

  assert_int_equal(step(sel, db), CPC_SQL_ROW);
  for (int col = 1; col < 5; col++)
    assert_int_equal(cpc_sql_column_is_null(sel, col), 1);
  v = 77;
  assert_int_equal(cpc_sql_column_int64(sel, 1, &v), CPC_ENOENT);
  assert_int_equal(v, 77);
  assert_int_equal(cpc_sql_column_double(sel, 2, &d), CPC_ENOENT);
  assert_int_equal(cpc_sql_column_text(sel, 3, &s, &len), CPC_ENOENT);
  assert_int_equal(cpc_sql_column_blob(sel, 4, &b, &len), CPC_ENOENT);

  assert_int_equal(step(sel, db), CPC_SQL_ROW);
  assert_int_equal(cpc_sql_column_int64(sel, 1, &v), 0);
  assert_true(v == INT64_MAX);
  assert_int_equal(cpc_sql_column_double(sel, 2, &d), 0);
  assert_true(d == 0.1);
  assert_int_equal(cpc_sql_column_text(sel, 3, &s, &len), 0);
  assert_string_equal(s, "");
  assert_int_equal(len, 0);
  assert_int_equal(cpc_sql_column_is_null(sel, 3), 0);
  b = NULL;
  assert_int_equal(cpc_sql_column_blob(sel, 4, &b, &len), 0);
  assert_non_null(b);
  assert_int_equal(len, 0);
  assert_int_equal(cpc_sql_column_is_null(sel, 4), 0);

  assert_int_equal(step(sel, db), CPC_SQL_DONE);
  assert_int_equal(cpc_sql_column_int64(sel, 0, &v), CPC_EINVAL);
  /* after DONE the next step runs the query again */
  assert_int_equal(step(sel, db), CPC_SQL_ROW);
  assert_int_equal(cpc_sql_column_int64(sel, 0, &v), 0);
  assert_int_equal(v, 1);
  cpc_sql_finalize(sel);
  cpc_sql_close(db);
}

static void test_types(void **state) {
  (void)state;
  struct backend b[2];
  size_t n = backends(b, "types");
  for (size_t i = 0; i < n; i++)
    run_types(b[i].url);
}

/* ---- parameters ---------------------------------------------------------- */

static void run_params(const char *url) {
  cpc_sql *db = open_clean(url);
  cpc_sql_stmt *st = NULL;
  const char *s;
  int64_t v;

  /* reuse and order */
  st = prepare_ok(db, "SELECT $2 || '-' || $1 || '-' || $1");
  assert_int_equal(cpc_sql_bind_str(st, 1, "a"), 0);
  assert_int_equal(cpc_sql_step(st), CPC_ESTATE); /* $2 unbound */
  assert_int_equal(cpc_sql_bind_str(st, 2, "b"), 0);
  assert_int_equal(step(st, db), CPC_SQL_ROW);
  assert_int_equal(cpc_sql_column_text(st, 0, &s, NULL), 0);
  assert_string_equal(s, "b-a-a");
  cpc_sql_finalize(st);

  /* $N and ? inside literals, identifiers and comments are text */
  st = prepare_ok(db, "SELECT '$1 ?' || $1 AS \"a$1?\" -- $2 ?\n"
                      "/* $3 ? */");
  assert_int_equal(cpc_sql_bind_str(st, 1, "x"), 0);
  assert_int_equal(step(st, db), CPC_SQL_ROW);
  assert_int_equal(cpc_sql_column_text(st, 0, &s, NULL), 0);
  assert_string_equal(s, "$1 ?x");
  cpc_sql_finalize(st);
  st = prepare_ok(db, "SELECT 'it''s $1' || $1");
  assert_int_equal(cpc_sql_bind_str(st, 1, "!"), 0);
  assert_int_equal(step(st, db), CPC_SQL_ROW);
  assert_int_equal(cpc_sql_column_text(st, 0, &s, NULL), 0);
  assert_string_equal(s, "it's $1!");
  cpc_sql_finalize(st);

  /* ten parameters (two-digit indexes) */
  st = prepare_ok(db, "SELECT $1 + $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 + "
                      "$10 * 100");
  for (int k = 1; k <= 10; k++)
    assert_int_equal(cpc_sql_bind_int64(st, k, k), 0);
  assert_int_equal(step(st, db), CPC_SQL_ROW);
  assert_int_equal(cpc_sql_column_int64(st, 0, &v), 0);
  assert_int_equal(v, 45 + 1000);
  cpc_sql_finalize(st);

  /* refused parameter syntax */
  const char *bad[] = {"SELECT $2",          "SELECT ?",
                       "SELECT $0",          "SELECT $$x$$",
                       "SELECT $a",          "SELECT $101",
                       "SELECT 'open",       "SELECT \"open",
                       "SELECT 1 /* open",   "SELECT $1, ?2"};
  for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
    st = (cpc_sql_stmt *)1;
    assert_int_equal(cpc_sql_prepare(db, bad[k], &st), CPC_EINVAL);
    assert_null(st);
    assert_true(strlen(cpc_sql_errmsg(db)) > 0);
  }
  assert_int_equal(cpc_sql_prepare(db, NULL, &st), CPC_EINVAL);
  assert_int_equal(cpc_sql_prepare(NULL, "SELECT 1", &st), CPC_EINVAL);

  /* bad SQL: SQLite refuses it at prepare, PostgreSQL at the first step */
  int rc = cpc_sql_prepare(db, "SELEC 1", &st);
  if (rc == 0) {
    assert_int_equal(cpc_sql_step(st), CPC_EINVAL);
    cpc_sql_finalize(st);
  } else {
    assert_int_equal(rc, CPC_EINVAL);
  }
  assert_non_null(strstr(cpc_sql_errmsg(db), "SELEC"));
  rc = cpc_sql_prepare(db, "SELECT 1; SELECT 2", &st);
  if (rc == 0) {
    assert_int_equal(cpc_sql_step(st), CPC_EINVAL);
    cpc_sql_finalize(st);
  } else {
    assert_int_equal(rc, CPC_EINVAL);
  }
  rc = cpc_sql_prepare(db, "SELECT * FROM no_such_table", &st);
  if (rc == 0) {
    assert_int_equal(cpc_sql_step(st), CPC_EINVAL);
    cpc_sql_finalize(st);
  } else {
    assert_int_equal(rc, CPC_EINVAL);
  }
  /* the connection still works */
  assert_int_equal(query_int(db, "SELECT 7"), 7);

  /* rebinding mid-run starts over */
  exec_ok(db, "CREATE TABLE t_rows (id BIGINT PRIMARY KEY, name TEXT NOT "
              "NULL)");
  exec_ok(db, "INSERT INTO t_rows (id, name) VALUES (1, 'one'), (2, 'two'), "
              "(3, 'three')");
  st = prepare_ok(db, "SELECT id FROM t_rows WHERE id >= $1 ORDER BY id");
  assert_int_equal(cpc_sql_bind_int64(st, 1, 1), 0);
  assert_int_equal(step(st, db), CPC_SQL_ROW);
  assert_int_equal(step(st, db), CPC_SQL_ROW);
  assert_int_equal(cpc_sql_column_int64(st, 0, &v), 0);
  assert_int_equal(v, 2);
  assert_int_equal(cpc_sql_bind_int64(st, 1, 3), 0);
  assert_int_equal(step(st, db), CPC_SQL_ROW);
  assert_int_equal(cpc_sql_column_int64(st, 0, &v), 0);
  assert_int_equal(v, 3);
  assert_int_equal(step(st, db), CPC_SQL_DONE);
  /* reset keeps the bindings */
  assert_int_equal(step(st, db), CPC_SQL_ROW);
  assert_int_equal(cpc_sql_reset(st), 0);
  assert_int_equal(step(st, db), CPC_SQL_ROW);
  assert_int_equal(cpc_sql_column_int64(st, 0, &v), 0);
  assert_int_equal(v, 3);
  cpc_sql_finalize(st);
  /* statements still open at close are finalized by it */
  st = prepare_ok(db, "SELECT id FROM t_rows");
  assert_int_equal(step(st, db), CPC_SQL_ROW);
  cpc_sql_close(db);
}

static void test_params(void **state) {
  (void)state;
  struct backend b[2];
  size_t n = backends(b, "params");
  for (size_t i = 0; i < n; i++)
    run_params(b[i].url);
}

/* ---- rows, changes, constraints ----------------------------------------- */

static void run_rows(const char *url) {
  cpc_sql *db = open_clean(url);
  int64_t v, changes;
  exec_ok(db, "CREATE TABLE t_rows (id BIGINT PRIMARY KEY, name TEXT NOT NULL "
              "UNIQUE, score BIGINT NOT NULL DEFAULT 0 CHECK (score >= 0))");
  exec_ok(db, "CREATE TABLE t_parent (id BIGINT PRIMARY KEY)");
  exec_ok(db, "CREATE TABLE t_child (id BIGINT PRIMARY KEY, parent BIGINT NOT "
              "NULL REFERENCES t_parent (id) ON DELETE CASCADE)");

  assert_int_equal(cpc_sql_begin(db), 0);
  cpc_sql_stmt *ins =
      prepare_ok(db, "INSERT INTO t_rows (id, name, score) VALUES ($1, $2, $3)");
  for (int k = 0; k < 100; k++) {
    char name[16];
    snprintf(name, sizeof name, "n%03d", k);
    assert_int_equal(cpc_sql_bind_int64(ins, 1, k), 0);
    assert_int_equal(cpc_sql_bind_str(ins, 2, name), 0);
    assert_int_equal(cpc_sql_bind_int64(ins, 3, k % 10), 0);
    assert_int_equal(step(ins, db), CPC_SQL_DONE);
  }
  assert_int_equal(cpc_sql_commit(db), 0);
  assert_int_equal(query_int(db, "SELECT count(*) FROM t_rows"), 100);
  assert_int_equal(query_int(db, "SELECT sum(score) FROM t_rows"), 450);

  /* pagination */
  cpc_sql_stmt *page = prepare_ok(
      db, "SELECT id, name FROM t_rows WHERE score = $1 ORDER BY name "
          "LIMIT $2 OFFSET $3");
  assert_int_equal(cpc_sql_bind_int64(page, 1, 3), 0);
  assert_int_equal(cpc_sql_bind_int64(page, 2, 4), 0);
  assert_int_equal(cpc_sql_bind_int64(page, 3, 2), 0);
  int64_t want[] = {23, 33, 43, 53};
  int rows = 0;
  int rc;
  while ((rc = step(page, db)) == CPC_SQL_ROW) {
    assert_int_equal(cpc_sql_column_int64(page, 0, &v), 0);
    assert_int_equal(v, want[rows]);
    rows++;
  }
  assert_int_equal(rc, CPC_SQL_DONE);
  assert_int_equal(rows, 4);
  assert_int_equal(cpc_sql_changes(page, &changes), 0);
  assert_int_equal(changes, 0);
  cpc_sql_finalize(page);

  cpc_sql_stmt *upd =
      prepare_ok(db, "UPDATE t_rows SET score = score + 1 WHERE score = $1");
  assert_int_equal(cpc_sql_bind_int64(upd, 1, 9), 0);
  assert_int_equal(step(upd, db), CPC_SQL_DONE);
  assert_int_equal(cpc_sql_changes(upd, &changes), 0);
  assert_int_equal(changes, 10);
  assert_int_equal(cpc_sql_bind_int64(upd, 1, 99), 0);
  assert_int_equal(step(upd, db), CPC_SQL_DONE);
  assert_int_equal(cpc_sql_changes(upd, &changes), 0);
  assert_int_equal(changes, 0);
  cpc_sql_finalize(upd);

  /* RETURNING */
  cpc_sql_stmt *ret = prepare_ok(db, "DELETE FROM t_rows WHERE score >= $1 "
                                     "RETURNING id");
  assert_int_equal(cpc_sql_bind_int64(ret, 1, 10), 0);
  rows = 0;
  while ((rc = step(ret, db)) == CPC_SQL_ROW) {
    assert_int_equal(cpc_sql_column_int64(ret, 0, &v), 0);
    assert_int_equal(v % 10, 9);
    rows++;
  }
  assert_int_equal(rc, CPC_SQL_DONE);
  assert_int_equal(rows, 10);
  assert_int_equal(cpc_sql_changes(ret, &changes), 0);
  assert_int_equal(changes, 10);
  cpc_sql_finalize(ret);

  /* constraints: each error changes nothing */
  assert_int_equal(cpc_sql_bind_int64(ins, 1, 1), 0); /* duplicate key */
  assert_int_equal(cpc_sql_bind_str(ins, 2, "fresh"), 0);
  assert_int_equal(cpc_sql_bind_int64(ins, 3, 0), 0);
  assert_int_equal(cpc_sql_step(ins), CPC_EEXIST);
  assert_true(strlen(cpc_sql_errmsg(db)) > 0);
  assert_int_equal(cpc_sql_bind_int64(ins, 1, 1000), 0); /* duplicate name */
  assert_int_equal(cpc_sql_bind_str(ins, 2, "n001"), 0);
  assert_int_equal(cpc_sql_step(ins), CPC_EEXIST);
  assert_int_equal(cpc_sql_bind_str(ins, 2, "fresh"), 0); /* CHECK */
  assert_int_equal(cpc_sql_bind_int64(ins, 3, -1), 0);
  assert_int_equal(cpc_sql_step(ins), CPC_EINVAL);
  assert_int_equal(cpc_sql_bind_null(ins, 2), 0); /* NOT NULL */
  assert_int_equal(cpc_sql_bind_int64(ins, 3, 1), 0);
  assert_int_equal(cpc_sql_step(ins), CPC_EINVAL);
  assert_int_equal(query_int(db, "SELECT count(*) FROM t_rows"), 90);
  cpc_sql_finalize(ins);

  exec_ok(db, "INSERT INTO t_parent (id) VALUES (1)");
  cpc_sql_stmt *child =
      prepare_ok(db, "INSERT INTO t_child (id, parent) VALUES ($1, $2)");
  assert_int_equal(cpc_sql_bind_int64(child, 1, 1), 0);
  assert_int_equal(cpc_sql_bind_int64(child, 2, 2), 0);
  assert_int_equal(cpc_sql_step(child), CPC_ENOENT); /* no parent 2 */
  assert_int_equal(cpc_sql_bind_int64(child, 2, 1), 0);
  assert_int_equal(step(child, db), CPC_SQL_DONE);
  cpc_sql_finalize(child);
  exec_ok(db, "DELETE FROM t_parent WHERE id = 1");
  assert_int_equal(query_int(db, "SELECT count(*) FROM t_child"), 0);

  /* upsert */
  cpc_sql_stmt *up = prepare_ok(
      db, "INSERT INTO t_rows (id, name, score) VALUES ($1, $2, $3) "
          "ON CONFLICT (id) DO UPDATE SET score = excluded.score");
  assert_int_equal(cpc_sql_bind_int64(up, 1, 5), 0);
  assert_int_equal(cpc_sql_bind_str(up, 2, "ignored"), 0);
  assert_int_equal(cpc_sql_bind_int64(up, 3, 500), 0);
  assert_int_equal(step(up, db), CPC_SQL_DONE);
  cpc_sql_finalize(up);
  assert_int_equal(query_int(db, "SELECT score FROM t_rows WHERE id = 5"), 500);
  assert_int_equal(query_int(db, "SELECT count(*) FROM t_rows WHERE name = "
                                 "'n005'"),
                   1);
  cpc_sql_close(db);
}

static void test_rows(void **state) {
  (void)state;
  struct backend b[2];
  size_t n = backends(b, "rows");
  for (size_t i = 0; i < n; i++)
    run_rows(b[i].url);
}

/* ---- transactions ----------------------------------------------------------- */

static int calls;

static int txn_insert(cpc_sql *db, void *arg) {
  calls++;
  int *fail_first = arg;
  exec_ok(db, "INSERT INTO t_counter (id, n) VALUES (2, 0)");
  if (*fail_first > 0) {
    (*fail_first)--;
    return CPC_EAGAIN; /* as if the engine reported a conflict */
  }
  return 0;
}

static int txn_refuse(cpc_sql *db, void *arg) {
  (void)arg;
  calls++;
  exec_ok(db, "INSERT INTO t_counter (id, n) VALUES (3, 0)");
  return CPC_EPERM;
}

static int txn_commits_itself(cpc_sql *db, void *arg) {
  (void)arg;
  return cpc_sql_commit(db);
}

/* read, then write what was read plus one: needs serial execution */
static int txn_increment(cpc_sql *db, void *arg) {
  (void)arg;
  cpc_sql_stmt *st = NULL;
  int64_t n = 0;
  int rc = cpc_sql_prepare(db, "SELECT n FROM t_counter WHERE id = 1", &st);
  if (rc)
    return rc;
  rc = cpc_sql_step(st);
  if (rc == CPC_SQL_ROW)
    rc = cpc_sql_column_int64(st, 0, &n);
  cpc_sql_finalize(st);
  if (rc)
    return rc;
  rc = cpc_sql_prepare(db, "UPDATE t_counter SET n = $1 WHERE id = 1", &st);
  if (rc)
    return rc;
  rc = cpc_sql_bind_int64(st, 1, n + 1);
  if (!rc)
    rc = cpc_sql_step(st);
  cpc_sql_finalize(st);
  return rc;
}

struct incr_job {
  const char *url;
  int rounds;
  int rc;
};

static void *increment_loop(void *arg) {
  struct incr_job *job = arg;
  cpc_sql *db = NULL;
  job->rc = cpc_sql_open(job->url, &db, NULL);
  for (int k = 0; !job->rc && k < job->rounds; k++)
    job->rc = cpc_sql_transact(db, txn_increment, NULL);
  if (job->rc && db)
    fprintf(stderr, "increment: %s: %s\n", cpc_strerror(job->rc),
            cpc_sql_errmsg(db));
  cpc_sql_close(db);
  return NULL;
}

static void run_transactions(const char *url) {
  cpc_sql *db = open_clean(url), *other = open_db(url);
  exec_ok(db, "CREATE TABLE t_counter (id BIGINT PRIMARY KEY, n BIGINT NOT "
              "NULL)");
  exec_ok(db, "INSERT INTO t_counter (id, n) VALUES (1, 0)");

  assert_int_equal(cpc_sql_commit(db), CPC_ESTATE);
  assert_int_equal(cpc_sql_rollback(db), CPC_ESTATE);
  assert_int_equal(cpc_sql_begin(db), 0);
  assert_int_equal(cpc_sql_begin(db), CPC_ESTATE);
  exec_ok(db, "UPDATE t_counter SET n = 5 WHERE id = 1");
  assert_int_equal(query_int(db, "SELECT n FROM t_counter"), 5);
  assert_int_equal(query_int(other, "SELECT n FROM t_counter"), 0);
  assert_int_equal(cpc_sql_rollback(db), 0);
  assert_int_equal(query_int(db, "SELECT n FROM t_counter"), 0);
  assert_int_equal(cpc_sql_begin(db), 0);
  exec_ok(db, "UPDATE t_counter SET n = 6 WHERE id = 1");
  assert_int_equal(cpc_sql_commit(db), 0);
  assert_int_equal(query_int(other, "SELECT n FROM t_counter"), 6);

  /* a failed statement inside a transaction: roll back, nothing kept */
  assert_int_equal(cpc_sql_begin(db), 0);
  exec_ok(db, "UPDATE t_counter SET n = 7 WHERE id = 1");
  assert_int_equal(cpc_sql_exec(db, "INSERT INTO t_counter (id, n) VALUES (1, "
                                    "1)"),
                   CPC_EEXIST);
  assert_int_equal(cpc_sql_rollback(db), 0);
  assert_int_equal(query_int(db, "SELECT n FROM t_counter"), 6);

  /* transact: retries on CPC_EAGAIN, rolls back on other errors */
  int fail_first = 2;
  calls = 0;
  assert_int_equal(cpc_sql_transact(db, txn_insert, &fail_first), 0);
  assert_int_equal(calls, 3);
  assert_int_equal(query_int(other, "SELECT count(*) FROM t_counter"), 2);
  exec_ok(db, "DELETE FROM t_counter WHERE id = 2");
  fail_first = 1000;
  calls = 0;
  assert_int_equal(cpc_sql_transact(db, txn_insert, &fail_first), CPC_EAGAIN);
  assert_int_equal(calls, CPC_SQL_TRANSACT_ATTEMPTS);
  calls = 0;
  assert_int_equal(cpc_sql_transact(db, txn_refuse, NULL), CPC_EPERM);
  assert_int_equal(calls, 1);
  assert_int_equal(query_int(other, "SELECT count(*) FROM t_counter"), 1);
  assert_int_equal(cpc_sql_transact(db, txn_commits_itself, NULL), CPC_ESTATE);
  assert_int_equal(cpc_sql_transact(db, NULL, NULL), CPC_EINVAL);

  /* a writer holding the lock makes another wait, then give up: EAGAIN */
  assert_int_equal(cpc_sql_set_lock_timeout(other, 50), 0);
  assert_int_equal(cpc_sql_begin(db), 0);
  exec_ok(db, "UPDATE t_counter SET n = 8 WHERE id = 1");
  int rc = cpc_sql_begin(other); /* SQLite: the write lock is taken here */
  if (rc == 0) {
    rc = cpc_sql_exec(other, "UPDATE t_counter SET n = 9 WHERE id = 1");
    assert_int_equal(rc, CPC_EAGAIN);
    assert_int_equal(cpc_sql_rollback(other), 0);
  } else {
    assert_int_equal(rc, CPC_EAGAIN);
  }
  assert_int_equal(cpc_sql_commit(db), 0);
  assert_int_equal(query_int(other, "SELECT n FROM t_counter"), 8);
  exec_ok(db, "UPDATE t_counter SET n = 0 WHERE id = 1");

  /* concurrent read-modify-write transactions lose no update */
  enum { THREADS = 3, ROUNDS = 20 };
  pthread_t th[THREADS];
  struct incr_job jobs[THREADS];
  for (int k = 0; k < THREADS; k++) {
    jobs[k] = (struct incr_job){url, ROUNDS, 0};
    assert_int_equal(pthread_create(&th[k], NULL, increment_loop, &jobs[k]), 0);
  }
  for (int k = 0; k < THREADS; k++) {
    assert_int_equal(pthread_join(th[k], NULL), 0);
    assert_int_equal(jobs[k].rc, 0);
  }
  assert_int_equal(query_int(db, "SELECT n FROM t_counter"), THREADS * ROUNDS);

  /* closing with a transaction open rolls it back */
  assert_int_equal(cpc_sql_begin(other), 0);
  exec_ok(other, "UPDATE t_counter SET n = 1000 WHERE id = 1");
  cpc_sql_close(other);
  assert_int_equal(query_int(db, "SELECT n FROM t_counter"), THREADS * ROUNDS);
  cpc_sql_close(db);
}

static void test_transactions(void **state) {
  (void)state;
  struct backend b[2];
  size_t n = backends(b, "txn");
  for (size_t i = 0; i < n; i++)
    run_transactions(b[i].url);
}

/* ---- migrations ------------------------------------------------------------ */

static const cpc_sql_migration migs_v2[] = {
    {1, "create m_a",
     "CREATE TABLE m_a (id BIGINT PRIMARY KEY, name TEXT NOT NULL);"
     "CREATE INDEX m_a_name ON m_a (name)",
     NULL, NULL},
    {2, "seed m_a", "INSERT INTO m_a (id, name) VALUES (1, 'first')", NULL,
     NULL},
};

static int64_t count_rows(cpc_sql *db, const char *table) {
  char sql[128];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
  return query_int(db, sql);
}

struct migrate_job {
  const char *url;
  const cpc_sql_migration *migs;
  size_t n;
  int rc;
};

static void *migrate_thread(void *arg) {
  struct migrate_job *job = arg;
  cpc_sql *db = NULL;
  job->rc = cpc_sql_open(job->url, &db, NULL);
  if (!job->rc)
    job->rc = cpc_sql_migrate(db, job->migs, job->n, NULL);
  if (job->rc && db)
    fprintf(stderr, "migrate: %s: %s\n", cpc_strerror(job->rc),
            cpc_sql_errmsg(db));
  cpc_sql_close(db);
  return NULL;
}

static void run_migrations(const char *url) {
  cpc_sql *db = open_clean(url);
  int64_t version = -1;
  assert_int_equal(cpc_sql_schema_version(db, &version), 0);
  assert_int_equal(version, 0);

  assert_int_equal(cpc_sql_migrate(db, migs_v2, 2, &version), 0);
  assert_int_equal(version, 2);
  assert_int_equal(count_rows(db, "m_a"), 1);
  assert_int_equal(count_rows(db, "schema_migrations"), 3); /* + lock row */
  /* idempotent: nothing runs twice (v1 would fail on the existing table) */
  assert_int_equal(cpc_sql_migrate(db, migs_v2, 2, &version), 0);
  assert_int_equal(version, 2);
  assert_int_equal(cpc_sql_migrate(db, migs_v2, 1, &version),
                   CPC_EUNSUPPORTED); /* the code knows only v1 */
  assert_non_null(strstr(cpc_sql_errmsg(db), "newer"));
  assert_int_equal(count_rows(db, "m_a"), 1);

  /* a failing migration leaves the previous version, and no half of it */
  cpc_sql_migration bad[3] = {
      migs_v2[0], migs_v2[1],
      {3, "broken", "CREATE TABLE m_b (id BIGINT PRIMARY KEY);"
                    "INSERT INTO m_a (id, name) VALUES (2, 'second');"
                    "INSERT INTO m_nowhere VALUES (1)",
       NULL, NULL}};
  assert_int_equal(cpc_sql_migrate(db, bad, 3, &version), CPC_EINVAL);
  assert_non_null(strstr(cpc_sql_errmsg(db), "migration 3 (broken)"));
  assert_int_equal(cpc_sql_schema_version(db, &version), 0);
  assert_int_equal(version, 2);
  assert_int_equal(count_rows(db, "m_a"), 1);
  cpc_sql_stmt *st = NULL;
  int rc = cpc_sql_prepare(db, "SELECT count(*) FROM m_b", &st);
  if (rc == 0) {
    assert_int_equal(cpc_sql_step(st), CPC_EINVAL); /* no such table */
    cpc_sql_finalize(st);
  } else {
    assert_int_equal(rc, CPC_EINVAL);
  }

  /* engine variants replace the portable script */
  cpc_sql_migration v3[3] = {
      migs_v2[0], migs_v2[1],
      {3, "variants", "THIS IS NOT SQL",
       "CREATE TABLE m_b (id BIGINT PRIMARY KEY, engine TEXT);"
       "INSERT INTO m_b (id, engine) VALUES (1, 'sqlite')",
       "CREATE TABLE m_b (id BIGINT PRIMARY KEY, engine TEXT);"
       "INSERT INTO m_b (id, engine) VALUES (1, 'postgres')"}};
  assert_int_equal(cpc_sql_migrate(db, v3, 3, &version), 0);
  assert_int_equal(version, 3);
  st = prepare_ok(db, "SELECT engine FROM m_b");
  assert_int_equal(step(st, db), CPC_SQL_ROW);
  const char *engine;
  assert_int_equal(cpc_sql_column_text(st, 0, &engine, NULL), 0);
  assert_string_equal(engine, cpc_sql_engine_of(db) == CPC_SQL_SQLITE
                                  ? "sqlite"
                                  : "postgres");
  cpc_sql_finalize(st);
  st = prepare_ok(db, "SELECT name FROM schema_migrations WHERE version = 3");
  assert_int_equal(step(st, db), CPC_SQL_ROW);
  assert_int_equal(cpc_sql_column_text(st, 0, &engine, NULL), 0);
  assert_string_equal(engine, "variants");
  cpc_sql_finalize(st);

  /* bad lists */
  cpc_sql_migration unsorted[2] = {migs_v2[1], migs_v2[0]};
  cpc_sql_migration zero[1] = {{0, "zero", "SELECT 1", NULL, NULL}};
  cpc_sql_migration null_sql[1] = {{1, "null", NULL, NULL, NULL}};
  assert_int_equal(cpc_sql_migrate(db, unsorted, 2, NULL), CPC_EINVAL);
  assert_int_equal(cpc_sql_migrate(db, zero, 1, NULL), CPC_EINVAL);
  assert_int_equal(cpc_sql_migrate(db, null_sql, 1, NULL), CPC_EINVAL);
  assert_int_equal(cpc_sql_migrate(db, NULL, 1, NULL), CPC_EINVAL);
  assert_int_equal(cpc_sql_migrate(NULL, migs_v2, 2, NULL), CPC_EINVAL);
  cpc_sql_close(db);

  /* several processes migrating one fresh database at once */
  db = open_clean(url);
  enum { THREADS = 4 };
  pthread_t th[THREADS];
  struct migrate_job jobs[THREADS];
  for (int k = 0; k < THREADS; k++) {
    jobs[k] = (struct migrate_job){url, v3, 3, 0};
    assert_int_equal(pthread_create(&th[k], NULL, migrate_thread, &jobs[k]),
                     0);
  }
  for (int k = 0; k < THREADS; k++) {
    assert_int_equal(pthread_join(th[k], NULL), 0);
    assert_int_equal(jobs[k].rc, 0);
  }
  assert_int_equal(cpc_sql_schema_version(db, &version), 0);
  assert_int_equal(version, 3);
  assert_int_equal(count_rows(db, "m_a"), 1);
  assert_int_equal(count_rows(db, "m_b"), 1);
  assert_int_equal(count_rows(db, "schema_migrations"), 4);
  cpc_sql_close(db);
}

static void test_migrations(void **state) {
  (void)state;
  struct backend b[2];
  size_t n = backends(b, "migrate");
  for (size_t i = 0; i < n; i++)
    run_migrations(b[i].url);
}

static void write_text(const char *dir, const char *name, const char *text) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
}

static void remove_dir(const char *dir) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    if (e->d_name[0] == '.')
      continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

static void test_migration_files(void **state) {
  (void)state;
  char dir[600];
  cpc_sql_migration *migs = (cpc_sql_migration *)1;
  size_t n = 7;
  snprintf(dir, sizeof dir, "%s/migrations", tmpdir);
  assert_int_equal(mkdir(dir, 0700), 0);
  write_text(dir, "0010_later.sql", "CREATE TABLE m_c (id BIGINT)");
  write_text(dir, "0002_more.sql", "portable");
  write_text(dir, "0002_more.postgres.sql", "pg");
  write_text(dir, "0002_more.sqlite.sql", "lite");
  write_text(dir, "1_init.sql", "CREATE TABLE m_a (id BIGINT)");
  write_text(dir, "README.md", "not a migration");
  assert_int_equal(cpc_sql_migrations_load_dir(dir, &migs, &n), 0);
  assert_int_equal(n, 3);
  assert_int_equal(migs[0].version, 1);
  assert_string_equal(migs[0].name, "init");
  assert_string_equal(migs[0].sql, "CREATE TABLE m_a (id BIGINT)");
  assert_null(migs[0].sql_sqlite);
  assert_int_equal(migs[1].version, 2);
  assert_string_equal(migs[1].name, "more");
  assert_string_equal(migs[1].sql, "portable");
  assert_string_equal(migs[1].sql_sqlite, "lite");
  assert_string_equal(migs[1].sql_postgres, "pg");
  assert_int_equal(migs[2].version, 10);
  assert_string_equal(migs[2].name, "later");
  cpc_sql_migrations_free(migs, n);

  write_text(dir, "0003_alone.sqlite.sql", "x"); /* no portable file */
  assert_int_equal(cpc_sql_migrations_load_dir(dir, &migs, &n),
                   CPC_EMALFORMED);
  assert_null(migs);
  assert_int_equal(n, 0);
  write_text(dir, "0003_alone.sql", "x");
  assert_int_equal(cpc_sql_migrations_load_dir(dir, &migs, &n), 0);
  cpc_sql_migrations_free(migs, n);
  write_text(dir, "03_again.sql", "x"); /* version 3 twice */
  assert_int_equal(cpc_sql_migrations_load_dir(dir, &migs, &n),
                   CPC_EMALFORMED);
  char path[700];
  snprintf(path, sizeof path, "%s/03_again.sql", dir);
  unlink(path);
  write_text(dir, "init.sql", "x"); /* no version */
  assert_int_equal(cpc_sql_migrations_load_dir(dir, &migs, &n),
                   CPC_EMALFORMED);
  snprintf(path, sizeof path, "%s/init.sql", dir);
  unlink(path);
  write_text(dir, "0_zero.sql", "x");
  assert_int_equal(cpc_sql_migrations_load_dir(dir, &migs, &n),
                   CPC_EMALFORMED);
  remove_dir(dir);
  assert_int_equal(cpc_sql_migrations_load_dir(dir, &migs, &n), CPC_EIO);
  assert_int_equal(cpc_sql_migrations_load_dir(NULL, &migs, &n), CPC_EINVAL);
  cpc_sql_migrations_free(NULL, 0);
}

/* ---- leases ---------------------------------------------------------------- */

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int acquire(cpc_sql *db, const char *owner, int64_t ttl, int64_t now,
                   int64_t *expires) {
  int got = -1;
  int rc = cpc_sql_lease_acquire(db, "scheduler/shard-1", owner, ttl, now,
                                 &got, expires);
  if (rc)
    print_error("lease: %s: %s\n", cpc_strerror(rc), cpc_sql_errmsg(db));
  assert_int_equal(rc, 0);
  return got;
}

static void run_leases(const char *url) {
  cpc_sql *a = open_clean(url), *b = open_db(url);
  int64_t exp = 0, t = 1700000000000;
  int released = -1, got;
  assert_int_equal(cpc_sql_migrate(a, NULL, 0, NULL), 0);

  assert_int_equal(acquire(a, "A", 1000, t, &exp), 1);
  assert_int_equal(exp, t + 1000);
  assert_int_equal(acquire(b, "B", 1000, t + 10, NULL), 0);
  assert_int_equal(acquire(a, "A", 1000, t + 500, &exp), 1); /* renew */
  assert_int_equal(exp, t + 1500);
  assert_int_equal(acquire(b, "B", 1000, t + 1499, NULL), 0);
  assert_int_equal(acquire(b, "B", 1000, t + 1500, &exp), 1); /* expired */
  assert_int_equal(exp, t + 2500);
  assert_int_equal(acquire(a, "A", 1000, t + 1600, NULL), 0);
  assert_int_equal(cpc_sql_lease_release(a, "scheduler/shard-1", "A",
                                         &released),
                   0);
  assert_int_equal(released, 0); /* not A's any more */
  assert_int_equal(cpc_sql_lease_release(b, "scheduler/shard-1", "B",
                                         &released),
                   0);
  assert_int_equal(released, 1);
  assert_int_equal(acquire(a, "A", 1000, t + 1700, NULL), 1);
  /* other names are independent */
  assert_int_equal(cpc_sql_lease_acquire(b, "scheduler/shard-2", "B", 1000,
                                         t + 1700, &got, NULL),
                   0);
  assert_int_equal(got, 1);

  /* the database clock */
  int64_t now = 0, before = wall_ms();
  assert_int_equal(cpc_sql_now_ms(a, &now), 0);
  assert_true(now > before - 60000 && now < before + 60000);
  assert_int_equal(cpc_sql_lease_acquire(a, "clock", "A", 60000, 0, &got,
                                         &exp),
                   0);
  assert_int_equal(got, 1);
  assert_true(exp >= now + 60000 && exp < now + 120000);
  assert_int_equal(cpc_sql_lease_acquire(b, "clock", "B", 60000, 0, &got,
                                         NULL),
                   0);
  assert_int_equal(got, 0);

  /* bad arguments */
  assert_int_equal(cpc_sql_lease_acquire(a, "", "A", 1000, t, &got, NULL),
                   CPC_EINVAL);
  assert_int_equal(cpc_sql_lease_acquire(a, "x", NULL, 1000, t, &got, NULL),
                   CPC_EINVAL);
  assert_int_equal(cpc_sql_lease_acquire(a, "x", "A", 0, t, &got, NULL),
                   CPC_EINVAL);
  assert_int_equal(cpc_sql_lease_acquire(a, "x", "A", 1000, -5, &got, NULL),
                   CPC_EINVAL);
  assert_int_equal(cpc_sql_lease_acquire(a, "x", "A", 1000, t, NULL, NULL),
                   CPC_EINVAL);
  assert_int_equal(cpc_sql_lease_release(a, "x", "", NULL), CPC_EINVAL);
  cpc_sql_close(a);
  cpc_sql_close(b);
}

static void test_leases(void **state) {
  (void)state;
  struct backend b[2];
  size_t n = backends(b, "lease");
  for (size_t i = 0; i < n; i++)
    run_leases(b[i].url);
}

/* ---- statements used again (the SQLite back end caches them) --------------- */

static void run_reuse(const char *url) {
  cpc_sql *db = open_clean(url);
  exec_ok(db, "CREATE TABLE t_rows (k BIGINT PRIMARY KEY, v TEXT NOT NULL)");
  exec_ok(db, "INSERT INTO t_rows (k, v) VALUES (1, 'one'), (2, 'two'), "
              "(3, 'three')");
  static const char *const sel = "SELECT v FROM t_rows WHERE k = $1";
  /* The same text again and again, with other bindings each time: each
   * answer is its own (no binding or row left over from the last use). */
  for (int round = 0; round < 3; round++) {
    for (int64_t k = 1; k <= 4; k++) {
      cpc_sql_stmt *st = prepare_ok(db, sel);
      if (k != 2)
        assert_int_equal(cpc_sql_bind_int64(st, 1, k), 0);
      else /* NULL matches nothing */
        assert_int_equal(cpc_sql_bind_null(st, 1), 0);
      int rc = step(st, db);
      if (k == 2 || k == 4) {
        assert_int_equal(rc, CPC_SQL_DONE);
      } else {
        const char *v = NULL;
        size_t len = 0;
        assert_int_equal(rc, CPC_SQL_ROW);
        assert_int_equal(cpc_sql_column_text(st, 0, &v, &len), 0);
        assert_string_equal(v, k == 1 ? "one" : "three");
      }
      /* finalized in the middle of its rows on purpose */
      cpc_sql_finalize(st);
    }
  }
  /* Two open statements of the same text at once are independent. */
  cpc_sql_stmt *a = prepare_ok(db, "SELECT k FROM t_rows ORDER BY k");
  cpc_sql_stmt *b = prepare_ok(db, "SELECT k FROM t_rows ORDER BY k");
  int64_t va = 0, vb = 0;
  assert_int_equal(step(a, db), CPC_SQL_ROW);
  assert_int_equal(step(a, db), CPC_SQL_ROW);
  assert_int_equal(step(b, db), CPC_SQL_ROW);
  assert_int_equal(cpc_sql_column_int64(a, 0, &va), 0);
  assert_int_equal(cpc_sql_column_int64(b, 0, &vb), 0);
  assert_int_equal(va, 2);
  assert_int_equal(vb, 1);
  cpc_sql_finalize(a);
  cpc_sql_finalize(b);
  /* A finished statement holds no read transaction: another connection's
   * write is seen, and this connection can write after it. */
  assert_int_equal(query_int(db, "SELECT count(*) FROM t_rows"), 3);
  cpc_sql *other = open_db(url);
  exec_ok(other, "INSERT INTO t_rows (k, v) VALUES (4, 'four')");
  assert_int_equal(query_int(db, "SELECT count(*) FROM t_rows"), 4);
  exec_ok(db, "INSERT INTO t_rows (k, v) VALUES (5, 'five')");
  /* The schema changes under a kept statement: it is recompiled. */
  exec_ok(other, "ALTER TABLE t_rows ADD COLUMN w BIGINT NOT NULL DEFAULT 7");
  cpc_sql_stmt *st = prepare_ok(db, "SELECT * FROM t_rows WHERE k = 5");
  assert_int_equal(step(st, db), CPC_SQL_ROW);
  assert_int_equal(cpc_sql_column_count(st), 3);
  cpc_sql_finalize(st);
  /* More distinct texts than any cache holds. */
  for (int i = 0; i < 100; i++) {
    char sql[64];
    snprintf(sql, sizeof sql, "SELECT %d + k FROM t_rows WHERE k = 1", i);
    assert_int_equal(query_int(db, sql), i + 1);
  }
  cpc_sql_close(other);
  cpc_sql_close(db);
}

static void test_reuse(void **state) {
  (void)state;
  struct backend b[2];
  size_t n = backends(b, "reuse");
  for (size_t i = 0; i < n; i++)
    run_reuse(b[i].url);
}

static void remove_tmpdir(void) {
  DIR *d = opendir(tmpdir);
  if (!d)
    return;
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    if (e->d_name[0] == '.')
      continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
    unlink(path);
  }
  closedir(d);
  rmdir(tmpdir);
}

int main(void) {
  const char *base = getenv("TMPDIR");
  snprintf(tmpdir, sizeof tmpdir, "%s/cpc-sql-XXXXXX",
           base && *base ? base : "/tmp");
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  pg_url = getenv("CPC_TEST_PG_URL");
  if (pg_url && !*pg_url)
    pg_url = NULL;
  fprintf(stderr, "test_sql: SQLite%s\n",
          pg_url ? " and PostgreSQL (CPC_TEST_PG_URL)"
                 : " only (set CPC_TEST_PG_URL for PostgreSQL)");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_open),
      cmocka_unit_test(test_types),
      cmocka_unit_test(test_params),
      cmocka_unit_test(test_rows),
      cmocka_unit_test(test_transactions),
      cmocka_unit_test(test_migrations),
      cmocka_unit_test(test_migration_files),
      cmocka_unit_test(test_leases),
      cmocka_unit_test(test_reuse),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  remove_tmpdir();
  return failed;
}
