/*
 * cpc/sql.h: one small SQL access API over SQLite and PostgreSQL, chosen by
 * a URL, with versioned migrations and leases for splitting work between
 * several processes sharing one database.
 *
 * URLs
 *   sqlite:PATH          a file (created if missing; its directory must
 *                        exist), opened in WAL mode with foreign keys on,
 *                        synchronous=NORMAL (a committed transaction survives
 *                        a process crash; a power cut may lose the last few)
 *                        and a 5 s busy timeout. "sqlite::memory:" is a
 *                        private in-memory database (tests).
 *   postgres://…, postgresql://…   handed to libpq as is (user, password,
 *                        host, port, dbname, sslmode=… …).
 *
 * The SQL dialect. Statements must run unchanged on SQLite 3.35+ and on
 * PostgreSQL 12+, and should run on PostgreSQL-compatible distributed
 * engines (CockroachDB, YugabyteDB, Citus), so write only:
 *   - types BIGINT (and INTEGER, SMALLINT), TEXT, BYTEA (binary),
 *     DOUBLE PRECISION. No BOOLEAN (use SMALLINT 0/1 and compare
 *     explicitly), no DATETIME/TIMESTAMP (store BIGINT milliseconds since
 *     the Unix epoch), no SERIAL/AUTOINCREMENT (generate ids in the
 *     application: CIDs, peer ids, random 64-bit values);
 *   - CREATE TABLE [IF NOT EXISTS] with PRIMARY KEY, UNIQUE, NOT NULL,
 *     CHECK, REFERENCES … ON DELETE CASCADE; CREATE [UNIQUE] INDEX
 *     [IF NOT EXISTS]; ALTER TABLE … ADD COLUMN (SQLite has no other ALTER);
 *   - INSERT … ON CONFLICT (cols) DO NOTHING / DO UPDATE SET c =
 *     excluded.c (not INSERT OR REPLACE / OR IGNORE); … RETURNING cols;
 *   - SELECT with JOIN, GROUP BY, ORDER BY, LIMIT/OFFSET, count/sum/min/max,
 *     lower(), LIKE (no ILIKE), COALESCE, CASE; no SELECT … FOR UPDATE (use a
 *     conditional UPDATE and check cpc_sql_changes()).
 *   - parameters $1, $2, … (PostgreSQL's syntax; translated to ?NNN for
 *     SQLite). A parameter may appear several times, every index from 1 to
 *     the highest must appear, "?" and $$-quoting are refused.
 *   - single-quoted strings, unquoted lower-case identifiers, "--" line
 *     comments and C-style block comments.
 * Features outside this subset (full-text search, partial indexes, …) go in
 * the engine-specific variants of a migration (struct cpc_sql_migration).
 *
 * Results: a statement returns rows one at a time (cpc_sql_step) read with
 * typed getters. On PostgreSQL, every row of a result is fetched when the
 * statement first runs, so keep result sets bounded (LIMIT, pagination).
 *
 * Transactions: cpc_sql_begin() starts a write transaction: BEGIN
 * IMMEDIATE on SQLite (the write lock at once, waiting up to the busy
 * timeout), BEGIN ISOLATION LEVEL SERIALIZABLE on PostgreSQL (what
 * CockroachDB always gives). Either may fail with CPC_EAGAIN (SQLite busy,
 * PostgreSQL serialization failure 40001, deadlock 40P01, lock timeout
 * 55P03) at any statement or at commit: then roll back and run the whole
 * transaction again. cpc_sql_transact() does exactly that.
 *
 * Errors (every function returns 0 or a negative CPC_E* code):
 *   CPC_EEXIST   unique or primary-key violation (SQLSTATE 23505)
 *   CPC_ENOENT   foreign-key violation (23503); NULL read by a getter
 *   CPC_EINVAL   other constraint (NOT NULL, CHECK: 23502, 23514), bad SQL,
 *                bad parameter syntax, bad arguments
 *   CPC_EAGAIN   busy / serialization failure / deadlock: retry
 *   CPC_ENOSPC   disk or quota full
 *   CPC_EIO      anything else from the engine, lost connections
 * cpc_sql_errmsg() has the engine's message for the last failure.
 *
 * Threads: a cpc_sql connection and its statements belong to one thread at
 * a time; open one connection per thread (SQLite in WAL mode lets readers
 * run beside one writer; PostgreSQL connections are independent).
 */
