/*
 * cpc-orchestrator: the Central Orchestrator (DESIGN.md section 6).
 * Parses options, builds a cpc_orchestrator from libcpc, runs the loop
 * until SIGTERM or SIGINT, shuts down cleanly and exits 0.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <uv.h>

#include "cpc/error.h"
#include "cpc/orchestrator.h"
#include "cpc/orchestrator_rest.h"

static const char USAGE[] =
    "usage: cpc-orchestrator [--config FILE] [--rest ADDR:PORT]\n"
    "                        [--grpc ADDR:PORT] [--db URL] [--data DIR]\n"
    "\n"
    "Runs the CPC Central Orchestrator until SIGTERM or SIGINT.\n"
    "\n"
    "  --config FILE     JSON file with keys data, db, rest, grpc and\n"
    "                    scheduler {tick_ms, heartbeat_timeout_ms, ...}\n"
    "                    (see docs/adr/0003-scheduler.md); options given\n"
    "                    on the command line win over the file\n"
    "  --rest ADDR:PORT  REST API listen address (default " CPC_ORCH_DEFAULT_REST ");\n"
    "                    port 0 picks a free one\n"
    "  --grpc ADDR:PORT  gRPC listen address for nodes (default " CPC_ORCH_DEFAULT_GRPC ");\n"
    "                    port 0 picks a free one\n"
    "  --db URL          sqlite:PATH or postgres://... (default: SQLite in\n"
    "                    the data directory)\n"
    "  --data DIR        data directory (default $CPC_HOME/orchestrator,\n"
    "                    else ./cpc-orchestrator-data)\n"
    "  -h, --help        this text\n"
    "\n"
    "Once listening it prints \"grpc listening on ADDR:PORT\" and\n"
    "\"rest listening on ADDR:PORT\" on stdout.\n";

typedef struct app {
  uv_loop_t loop;
  uv_signal_t sigint, sigterm;
  cpc_orchestrator *orch;
  cpc_orchestrator_rest *rest;
} app;

static void on_closed(void *ud) { (void)ud; }

static void on_signal(uv_signal_t *h, int signum) {
  app *a = h->data;
  (void)signum;
  uv_signal_stop(&a->sigint);
  uv_signal_stop(&a->sigterm);
  uv_close((uv_handle_t *)&a->sigint, NULL);
  uv_close((uv_handle_t *)&a->sigterm, NULL);
  cpc_orchestrator_rest_stop(a->rest);
  a->rest = NULL;
  cpc_orchestrator_close(a->orch, on_closed, NULL);
  a->orch = NULL;
}

static int set_opt(char *dst, size_t cap, const char *opt, const char *v) {
  if (!v) {
    fprintf(stderr, "cpc-orchestrator: %s needs a value (see --help)\n", opt);
    return -1;
  }
  if (strlen(v) == 0 || strlen(v) >= cap) {
    fprintf(stderr, "cpc-orchestrator: %s: value empty or too long\n", opt);
    return -1;
  }
  snprintf(dst, cap, "%s", v);
  return 0;
}

int main(int argc, char **argv) {
  cpc_orchestrator_config cfg;
  const char *config = NULL, *rest = NULL, *grpc = NULL, *db = NULL,
             *data = NULL;
  char err[512], addr[64];
  uint16_t port;
  app a;
  int i, rc;

  for (i = 1; i < argc; i++) {
    const char **slot = NULL;
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      fputs(USAGE, stdout);
      return 0;
    }
    if (strcmp(argv[i], "--config") == 0)
      slot = &config;
    else if (strcmp(argv[i], "--rest") == 0)
      slot = &rest;
    else if (strcmp(argv[i], "--grpc") == 0)
      slot = &grpc;
    else if (strcmp(argv[i], "--db") == 0)
      slot = &db;
    else if (strcmp(argv[i], "--data") == 0)
      slot = &data;
    if (!slot) {
      fprintf(stderr, "cpc-orchestrator: unknown option '%s' (see --help)\n",
              argv[i]);
      return 2;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "cpc-orchestrator: %s needs a value (see --help)\n",
              argv[i]);
      return 2;
    }
    *slot = argv[++i];
  }

  cpc_orchestrator_config_default(&cfg);
  if (config && cpc_orchestrator_config_load(&cfg, config, err, sizeof err)) {
    fprintf(stderr, "cpc-orchestrator: config %s\n", err);
    return 2;
  }
  if ((rest && set_opt(cfg.rest, sizeof cfg.rest, "--rest", rest)) ||
      (grpc && set_opt(cfg.grpc, sizeof cfg.grpc, "--grpc", grpc)) ||
      (db && set_opt(cfg.db_url, sizeof cfg.db_url, "--db", db)) ||
      (data && set_opt(cfg.data_dir, sizeof cfg.data_dir, "--data", data)))
    return 2;
  if (cpc_orchestrator_config_check(&cfg, err, sizeof err) != 0) {
    fprintf(stderr, "cpc-orchestrator: %s\n", err);
    return 2;
  }

  signal(SIGPIPE, SIG_IGN);
  memset(&a, 0, sizeof a);
  if (uv_loop_init(&a.loop) != 0) {
    fprintf(stderr, "cpc-orchestrator: cannot create the event loop\n");
    return 1;
  }
  rc = cpc_orchestrator_new(&a.orch, &a.loop, &cfg, err, sizeof err);
  if (rc == 0)
    rc = cpc_orchestrator_start(a.orch, err, sizeof err);
  if (rc == 0)
    rc = cpc_orchestrator_rest_start(a.orch, cfg.rest, &a.rest, err,
                                     sizeof err);
  if (rc != 0) {
    fprintf(stderr, "cpc-orchestrator: %s\n", err);
    cpc_orchestrator_close(a.orch, NULL, NULL);
    uv_run(&a.loop, UV_RUN_DEFAULT);
    uv_loop_close(&a.loop);
    return 1;
  }
  uv_signal_init(&a.loop, &a.sigint);
  uv_signal_init(&a.loop, &a.sigterm);
  a.sigint.data = a.sigterm.data = &a;
  uv_signal_start(&a.sigint, on_signal, SIGINT);
  uv_signal_start(&a.sigterm, on_signal, SIGTERM);

  (void)cpc_orchestrator_parse_listen(cfg.grpc, addr, sizeof addr, &port);
  printf(strchr(addr, ':') ? "grpc listening on [%s]:%u\n"
                           : "grpc listening on %s:%u\n",
         addr, (unsigned)cpc_orchestrator_grpc_port(a.orch));
  (void)cpc_orchestrator_parse_listen(cfg.rest, addr, sizeof addr, &port);
  printf(strchr(addr, ':') ? "rest listening on [%s]:%u\n"
                           : "rest listening on %s:%u\n",
         addr, (unsigned)cpc_orchestrator_rest_port(a.rest));
  fflush(stdout);

  uv_run(&a.loop, UV_RUN_DEFAULT);
  rc = uv_loop_close(&a.loop);
  if (rc != 0) {
    fprintf(stderr, "cpc-orchestrator: handles left open at exit\n");
    return 1;
  }
  return 0;
}
