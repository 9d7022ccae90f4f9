/*
 * orchestrator.c: the orchestrator process as an object on a libuv loop:
 * data directory, database and migrations, metrics, the gRPC server with
 * NodeService and health, the scheduler timer, and an orderly shutdown.
 * Other front ends (the REST server) hang off the same object through
 * the accessors of cpc/orchestrator.h.
 *
 * The scheduler tick runs on the libuv thread pool with a database
 * connection of its own (a tick over a large table must not stall the
 * gRPC streams on the loop); at most one tick is under way, and work is
 * handed to the WorkStreams back on the loop when it ends. gRPC handlers
 * run their few indexed statements on the loop itself (docs/node-rpc.md,
 * "Threads and the database").
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cpc/error.h"
#include "orchestrator/orchestrator_int.h"

#define NODE_SERVICE "cpc.orchestrator.v1.NodeService"
#define MAX_NODE_MESSAGE (64 * 1024)

struct cpc_orchestrator {
  uv_loop_t *loop;
  cpc_orchestrator_config cfg;
  cpc_sql *db;      /* the loop's connection (gRPC handlers) */
  cpc_sql *tick_db; /* the scheduler's, used on the thread pool */
  cpc__orch_metrics metrics;
  cpc__orch_core core;      /* over db */
  cpc__orch_core tick_core; /* over tick_db (or db, see tick_inline) */
  uv_work_t tick_req;
  int tick_running, tick_inline, tick_rc;
  char tick_err[256];
  cpc_rpc_server *rpc;
  cpc_rpc_health *health;
  cpc__node_service *svc;
  uv_timer_t timer;
  int timer_open, started, closing;
  uint16_t grpc_port;
  void (*done)(void *ud);
  void *done_ud;
  int pending; /* handles and servers still closing */
};

__attribute__((format(printf, 4, 5))) static int fail(char *err, size_t cap,
                                                    int rc, const char *fmt,
                                                    ...) {
  va_list ap;
  if (err && cap) {
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
  }
  return rc;
}

/* mkdir -p for path (its parents too). */
static int make_dirs(const char *path) {
  char buf[CPC_ORCH_MAX_PATH];
  size_t i, n = strlen(path);
  if (n == 0 || n >= sizeof buf)
    return CPC_EINVAL;
  memcpy(buf, path, n + 1);
  for (i = 1; i <= n; i++) {
    if (buf[i] == '/' || buf[i] == '\0') {
      char c = buf[i];
      buf[i] = '\0';
      if (mkdir(buf, 0700) != 0 && errno != EEXIST)
        return CPC_EIO;
      buf[i] = c;
    }
  }
  return 0;
}