#ifndef CPC_SQL_H
#define CPC_SQL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CPC_SQL_MAX_PARAMS 100       /* highest $N */
#define CPC_SQL_MAX_URL 4096         /* bytes of a URL */
#define CPC_SQL_MAX_STATEMENT 1000000 /* bytes of one SQL text */
#define CPC_SQL_MAX_MIGRATIONS 10000
#define CPC_SQL_TRANSACT_ATTEMPTS 10 /* cpc_sql_transact() tries */

typedef struct cpc_sql cpc_sql;
typedef struct cpc_sql_stmt cpc_sql_stmt;

enum cpc_sql_engine { CPC_SQL_SQLITE = 1, CPC_SQL_POSTGRES = 2 };

/*
 * cpc_sql_open: connects to the database named by url (see URLs above).
 *   out  receives the connection; close it with cpc_sql_close().
 * Returns 0, CPC_EINVAL (NULL or unknown URL scheme, empty path, URL over
 * CPC_SQL_MAX_URL), CPC_EIO (cannot open or connect; if errmsg is not NULL
 * it receives a malloc'd message the caller frees, else NULL) or CPC_ENOMEM.
 */
int cpc_sql_open(const char *url, cpc_sql **out, char **errmsg);

/* cpc_sql_close: finalizes any statements still open, rolls back an open
 * transaction, disconnects and frees. NULL is a no-op. */
void cpc_sql_close(cpc_sql *db);

/* cpc_sql_engine_of: which engine db speaks to. */
enum cpc_sql_engine cpc_sql_engine_of(const cpc_sql *db);

/* cpc_sql_errmsg: the engine's message for the last failure on db
 * (borrowed, valid until the next call on db; "" when none). */
const char *cpc_sql_errmsg(const cpc_sql *db);

/*
 * cpc_sql_set_lock_timeout: how long a statement waits for a lock held by
 * another connection before failing with CPC_EAGAIN (SQLite busy timeout;
 * PostgreSQL lock_timeout). ms 0 means fail at once. Default 5000.
 * Returns 0, CPC_EINVAL or an engine error.
 */
int cpc_sql_set_lock_timeout(cpc_sql *db, uint32_t ms);

/*
 * cpc_sql_exec: runs one or more ';'-separated statements without
 * parameters or results (DDL, BEGIN-less scripts). Returns 0 or an error
 * (statements before the failing one stay applied unless in a transaction).
 */
int cpc_sql_exec(cpc_sql *db, const char *sql);

/*
 * cpc_sql_prepare: compiles one statement with $N parameters.
 *   out  receives the statement; free it with cpc_sql_finalize() before
 *        cpc_sql_close() (or let close do it).
 * Returns 0, CPC_EINVAL (bad SQL or parameters, over CPC_SQL_MAX_STATEMENT)
 * or CPC_ENOMEM. PostgreSQL checks the SQL only when it first runs.
 */
int cpc_sql_prepare(cpc_sql *db, const char *sql, cpc_sql_stmt **out);

/* cpc_sql_finalize: frees st. NULL is a no-op. */
void cpc_sql_finalize(cpc_sql_stmt *st);

/*
 * Binds: parameter idx (1-based, the N of $N) takes a value, copied. A bind
 * on a statement that has started running resets it first. Every parameter
 * must be bound before the statement runs; bindings stay across runs.
 * Text must be valid for the column (PostgreSQL refuses invalid UTF-8 and
 * NUL bytes in TEXT; use a blob for bytes). len is in bytes.
 * Returns 0, CPC_EINVAL (idx out of range, NULL pointer with len > 0) or
 * CPC_ENOMEM.
 */
