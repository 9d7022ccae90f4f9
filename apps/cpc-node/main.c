/*
 * cpc-node: the cooperative provider node (DESIGN.md section 2). Parses
 * options, builds a cpc_node from libcpc (lib/node), runs the loop until
 * SIGTERM or SIGINT, shuts down cleanly.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <uv.h>

#include "cpc/error.h"
#include "cpc/node.h"
#include "cpc/peer_id.h"

static const char USAGE[] =
    "usage: cpc-node init --data DIR --capacity SIZE [--bandwidth RATE]\n"
    "                     [--region NAME] [--listen MULTIADDR]...\n"
    "                     [--metrics ADDR:PORT] [--orchestrator ADDR:PORT]\n"
    "                     [--bootstrap MULTIADDR]...\n"
    "       cpc-node --data DIR [--orchestrator ADDR:PORT]\n"
    "                [--listen MULTIADDR]... [--metrics ADDR:PORT]\n"
    "                [--bootstrap MULTIADDR]...\n"
    "\n"
    "A cooperative provider node: stores encrypted chunks in its block store,\n"
    "serves them over Bitswap, replicates, deletes and audits them on the\n"
    "orchestrator's orders, scrubs them, and reports to /metrics.\n"
    "\n"
    "  init            create the node in DIR: a new Ed25519 key (node.key,\n"
    "                  mode 0600) and the configuration (node.json; every\n"
    "                  setting is documented in include/cpc/node.h)\n"
    "  --data DIR      the node's directory\n"
    "  --capacity SIZE storage committed: 500G, 1.5T, 100M, 64MiB, bytes\n"
    "  --bandwidth RATE  upload and download cap: 100Mbit, 10MB/s, 1G\n"
    "                  (bytes/s when no unit says bits; default unlimited)\n"
    "  --region NAME   failure domain, e.g. eu-west/rack-3 (default \"default\")\n"
    "  --listen MA     libp2p listen address, repeatable (default\n"
    "                  /ip4/0.0.0.0/tcp/4001; port 0 picks a free one)\n"
    "  --metrics ADDR:PORT  serve /metrics (OpenMetrics) there\n"
    "  --orchestrator ADDR:PORT  the orchestrator's gRPC address\n"
    "                  (e.g. 127.0.0.1:7701); without one the node only serves\n"
    "  --bootstrap MA  a DHT peer /ip4/…/tcp/…/p2p/<id>, repeatable; with any,\n"
    "                  the node joins the DHT and provides its blocks\n"
    "  -h, --help      this text\n"
    "\n"
    "Options given when running override node.json for that run. Once\n"
    "started it prints \"peer_id ID\", \"listening on MULTIADDR\" and, with\n"
    "--metrics, \"metrics listening on ADDR:PORT\" on stdout; its log goes to\n"
    "stderr, one line per event.\n";

typedef struct opts {
  const char *data, *capacity, *bandwidth, *region, *metrics, *orchestrator;
  const char *listen[CPC_NODE_MAX_LISTEN];
  size_t n_listen;
  const char *bootstrap[CPC_NODE_MAX_BOOTSTRAP];
  size_t n_bootstrap;
} opts;

typedef struct app {
  uv_loop_t loop;
  uv_signal_t sigint, sigterm;
  cpc_node *node;
} app;

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad(const char *fmt, ...) {
  va_list ap;
  fputs("cpc-node: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputs(" (see --help)\n", stderr);
  return 2;
}

static int parse(int argc, char **argv, int first, opts *o) {
  int i;
  for (i = first; i < argc; i += 2) { /* every option takes a value */
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    const char **slot = NULL;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      fputs(USAGE, stdout);
      return 1;
    }
    if (strcmp(a, "--data") == 0)
      slot = &o->data;
    else if (strcmp(a, "--capacity") == 0)
      slot = &o->capacity;
    else if (strcmp(a, "--bandwidth") == 0)
      slot = &o->bandwidth;
    else if (strcmp(a, "--region") == 0)
      slot = &o->region;
    else if (strcmp(a, "--metrics") == 0)
      slot = &o->metrics;
    else if (strcmp(a, "--orchestrator") == 0)
      slot = &o->orchestrator;
    else if (strcmp(a, "--listen") == 0) {
      if (o->n_listen == CPC_NODE_MAX_LISTEN)
        return bad("too many --listen addresses");
      slot = &o->listen[o->n_listen++];
    } else if (strcmp(a, "--bootstrap") == 0) {
      if (o->n_bootstrap == CPC_NODE_MAX_BOOTSTRAP)
        return bad("too many --bootstrap addresses");
      slot = &o->bootstrap[o->n_bootstrap++];
    } else
      return bad("unknown option '%s'", a);
    if (!v)
      return bad("%s needs a value", a);
    *slot = v;
  }
  return 0;
}

static int copy(char *dst, size_t cap, const char *what, const char *v) {
  if (strlen(v) >= cap) {
    fprintf(stderr, "cpc-node: %s '%s' is too long\n", what, v);
    return 2;
  }
  snprintf(dst, cap, "%s", v);
  return 0;
}

