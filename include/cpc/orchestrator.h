/*
 * cpc/orchestrator.h: the Central Orchestrator process (DESIGN.md section
 * 6) as a library object: its configuration, and a running instance on a
 * libuv loop the caller owns (the database, the gRPC NodeService for
 * provider nodes with grpc.health.v1, the replication/audit scheduler and
 * the metrics registry).
 *
 *   cpc_orchestrator_config cfg;
 *   cpc_orchestrator_config_default(&cfg);
 *   cpc_orchestrator_config_load(&cfg, "orchestrator.json", err, sizeof err);
 *   cpc_orchestrator_new(&o, loop, &cfg, err, sizeof err);  // db, migrations
 *   cpc_orchestrator_start(o, err, sizeof err);             // listen, tick
 *   uv_run(loop, UV_RUN_DEFAULT);
 *   cpc_orchestrator_close(o, done, ud);                    // async
 *
 * The gRPC server runs on the loop's thread; the scheduler tick runs on
 * the libuv thread pool with a database connection of its own (at most one
 * tick at a time; docs/node-rpc.md, "Threads and the database"), so the
 * loop must be one libuv's thread pool serves. Rules the scheduler follows:
 * docs/adr/0003-scheduler.md; the node protocol: docs/node-rpc.md.
 */
#ifndef CPC_ORCHESTRATOR_H
#define CPC_ORCHESTRATOR_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "cpc/sql.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cpc_metrics;

#define CPC_ORCH_MAX_PATH 1024
#define CPC_ORCH_MAX_LISTEN 128 /* "ADDR:PORT" or "[v6]:PORT" */

/* Default ports (DESIGN.md section 2). */
#define CPC_ORCH_DEFAULT_REST "127.0.0.1:7700"
#define CPC_ORCH_DEFAULT_GRPC "127.0.0.1:7701"

/*
 * Scheduler timings and policy. All times are milliseconds. The JSON keys
 * of the "scheduler" object of a config file are these field names.
 */
typedef struct cpc_orchestrator_sched_config {
  int64_t tick_ms;               /* scheduler period (1000) */
  int64_t heartbeat_interval_ms; /* told to nodes (10000) */
  int64_t heartbeat_timeout_ms;  /* silent this long: offline (60000) */
  int64_t work_timeout_ms;       /* work not confirmed by then: re-sent
                                    (120000) */
  uint32_t work_max_attempts;    /* sends before the work fails (3) */
  int64_t audit_interval_ms;     /* one audit per node this often (300000) */
  int64_t audit_timeout_ms;      /* an audit unanswered by then fails
                                    (30000) */
  uint32_t vetting_audits;       /* passed audits to leave vetting (10) */
  uint32_t vetting_replicas;     /* extra copies a vetting node is given to
                                    be audited on (4) */
  uint32_t replicas_default;     /* replicas when content names none (3) */
  double score_lambda;           /* audit score memory, 0 < l < 1 (0.95) */
  double disqualify_below;       /* score under this: disqualified (0.6) */
  uint32_t batch;                /* blocks looked at per tick (256) */
  int64_t clock_skew_ms;         /* accepted skew of signed times (300000) */
  uint32_t max_drops_per_node;   /* drop orders kept per node for copies
                                    it holds untracked (100000; 0: none) */
} cpc_orchestrator_sched_config;

/*
 * The process configuration. Strings are NUL-terminated in place.
 *   data_dir   directory for the SQLite database and other state; created
 *              if missing. Default $CPC_HOME/orchestrator when CPC_HOME is
 *              set, else ./cpc-orchestrator-data.
 *   db_url     "sqlite:PATH" or "postgres://…"; "" means
 *              sqlite:<data_dir>/orchestrator.db.
 *   rest       REST listen address "ADDR:PORT" (used by the REST server).
 *   grpc       gRPC listen address "ADDR:PORT" (port 0: any free port).
 */
typedef struct cpc_orchestrator_config {
  char data_dir[CPC_ORCH_MAX_PATH];
  char db_url[CPC_SQL_MAX_URL];
  char rest[CPC_ORCH_MAX_LISTEN];
  char grpc[CPC_ORCH_MAX_LISTEN];
  cpc_orchestrator_sched_config sched;
} cpc_orchestrator_config;

/* Fill *cfg with the defaults above (reads CPC_HOME). Never fails. */
void cpc_orchestrator_config_default(cpc_orchestrator_config *cfg);