int cpc_sql_bind_int64(cpc_sql_stmt *st, int idx, int64_t v);
int cpc_sql_bind_double(cpc_sql_stmt *st, int idx, double v);
int cpc_sql_bind_text(cpc_sql_stmt *st, int idx, const char *s, size_t len);
int cpc_sql_bind_str(cpc_sql_stmt *st, int idx, const char *s); /* strlen */
int cpc_sql_bind_blob(cpc_sql_stmt *st, int idx, const void *p, size_t len);
int cpc_sql_bind_null(cpc_sql_stmt *st, int idx);

/*
 * cpc_sql_step: runs st or advances it.
 * Returns CPC_SQL_ROW (1) when a row is ready for the getters, CPC_SQL_DONE
 * (0) when there are no more rows (the next step runs the statement again),
 * or a negative error (CPC_ESTATE if a parameter is unbound). After an error
 * the statement is reset.
 */
#define CPC_SQL_ROW 1
#define CPC_SQL_DONE 0
int cpc_sql_step(cpc_sql_stmt *st);

/* cpc_sql_reset: stops a run so the next step starts again (bindings
 * kept). Returns 0 or CPC_EINVAL. */
int cpc_sql_reset(cpc_sql_stmt *st);

/*
 * cpc_sql_changes: rows inserted, updated or deleted by the last completed
 * run of st (0 for a query). Returns 0 or CPC_EINVAL.
 */
int cpc_sql_changes(const cpc_sql_stmt *st, int64_t *out);

/*
 * Getters for the current row (after CPC_SQL_ROW); col is 0-based.
 * Returned pointers are borrowed, valid until the next step, reset, bind or
 * finalize of st; text is NUL-terminated (len excludes the NUL); a blob
 * from an empty value is a non-NULL pointer with len 0.
 * Returns 0, CPC_ENOENT (the value is NULL; *out untouched), CPC_EINVAL
 * (col out of range, no current row, NULL out), CPC_EMALFORMED (the value
 * is not of that type, e.g. text read as an integer) or CPC_ENOMEM.
 */
int cpc_sql_column_count(const cpc_sql_stmt *st);
int cpc_sql_column_is_null(const cpc_sql_stmt *st, int col); /* 1, 0, <0 */
int cpc_sql_column_int64(cpc_sql_stmt *st, int col, int64_t *out);
int cpc_sql_column_double(cpc_sql_stmt *st, int col, double *out);
int cpc_sql_column_text(cpc_sql_stmt *st, int col, const char **out,
                        size_t *len);
int cpc_sql_column_blob(cpc_sql_stmt *st, int col, const void **out,
                        size_t *len);

/*
 * Transactions (see above). begin inside a transaction gives CPC_ESTATE;
 * commit/rollback outside one too. A failed commit leaves no transaction
 * open (it was rolled back). Return 0 or an error.
 */
int cpc_sql_begin(cpc_sql *db);
int cpc_sql_commit(cpc_sql *db);
int cpc_sql_rollback(cpc_sql *db);

/*
 * cpc_sql_transact: begin; rc = fn(db, arg); commit if rc is 0, else roll
 * back. When begin, fn or commit returns CPC_EAGAIN, the transaction is
 * rolled back and run again after a short randomised back-off (1 ms
 * doubling to 100 ms), up to CPC_SQL_TRANSACT_ATTEMPTS times in all; so fn
 * must have no effects outside the database, or ones safe to repeat.
 * Returns 0, fn's own error, CPC_EAGAIN after the last attempt, or an
 * engine error.
 */
typedef int (*cpc_sql_txn_fn)(cpc_sql *db, void *arg);
int cpc_sql_transact(cpc_sql *db, cpc_sql_txn_fn fn, void *arg);

/*
 * Migrations. Version numbers are positive and strictly increasing along
 * the array. sql is the portable script; sql_sqlite / sql_postgres, when
 * not NULL, replace it on that engine (for the few things the dialects do
 * differently). name is informative (stored in schema_migrations).
 */
typedef struct cpc_sql_migration {
  int64_t version;
  const char *name;
  const char *sql;
  const char *sql_sqlite;
  const char *sql_postgres;
} cpc_sql_migration;