/* Options over cfg. 0 or an exit status. */
static int overlay(const opts *o, cpc_node_config *cfg) {
  size_t i;
  if (o->capacity && cpc_node_parse_size(o->capacity, &cfg->capacity) != 0) {
    fprintf(stderr, "cpc-node: --capacity '%s' is not a size; give e.g. "
                    "500G, 1.5T, 100M or a number of bytes\n", o->capacity);
    return 2;
  }
  if (o->bandwidth && cpc_node_parse_rate(o->bandwidth, &cfg->bandwidth) != 0) {
    fprintf(stderr, "cpc-node: --bandwidth '%s' is not a rate; give e.g. "
                    "100Mbit, 10MB/s or 1G (bytes per second)\n",
            o->bandwidth);
    return 2;
  }
  if (o->region && copy(cfg->region, sizeof cfg->region, "--region", o->region))
    return 2;
  if (o->metrics &&
      copy(cfg->metrics, sizeof cfg->metrics, "--metrics", o->metrics))
    return 2;
  if (o->orchestrator && copy(cfg->orchestrator, sizeof cfg->orchestrator,
                              "--orchestrator", o->orchestrator))
    return 2;
  if (o->n_listen) {
    for (i = 0; i < o->n_listen; i++)
      if (copy(cfg->listen[i], sizeof cfg->listen[i], "--listen", o->listen[i]))
        return 2;
    cfg->n_listen = o->n_listen;
  }
  if (o->n_bootstrap) {
    for (i = 0; i < o->n_bootstrap; i++)
      if (copy(cfg->bootstrap[i], sizeof cfg->bootstrap[i], "--bootstrap",
               o->bootstrap[i]))
        return 2;
    cfg->n_bootstrap = o->n_bootstrap;
  }
  return 0;
}

static int cmd_init(int argc, char **argv) {
  cpc_node_config cfg;
  char err[512] = "", id[CPC_PEER_ID_MAX_TEXT];
  opts o;
  int rc;
  memset(&o, 0, sizeof o);
  if ((rc = parse(argc, argv, 2, &o)) != 0)
    return rc == 1 ? 0 : rc;
  if (!o.data)
    return bad("init needs --data DIR");
  if (!o.capacity)
    return bad("init needs --capacity SIZE (e.g. 500G)");
  cpc_node_config_default(&cfg);
  if ((rc = overlay(&o, &cfg)) != 0)
    return rc;
  rc = cpc_node_init(o.data, &cfg, id, err, sizeof err);
  if (rc != 0) {
    fprintf(stderr, "cpc-node: init: %s\n", err[0] ? err : cpc_strerror(rc));
    return 1;
  }
  printf("peer_id %s\n", id);
  printf("created %s/%s and %s/%s\n", o.data, CPC_NODE_KEY_FILE, o.data,
         CPC_NODE_CONFIG_FILE);
  return 0;
}

static void on_closed(void *ud) { (void)ud; }

static void on_signal(uv_signal_t *h, int signum) {
  app *a = h->data;
  (void)signum;
  uv_signal_stop(&a->sigint);
  uv_signal_stop(&a->sigterm);
  uv_close((uv_handle_t *)&a->sigint, NULL);
  uv_close((uv_handle_t *)&a->sigterm, NULL);
  fprintf(stderr, "cpc-node: stopping\n");
  cpc_node_close(a->node, on_closed, NULL);
  a->node = NULL;
}

static int cmd_run(int argc, char **argv) {
  cpc_node_config cfg;
  char err[1024] = "", addrs[16][CPC_NODE_MAX_ADDR];
  size_t i, n = 0;
  opts o;
  app a;
  int rc;
  memset(&o, 0, sizeof o);
  if ((rc = parse(argc, argv, 1, &o)) != 0)
    return rc == 1 ? 0 : rc;
  if (!o.data)
    return bad("give --data DIR (create it with `cpc-node init`)");
  if (o.capacity || o.bandwidth || o.region)
    return bad("--capacity, --bandwidth and --region are set by `cpc-node "
               "init` (or in node.json)");
  cpc_node_config_default(&cfg);
  rc = cpc_node_config_load(&cfg, o.data, err, sizeof err);
  if (rc != 0) {
    fprintf(stderr, "cpc-node: %s\n", err);
    return 1;
  }
  if ((rc = overlay(&o, &cfg)) != 0)
    return rc;
  if (cpc_node_config_check(&cfg, err, sizeof err) != 0) {
    fprintf(stderr, "cpc-node: %s\n", err);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  memset(&a, 0, sizeof a);
  if (uv_loop_init(&a.loop) != 0) {
    fprintf(stderr, "cpc-node: cannot create the event loop\n");
    return 1;
  }
  rc = cpc_node_new(&a.node, &a.loop, o.data, &cfg, NULL, NULL, err,
                    sizeof err);
  if (rc == 0)
    rc = cpc_node_start(a.node, err, sizeof err);
  if (rc != 0) {
    fprintf(stderr, "cpc-node: %s\n", err[0] ? err : cpc_strerror(rc));
    cpc_node_close(a.node, NULL, NULL);
    uv_run(&a.loop, UV_RUN_DEFAULT);
    uv_loop_close(&a.loop);
    return 1;
  }
  printf("peer_id %s\n", cpc_node_peer_id(a.node));
  if (cpc_node_listen_addrs(a.node, addrs, 16, &n) == 0)
    for (i = 0; i < n; i++)
      printf("listening on %s\n", addrs[i]);
  if (cpc_node_metrics_port(a.node)) {
    char host[CPC_NODE_MAX_ADDR];
    const char *colon = strrchr(cfg.metrics, ':');
    size_t hl = colon ? (size_t)(colon - cfg.metrics) : 0;
    snprintf(host, sizeof host, "%.*s", (int)hl, cfg.metrics);
    printf("metrics listening on %s:%u\n", host,
           (unsigned)cpc_node_metrics_port(a.node));
  }
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

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "init") == 0)
    return cmd_init(argc, argv);
  if (argc >= 2 && strcmp(argv[1], "run") == 0)
    return cmd_run(argc - 1, argv + 1);
  return cmd_run(argc, argv);
}
