/*
 * cpc-pds: the Personal Data Server (DESIGN.md section 2). Parses options
 * and the config file, starts a cpc_pds from libcpc, runs the loop until
 * SIGTERM or SIGINT, stops cleanly and exits 0.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <uv.h>

#include "cpc/error.h"
#include "cpc/pds.h"

static const char USAGE[] =
    "usage: cpc-pds [--config FILE] [--data DIR] [--orchestrator URL]\n"
    "               [--api ADDR:PORT] [--listen MULTIADDR]...\n"
    "               [--bootstrap MULTIADDR]...\n"
    "\n"
    "Runs the user's Personal Data Server until SIGTERM or SIGINT: keeps the\n"
    "identity and content of one user, encrypts and chunks uploads, serves\n"
    "them over Bitswap, registers them with the orchestrator and answers\n"
    "the local API the `cpc` command line uses (docs/pds-api.md).\n"
    "\n"
    "  --config FILE        JSON config: storage_limit, bandwidth_limit,\n"
    "                       cache_eviction (\"lru\"), network {listen,\n"
    "                       bootstrap}, encryption (\"chacha20-poly1305\"),\n"
    "                       data, orchestrator, api; options given here win\n"
    "  --data DIR           data directory (identity, api-token, catalogue,\n"
    "                       blocks; default $CPC_HOME/pds, else\n"
    "                       ./cpc-pds-data)\n"
    "  --orchestrator URL   orchestrator REST API (default " CPC_PDS_DEFAULT_ORCHESTRATOR ")\n"
    "  --api ADDR:PORT      local API (default " CPC_PDS_DEFAULT_API "; port 0: any)\n"
    "  --listen MULTIADDR   libp2p address (default " CPC_PDS_DEFAULT_LISTEN ");\n"
    "                       repeatable, replaces the config's list\n"
    "  --bootstrap MULTIADDR  a DHT peer /ip4/…/tcp/…/p2p/…; repeatable\n"
    "  -h, --help           this text\n"
    "\n"
    "Once started it prints \"peer id PEERID\", \"listening on MULTIADDR\" and\n"
    "\"api listening on ADDR:PORT\" on stdout.\n";

typedef struct app {
  uv_loop_t loop;
  uv_signal_t sigint, sigterm;
  cpc_pds *pds;
} app;

static void on_signal(uv_signal_t *h, int signum) {
  app *a = h->data;
  (void)signum;
  uv_signal_stop(&a->sigint);
  uv_signal_stop(&a->sigterm);
  uv_close((uv_handle_t *)&a->sigint, NULL);
  uv_close((uv_handle_t *)&a->sigterm, NULL);
  cpc_pds_stop(a->pds, NULL, NULL);
  a->pds = NULL;
}

static int copy_opt(char *dst, size_t cap, const char *opt, const char *v) {
  if (strlen(v) == 0 || strlen(v) >= cap) {
    fprintf(stderr, "cpc-pds: %s: value empty or too long\n", opt);
    return -1;
  }
  snprintf(dst, cap, "%s", v);
  return 0;
}

int main(int argc, char **argv) {
  cpc_pds_config cfg;
  const char *config = NULL, *data = NULL, *orch = NULL, *api = NULL;
  const char *listen[CPC_PDS_MAX_ADDRS], *boot[CPC_PDS_MAX_ADDRS];
  size_t n_listen = 0, n_boot = 0, i;
  char err[1024], host[sizeof cfg.api];
  app a;
  int rc;

  for (int k = 1; k < argc; k++) {
    const char **slot = NULL;
    if (strcmp(argv[k], "-h") == 0 || strcmp(argv[k], "--help") == 0) {
      fputs(USAGE, stdout);
      return 0;
    }
    if (strcmp(argv[k], "--config") == 0)
      slot = &config;
    else if (strcmp(argv[k], "--data") == 0)
      slot = &data;
    else if (strcmp(argv[k], "--orchestrator") == 0)
      slot = &orch;
    else if (strcmp(argv[k], "--api") == 0)
      slot = &api;
    else if (strcmp(argv[k], "--listen") == 0 && n_listen < CPC_PDS_MAX_ADDRS)
      slot = &listen[n_listen++];
    else if (strcmp(argv[k], "--bootstrap") == 0 && n_boot < CPC_PDS_MAX_ADDRS)
      slot = &boot[n_boot++];
    if (!slot) {
      fprintf(stderr, "cpc-pds: unknown option '%s' (see --help)\n", argv[k]);
      return 2;
    }
    if (k + 1 >= argc) {
      fprintf(stderr, "cpc-pds: %s needs a value (see --help)\n", argv[k]);
      return 2;
    }
    *slot = argv[++k];
  }

  cpc_pds_config_default(&cfg);
  if (config && cpc_pds_config_load(&cfg, config, err, sizeof err) != 0) {
    fprintf(stderr, "cpc-pds: %s: %s\n", config, err);
    return 2;
  }
  if ((data && copy_opt(cfg.data_dir, sizeof cfg.data_dir, "--data", data)) ||
      (orch && copy_opt(cfg.orchestrator, sizeof cfg.orchestrator,
                        "--orchestrator", orch)) ||
      (api && copy_opt(cfg.api, sizeof cfg.api, "--api", api)))
    return 2;
  if (n_listen > 0) {
    for (i = 0; i < n_listen; i++)
      if (copy_opt(cfg.listen[i], sizeof cfg.listen[i], "--listen",
                   listen[i]))
        return 2;
    cfg.n_listen = n_listen;
  }
  for (i = 0; i < n_boot && cfg.n_bootstrap < CPC_PDS_MAX_ADDRS; i++)
    if (copy_opt(cfg.bootstrap[cfg.n_bootstrap++], CPC_PDS_MAX_ADDR_TEXT,
                 "--bootstrap", boot[i]))
      return 2;

  signal(SIGPIPE, SIG_IGN);
  umask(077); /* the catalogue and blocks are the user's alone */
  memset(&a, 0, sizeof a);
  if (uv_loop_init(&a.loop) != 0) {
    fprintf(stderr, "cpc-pds: cannot create the event loop\n");
    return 1;
  }
  rc = cpc_pds_start(&a.loop, &cfg, &a.pds, err, sizeof err);
  if (rc != 0) {
    fprintf(stderr, "cpc-pds: %s\n", err);
    uv_run(&a.loop, UV_RUN_DEFAULT);
    uv_loop_close(&a.loop);
    return 1;
  }
  printf("peer id %s\n", cpc_pds_peer_id(a.pds));
  for (i = 0; cpc_pds_listen_addr(a.pds, i); i++)
    printf("listening on %s\n", cpc_pds_listen_addr(a.pds, i));
  snprintf(host, sizeof host, "%s", cfg.api);
  if (strrchr(host, ':'))
    *strrchr(host, ':') = '\0';
  printf("api listening on %s:%u\n", host, (unsigned)cpc_pds_api_port(a.pds));
  printf("data %s (token in %s/api-token)\n", cfg.data_dir, cfg.data_dir);
  fflush(stdout);

  uv_signal_init(&a.loop, &a.sigint);
  uv_signal_init(&a.loop, &a.sigterm);
  a.sigint.data = a.sigterm.data = &a;
  uv_signal_start(&a.sigint, on_signal, SIGINT);
  uv_signal_start(&a.sigterm, on_signal, SIGTERM);
  uv_run(&a.loop, UV_RUN_DEFAULT);
  uv_loop_close(&a.loop);
  return 0;
}