/*
 * cpc_sql_migrate: brings db up to the last version of migs.
 * Creates the library's own tables if missing: schema_migrations (version
 * BIGINT PRIMARY KEY, name TEXT, applied_at BIGINT ms) and cpc_leases (see
 * below). Then applies, in order, each migration newer than the database,
 * each in its own transaction together with its schema_migrations row, so
 * a failing script leaves the database at the previous version. Several
 * processes may migrate at once: each step re-reads the version inside
 * its transaction (and retries on CPC_EAGAIN / CPC_EEXIST races), so every
 * migration runs exactly once. n may be 0 (only the library tables).
 *   version  receives the database's version afterwards (may be NULL).
 * Returns 0, CPC_EINVAL (versions not positive and increasing, a NULL
 * script, n over CPC_SQL_MAX_MIGRATIONS), CPC_EUNSUPPORTED (the database
 * has a version newer than the last of migs: it was migrated by newer
 * code; nothing is changed), or the error of the failing script.
 */
int cpc_sql_migrate(cpc_sql *db, const cpc_sql_migration *migs, size_t n,
                    int64_t *version);

/* cpc_sql_schema_version: the highest applied version (0 when none or no
 * schema_migrations table). Returns 0 or an engine error. */
int cpc_sql_schema_version(cpc_sql *db, int64_t *version);

/*
 * cpc_sql_migrations_load_dir: reads migration files from dir: every
 * regular file named "<version>_<name>.sql" (version a positive decimal,
 * e.g. 0001_init.sql); "<version>_<name>.sqlite.sql" and
 * "<version>_<name>.postgres.sql" give the engine variants. Files are
 * capped at CPC_SQL_MAX_STATEMENT bytes.
 *   out, n   receive a sorted array; free it with cpc_sql_migrations_free().
 * Returns 0, CPC_EINVAL (NULL arguments), CPC_EIO (cannot read dir or a
 * file), CPC_EMALFORMED (a .sql name without a version, a variant without
 * its portable file, two files for one version and engine), CPC_ETOOBIG or
 * CPC_ENOMEM.
 */
int cpc_sql_migrations_load_dir(const char *dir, cpc_sql_migration **out,
                                size_t *n);
void cpc_sql_migrations_free(cpc_sql_migration *migs, size_t n);

/*
 * Leases: a named lock held by an owner until it expires, kept in the
 * cpc_leases table (name TEXT PRIMARY KEY, owner TEXT, expires_at BIGINT
 * ms), so several orchestrator instances can split scheduler work: each
 * instance tries to lease "scheduler/shard-7" (or any name) and works on it
 * only while it holds the lease, renewing it well before ttl runs out.
 * Implemented with INSERT … ON CONFLICT DO NOTHING and a conditional UPDATE
 * (owner matches or the lease expired), each atomic on both engines.
 *   now_ms  the time to judge expiry by, in ms since the Unix epoch; 0 means
 *           the database's clock (one clock for every instance; recommended).
 * cpc_sql_lease_acquire: takes or renews the lease for ttl_ms from now.
 *   acquired  1 if owner now holds it (expires_at receives the new expiry
 *             when not NULL), 0 if another owner holds an unexpired lease.
 * cpc_sql_lease_release: gives it up if owner holds it (released 1), else
 *   changes nothing (released 0; may be NULL).
 * Both need cpc_sql_migrate() to have run. Return 0, CPC_EINVAL (NULL or
 * empty name/owner, ttl_ms 0 or over a year) or an engine error.
 */
int cpc_sql_lease_acquire(cpc_sql *db, const char *name, const char *owner,
                          int64_t ttl_ms, int64_t now_ms, int *acquired,
                          int64_t *expires_at);
int cpc_sql_lease_release(cpc_sql *db, const char *name, const char *owner,
                          int *released);

/* cpc_sql_now_ms: the database's clock in ms since the Unix epoch.
 * Returns 0 or an engine error. */
int cpc_sql_now_ms(cpc_sql *db, int64_t *out);

#ifdef __cplusplus
}
#endif

#endif /* CPC_SQL_H */