/*
 * cpc_orchestrator_config_load: overlay the JSON file at path on *cfg.
 * The file is one object with optional keys "data", "db", "rest", "grpc"
 * (strings) and "scheduler" (an object with the fields of
 * cpc_orchestrator_sched_config). Unknown keys, wrong types and values out
 * of range are refused; err (cap bytes, may be NULL) then gets a message
 * naming the key, e.g. "scheduler.tick_ms: must be an integer from 10 to
 * 3600000". Files are capped at 1 MiB. *cfg is only changed on success.
 * Returns 0, CPC_EIO (cannot read), CPC_ETOOBIG, CPC_EMALFORMED (not JSON)
 * or CPC_EINVAL (a bad key or value).
 */
int cpc_orchestrator_config_load(cpc_orchestrator_config *cfg, const char *path,
                                 char *err, size_t cap);

/*
 * cpc_orchestrator_config_check: validates every field of *cfg (ranges,
 * listen addresses, URL scheme), as the loader does. err as above.
 * Returns 0 or CPC_EINVAL.
 */
int cpc_orchestrator_config_check(const cpc_orchestrator_config *cfg,
                                  char *err, size_t cap);

/*
 * cpc_orchestrator_parse_listen: split "ADDR:PORT" ("127.0.0.1:7700",
 * "[::1]:7701") into an IP literal (NUL-terminated into addr, cap bytes)
 * and a port (0 allowed). Returns 0, CPC_EINVAL (no port, port over
 * 65535, address not an IPv4/IPv6 literal) or CPC_ETOOBIG (cap short).
 */
int cpc_orchestrator_parse_listen(const char *text, char *addr, size_t cap,
                                  uint16_t *port);

typedef struct cpc_orchestrator cpc_orchestrator;

/*
 * cpc_orchestrator_new: creates the data directory, opens the database
 * (cfg->db_url or the default SQLite file) and brings its schema up to
 * date (lib/orchestrator/migrations), creates the metrics registry.
 * Nothing listens yet. cfg is copied; loop is borrowed and must outlive o.
 * On failure err (cap bytes, may be NULL) says what went wrong.
 * Returns 0, CPC_EINVAL (bad config), CPC_EIO (directory, database),
 * CPC_EUNSUPPORTED (database migrated by newer code) or CPC_ENOMEM.
 */
int cpc_orchestrator_new(cpc_orchestrator **out, uv_loop_t *loop,
                         const cpc_orchestrator_config *cfg, char *err,
                         size_t cap);

/*
 * cpc_orchestrator_start: listens for gRPC on cfg->grpc (NodeService and
 * grpc.health.v1.Health, with "" and "cpc.orchestrator.v1.NodeService"
 * SERVING) and starts the scheduler timer. Returns 0, CPC_ESTATE (already
 * started), CPC_EIO (cannot listen) or CPC_ENOMEM.
 */
int cpc_orchestrator_start(cpc_orchestrator *o, char *err, size_t cap);

/* The gRPC port actually bound (after start; 0 before). */
uint16_t cpc_orchestrator_grpc_port(const cpc_orchestrator *o);

/*
 * cpc_orchestrator_close: stops the scheduler, releases its leases, closes
 * the gRPC server (streams are cancelled) and, once every handle is
 * closed, the database, and frees o; then calls done(ud) (done may be
 * NULL). o must not be used after this call. NULL o calls done at once.
 */
void cpc_orchestrator_close(cpc_orchestrator *o, void (*done)(void *ud),
                            void *ud);

/* Accessors (borrowed, valid until close). This database connection
 * belongs to the loop thread; other threads open their own with
 * cpc_sql_open(cpc_orchestrator_config_of(o)->db_url). */
const cpc_orchestrator_config *cpc_orchestrator_config_of(
    const cpc_orchestrator *o);
cpc_sql *cpc_orchestrator_db(cpc_orchestrator *o);
uv_loop_t *cpc_orchestrator_loop(cpc_orchestrator *o);
/* The registry every part of the orchestrator reports to; render it for
 * /metrics (thread-safe). */
struct cpc_metrics *cpc_orchestrator_metrics(cpc_orchestrator *o);

/*
 * cpc_orchestrator_count_bytes: add n bytes moved by the orchestrator (gRPC
 * and REST traffic) to the cpc_bandwidth_bytes{node_type="orchestrator"}
 * gauge's rate (bytes per second, computed each scheduler tick). Any thread.
 */
void cpc_orchestrator_count_bytes(cpc_orchestrator *o, uint64_t n);

#ifdef __cplusplus
}
#endif

#endif /* CPC_ORCHESTRATOR_H */