int cpc_orchestrator_new(cpc_orchestrator **out, uv_loop_t *loop,
                         const cpc_orchestrator_config *cfg, char *err,
                         size_t cap) {
  cpc_orchestrator *o;
  char *dberr = NULL;
  int64_t version = 0;
  int rc;

  if (!out || !loop || !cfg)
    return fail(err, cap, CPC_EINVAL, "missing argument");
  *out = NULL;
  rc = cpc_orchestrator_config_check(cfg, err, cap);
  if (rc != 0)
    return rc;
  o = calloc(1, sizeof *o);
  if (!o)
    return fail(err, cap, CPC_ENOMEM, "out of memory");
  o->loop = loop;
  o->cfg = *cfg;
  if (make_dirs(o->cfg.data_dir) != 0) {
    rc = fail(err, cap, CPC_EIO, "cannot create data directory %s: %s",
              o->cfg.data_dir, strerror(errno));
    goto fail;
  }
  if (!o->cfg.db_url[0] &&
      (size_t)snprintf(o->cfg.db_url, sizeof o->cfg.db_url,
                       "sqlite:%s/orchestrator.db",
                       o->cfg.data_dir) >= sizeof o->cfg.db_url) {
    rc = fail(err, cap, CPC_EINVAL, "data directory path too long");
    goto fail;
  }
  rc = cpc_sql_open(o->cfg.db_url, &o->db, &dberr);
  if (rc != 0) {
    rc = fail(err, cap, rc, "cannot open database %s: %s", o->cfg.db_url,
              dberr ? dberr : cpc_strerror(rc));
    free(dberr);
    goto fail;
  }
  rc = cpc_sql_migrate(o->db, cpc__orchestrator_migrations,
                       cpc__orchestrator_migrations_count, &version);
  if (rc != 0) {
    if (rc == CPC_EUNSUPPORTED)
      rc = fail(err, cap, rc,
                "database schema is newer than this orchestrator (%s)",
                o->cfg.db_url);
    else
      rc = fail(err, cap, rc, "database migration failed: %s",
                cpc_sql_errmsg(o->db));
    goto fail;
  }
  /* The loop's connection serves gRPC calls: bound how long one statement
   * may hold the loop (docs/node-rpc.md, "Threads and the database"). */
  if (strncmp(o->cfg.db_url, "postgres", 8) == 0)
    (void)cpc_sql_exec(o->db, "SET statement_timeout = 2000");
  rc = cpc__orch_metrics_init(&o->metrics);
  if (rc != 0) {
    rc = fail(err, cap, rc, "metrics: %s", cpc_strerror(rc));
    goto fail;
  }
  cpc__orch_core_init(&o->core, o->db, &o->cfg.sched, &o->metrics);
  /* A private in-memory SQLite database cannot be shared with a second
   * connection: the tick then runs on the loop. */
  o->tick_inline = strstr(o->cfg.db_url, ":memory:") != NULL;
  if (!o->tick_inline) {
    rc = cpc_sql_open(o->cfg.db_url, &o->tick_db, &dberr);
    if (rc != 0) {
      rc = fail(err, cap, rc, "cannot open database %s: %s", o->cfg.db_url,
                dberr ? dberr : cpc_strerror(rc));
      free(dberr);
      goto fail;
    }
  }
  cpc__orch_core_init(&o->tick_core, o->tick_inline ? o->db : o->tick_db,
                      &o->cfg.sched, &o->metrics);
  *out = o;
  return 0;
fail:
  cpc__orch_metrics_free(&o->metrics);
  cpc_sql_close(o->tick_db);
  cpc_sql_close(o->db);
  free(o);
  return rc;
}

int cpc__orchestrator_refresh_metrics(cpc_orchestrator *o, cpc_sql *db) {
  if (!o)
    return 0;
  return cpc__orch_refresh_gauges(&o->metrics, db, cpc__orch_now_ms(), 1000);
}

static void one_closed(cpc_orchestrator *o);

/* Thread pool: one tick over tick_db. */
static void tick_work(uv_work_t *w) {
  cpc_orchestrator *o = w->data;
  o->tick_rc = cpc__orch_tick(&o->tick_core, cpc__orch_now_ms(), NULL);
  if (o->tick_rc != 0)
    snprintf(o->tick_err, sizeof o->tick_err, "%s",
             cpc_sql_errmsg(o->tick_core.db));
}

/* Loop: the tick is over (or was cancelled before it began). */
static void tick_done(uv_work_t *w, int status) {
  cpc_orchestrator *o = w->data;
  o->tick_running = 0;
  if (status == 0 && o->tick_rc != 0)
    fprintf(stderr, "cpc-orchestrator: scheduler: %s (%s)\n",
            cpc_strerror(o->tick_rc), o->tick_err);
  if (o->closing) {
    one_closed(o);
    return;
  }
  cpc__node_service_dispatch(o->svc, cpc__orch_now_ms());
}

static void on_tick(uv_timer_t *t) {
  cpc_orchestrator *o = t->data;
  if (o->tick_running) /* the last one is still at it: skip this period */
    return;
  if (o->tick_inline) {
    o->tick_req.data = o;
    tick_work(&o->tick_req);
    o->tick_running = 1;
    tick_done(&o->tick_req, 0);
    return;
  }
  o->tick_req.data = o;
  if (uv_queue_work(o->loop, &o->tick_req, tick_work, tick_done) == 0)
    o->tick_running = 1;
}

int cpc_orchestrator_start(cpc_orchestrator *o, char *err, size_t cap) {
  cpc_rpc_server_config rc_cfg;
  char addr[64];
  uint16_t port;
  int rc;

  if (!o || o->started || o->closing)
    return fail(err, cap, CPC_ESTATE, "already started");
  rc = cpc_orchestrator_parse_listen(o->cfg.grpc, addr, sizeof addr, &port);
  if (rc != 0)
    return fail(err, cap, rc, "grpc: bad listen address %s", o->cfg.grpc);
  cpc_rpc_server_config_default(&rc_cfg);
  rc_cfg.max_recv_message = MAX_NODE_MESSAGE;
  rc = cpc_rpc_server_new(&o->rpc, o->loop, &rc_cfg);
  if (rc == 0)
    rc = cpc__node_service_new(&o->svc, o->rpc, &o->core);
  if (rc == 0)
    rc = cpc_rpc_health_enable(o->rpc, &o->health);
  if (rc == 0)
    rc = cpc_rpc_health_set(o->health, NODE_SERVICE, CPC_RPC_HEALTH_SERVING);
  if (rc != 0) {
    rc = fail(err, cap, rc, "gRPC server: %s", cpc_strerror(rc));
    goto fail;
  }
  rc = cpc_rpc_server_listen(o->rpc, addr, port, &o->grpc_port);
  if (rc != 0) {
    rc = fail(err, cap, rc, "cannot listen for gRPC on %s (%s)", o->cfg.grpc,
              rc == CPC_EIO ? "address in use or not available"
                            : cpc_strerror(rc));
    goto fail;
  }
  uv_timer_init(o->loop, &o->timer);
  o->timer.data = o;
  o->timer_open = 1;
  uv_timer_start(&o->timer, on_tick, 0, (uint64_t)o->cfg.sched.tick_ms);
  o->started = 1;
  return 0;
fail:
  cpc__node_service_free(o->svc);
  o->svc = NULL;
  if (o->rpc)
    cpc_rpc_server_close(o->rpc, NULL, NULL);
  o->rpc = NULL;
  o->health = NULL;
  return rc;
}

uint16_t cpc_orchestrator_grpc_port(const cpc_orchestrator *o) {
  return o ? o->grpc_port : 0;
}

static void finish_close(cpc_orchestrator *o) {
  void (*done)(void *) = o->done;
  void *ud = o->done_ud;
  /* The gRPC server has closed: every call's on_cancel has run, so the
   * node service's handlers are done with it. */
  cpc__node_service_free(o->svc);
  o->svc = NULL;
  cpc__orch_release_leases(&o->tick_core); /* no tick is under way now */
  cpc_sql_close(o->tick_db);
  cpc_sql_close(o->db);
  cpc__orch_metrics_free(&o->metrics);
  free(o);
  if (done)
    done(ud);
}

static void one_closed(cpc_orchestrator *o) {
  if (--o->pending == 0)
    finish_close(o);
}

static void on_timer_closed(uv_handle_t *h) { one_closed(h->data); }
static void on_rpc_closed(void *ud) { one_closed(ud); }

void cpc_orchestrator_close(cpc_orchestrator *o, void (*done)(void *ud),
                            void *ud) {
  if (!o) {
    if (done)
      done(ud);
    return;
  }
  if (o->closing)
    return;
  o->closing = 1;
  o->done = done;
  o->done_ud = ud;
  o->pending = 1; /* released below */
  if (o->timer_open) {
    o->pending++;
    uv_timer_stop(&o->timer);
    uv_close((uv_handle_t *)&o->timer, on_timer_closed);
  }
  if (o->tick_running) { /* tick_done releases it */
    o->pending++;
    (void)uv_cancel((uv_req_t *)&o->tick_req);
  }
  if (o->rpc) {
    o->pending++;
    cpc_rpc_server_close(o->rpc, on_rpc_closed, o);
    o->rpc = NULL;
  }
  one_closed(o);
}

const cpc_orchestrator_config *cpc_orchestrator_config_of(
    const cpc_orchestrator *o) {
  return &o->cfg;
}
cpc_sql *cpc_orchestrator_db(cpc_orchestrator *o) { return o->db; }
uv_loop_t *cpc_orchestrator_loop(cpc_orchestrator *o) { return o->loop; }
struct cpc_metrics *cpc_orchestrator_metrics(cpc_orchestrator *o) {
  return o->metrics.reg;
}
void cpc_orchestrator_count_bytes(cpc_orchestrator *o, uint64_t n) {
  if (o)
    atomic_fetch_add(&o->metrics.bytes, n);
}
