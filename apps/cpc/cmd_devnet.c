/*
 * cmd_devnet.c: `cpc devnet`, a whole cooperative cloud on one machine: an
 * orchestrator on SQLite, N provider nodes and one PDS per user, all on
 * loopback, until Ctrl-C. What `make run` starts.
 *
 * Ports, from --port-base B (default 7700, the orchestrator's REST port):
 *   orchestrator REST B, gRPC B+1
 *   PDS of user u (1..10): API B+10+u-1, libp2p B+200+u-1
 *   node i (1..64): metrics B+20+i-1, libp2p B+100+i-1
 * Everything lives in --dir (default $CPC_HOME/devnet, else ~/.cpc/devnet):
 * orchestrator/, node-<i>/, user-<u>/ and logs/<name>.log. A second run on
 * the same directory keeps the identities and data (--fresh wipes them).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "devnet_proc.h"

#define CMD "devnet"
#define MAX_NODES 64
#define MAX_USERS 10
#define START_TIMEOUT_MS 30000u
#define STOP_GRACE_MS 10000u

typedef struct devnet {
  unsigned nodes, users, base;
  int fresh;
  char dir[1024];
  char bin[1024]; /* directory holding the cpc-* binaries */
  devnet_proc procs[1 + MAX_NODES + MAX_USERS];
  size_t n_procs;
} devnet;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static void usage(FILE *out) {
  fprintf(out,
          "usage: cpc devnet [--nodes N] [--users N] [--dir DIR] "
          "[--port-base B] [--fresh]\n\n"
          "Start a cooperative cloud on this machine, on loopback: an "
          "orchestrator\n(SQLite), N provider nodes and one personal data "
          "server per user. Prints\nevery URL and how to point `cpc` at each "
          "user; Ctrl-C stops everything.\n\n"
          "  --nodes N       provider nodes, 1..%d (default 3)\n"
          "  --users N       users, each with a PDS, 1..%d (default 2)\n"
          "  --dir DIR       state and logs (default $CPC_HOME/devnet, else "
          "~/.cpc/devnet)\n"
          "  --port-base B   orchestrator REST port; every other port is "
          "B + offset\n"
          "                  (default 7700: gRPC 7701, PDS APIs 7710+, node "
          "metrics 7720+,\n"
          "                  node libp2p 7800+, PDS libp2p 7900+)\n"
          "  --fresh         wipe DIR first (new identities, no data)\n\n"
          "The cpc-orchestrator, cpc-node and cpc-pds binaries are taken from "
          "the\ndirectory cpc itself is in.\n",
          MAX_NODES, MAX_USERS);
}

static int parse_uint(const char *opt, const char *v, unsigned lo, unsigned hi,
                      unsigned *out) {
  char *end;
  errno = 0;
  unsigned long x = strtoul(v, &end, 10);
  if (errno || *end || end == v || x < lo || x > hi)
    return cpc_fail(CMD, "%s must be a number from %u to %u, not '%s'", opt, lo,
                    hi, v);
  *out = (unsigned)x;
  return 0;
}

static int parse_args(devnet *d, int argc, char **argv) {
  d->nodes = 3;
  d->users = 2;
  d->base = 7700;
  const char *home = getenv("CPC_HOME");
  const char *h = getenv("HOME");
  if (home && *home)
    snprintf(d->dir, sizeof d->dir, "%s/devnet", home);
  else
    snprintf(d->dir, sizeof d->dir, "%s/.cpc/devnet", h && *h ? h : ".");
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (cpc_is_help(a)) {
      usage(stdout);
      return -1;
    }
    if (strcmp(a, "--fresh") == 0) {
      d->fresh = 1;
      continue;
    }
    if (i + 1 >= argc) {
      cpc_fail(CMD, "unknown option or missing value: '%s' (see --help)", a);
      return 2;
    }
    const char *v = argv[++i];
    int rc = 0;
    if (strcmp(a, "--nodes") == 0)
      rc = parse_uint(a, v, 1, MAX_NODES, &d->nodes);
    else if (strcmp(a, "--users") == 0)
      rc = parse_uint(a, v, 1, MAX_USERS, &d->users);
    else if (strcmp(a, "--port-base") == 0)
      rc = parse_uint(a, v, 1024, 65535 - 300, &d->base);
    else if (strcmp(a, "--dir") == 0) {
      if (strlen(v) >= sizeof d->dir - 64) {
        cpc_fail(CMD, "--dir: the path is too long");
        return 2;
      }
      memcpy(d->dir, v, strlen(v) + 1);
    }
    else {
      cpc_fail(CMD, "unknown option '%s' (see --help)", a);
      return 2;
    }
    if (rc) return 2;
  }
  return 0;
}

/* The directory of this executable: the cpc-* binaries are built beside it. */
static int find_binaries(devnet *d) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return cpc_fail(CMD, "cannot find where cpc is installed");
  self[n] = '\0';
  char *slash = strrchr(self, '/');
  if (slash) *slash = '\0';
  if (strlen(self) >= sizeof d->bin)
    return cpc_fail(CMD, "the path of cpc is too long");
  memcpy(d->bin, self, strlen(self) + 1);
  static const char *const need[] = {"cpc-orchestrator", "cpc-node",
                                     "cpc-pds"};
  for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", d->bin, need[i]);
    if (access(p, X_OK) != 0)
      return cpc_fail(CMD, "%s is missing (looked in %s); build it with `make`",
                      need[i], d->bin);
  }
  return 0;
}

static int port_free(unsigned port) {
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

static unsigned port_node_metrics(const devnet *d, unsigned i) {
  return d->base + 20 + i;
}
static unsigned port_node_p2p(const devnet *d, unsigned i) {
  return d->base + 100 + i;
}
static unsigned port_pds_api(const devnet *d, unsigned u) {
  return d->base + 10 + u;
}
static unsigned port_pds_p2p(const devnet *d, unsigned u) {
  return d->base + 200 + u;
}

static int check_ports(const devnet *d) {
  unsigned ports[2 + 2 * MAX_NODES + 2 * MAX_USERS];
  size_t n = 0;
  ports[n++] = d->base;
  ports[n++] = d->base + 1;
  for (unsigned i = 0; i < d->nodes; i++) {
    ports[n++] = port_node_metrics(d, i);
    ports[n++] = port_node_p2p(d, i);
  }
  for (unsigned u = 0; u < d->users; u++) {
    ports[n++] = port_pds_api(d, u);
    ports[n++] = port_pds_p2p(d, u);
  }
  for (size_t k = 0; k < n; k++)
    if (!port_free(ports[k]))
      return cpc_fail(CMD,
                      "port %u on 127.0.0.1 is in use (another devnet?); stop "
                      "it or pick other ports with --port-base",
                      ports[k]);
  return 0;
}

static int make_dir(const char *path) {
  if (mkdir(path, 0700) == 0 || errno == EEXIST) return 0;
  return cpc_fail(CMD, "cannot create %s: %s", path, strerror(errno));
}

static int write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f || fputs(text, f) < 0 || fclose(f) != 0)
    return cpc_fail(CMD, "cannot write %s: %s", path, strerror(errno));
  return 0;
}

static int wipe(const char *dir) {
  const char *const argv[] = {"/bin/rm", "-rf", "--", dir, NULL};
  if (devnet_run(argv, "/dev/null") != 0)
    return cpc_fail(CMD, "cannot remove %s", dir);
  return 0;
}

/* Add a process to d and start it; its log is <dir>/logs/<name>.log. */
static int start(devnet *d, const char *name, const char *const *argv,
                 unsigned wait_port) {
  devnet_proc *p = &d->procs[d->n_procs];
  char log[PATH_MAX];
  snprintf(log, sizeof log, "%s/logs/%s.log", d->dir, name);
  if (devnet_proc_init(p, name, log, argv) != 0)
    return cpc_fail(CMD, "out of memory");
  d->n_procs++;
  if (devnet_proc_start(p) != 0) return 1;
  if (devnet_proc_wait_port(p, (uint16_t)wait_port, START_TIMEOUT_MS) != 0)
    return 1;
  return 0;
}

static int start_orchestrator(devnet *d) {
  char data[PATH_MAX], cfg[PATH_MAX], text[1024], rest[32], grpc[32];
  snprintf(data, sizeof data, "%s/orchestrator", d->dir);
  snprintf(cfg, sizeof cfg, "%s/orchestrator.json", d->dir);
  snprintf(rest, sizeof rest, "127.0.0.1:%u", d->base);
  snprintf(grpc, sizeof grpc, "127.0.0.1:%u", d->base + 1);
  /* Quick timings for a cloud on one machine; no vetting, so that new nodes
   * take data at once (ADR 0003: how a young cooperative launches). */
  snprintf(text, sizeof text,
           "{\n  \"scheduler\": {\n    \"tick_ms\": 500,\n"
           "    \"heartbeat_interval_ms\": 2000,\n"
           "    \"heartbeat_timeout_ms\": 10000,\n"
           "    \"work_timeout_ms\": 60000,\n"
           "    \"audit_interval_ms\": 60000,\n"
           "    \"vetting_audits\": 0\n  }\n}\n");
  if (make_dir(data) || write_file(cfg, text)) return 1;
  char bin[PATH_MAX];
  snprintf(bin, sizeof bin, "%s/cpc-orchestrator", d->bin);
  const char *const argv[] = {bin,    "--config", cfg,    "--data", data,
                              "--rest", rest,     "--grpc", grpc,   NULL};
  if (start(d, "orchestrator", argv, d->base)) return 1;
  return devnet_proc_wait_port(&d->procs[d->n_procs - 1],
                               (uint16_t)(d->base + 1), START_TIMEOUT_MS)
             ? 1
             : 0;
}

static int start_node(devnet *d, unsigned i) {
  char name[32], data[PATH_MAX], bin[PATH_MAX], orch[32], listen[64],
      metrics[32], region[32], log[PATH_MAX];
  snprintf(name, sizeof name, "node-%u", i + 1);
  snprintf(data, sizeof data, "%s/%s", d->dir, name);
  snprintf(bin, sizeof bin, "%s/cpc-node", d->bin);
  snprintf(orch, sizeof orch, "127.0.0.1:%u", d->base + 1);
  snprintf(listen, sizeof listen, "/ip4/127.0.0.1/tcp/%u", port_node_p2p(d, i));
  snprintf(metrics, sizeof metrics, "127.0.0.1:%u", port_node_metrics(d, i));
  snprintf(region, sizeof region, "devnet-zone-%u", i % 3 + 1);
  snprintf(log, sizeof log, "%s/logs/%s.log", d->dir, name);
  if (access(data, F_OK) != 0) {
    const char *const init[] = {bin,          "init",   "--data", data,
                                "--capacity", "8G",     "--region", region,
                                NULL};
    if (devnet_run(init, log) != 0)
      return cpc_fail(CMD, "cpc-node init for %s failed (log: %s)", name, log);
  }
  const char *const argv[] = {bin,      "--data",    data,    "--orchestrator",
                              orch,     "--listen",  listen,  "--metrics",
                              metrics,  NULL};
  return start(d, name, argv, port_node_metrics(d, i));
}

static int start_pds(devnet *d, unsigned u) {
  char name[32], data[PATH_MAX], bin[PATH_MAX], orch[64], api[32],
      cfg[PATH_MAX], text[512];
  snprintf(name, sizeof name, "user-%u", u + 1);
  snprintf(data, sizeof data, "%s/%s", d->dir, name);
  snprintf(bin, sizeof bin, "%s/cpc-pds", d->bin);
  snprintf(orch, sizeof orch, "http://127.0.0.1:%u", d->base);
  snprintf(api, sizeof api, "127.0.0.1:%u", port_pds_api(d, u));
  snprintf(cfg, sizeof cfg, "%s/%s.json", d->dir, name);
  snprintf(text, sizeof text,
           "{\n  \"storage_limit\": \"4G\",\n"
           "  \"network\": {\"listen\": [\"/ip4/127.0.0.1/tcp/%u\"]}\n}\n",
           port_pds_p2p(d, u));
  if (write_file(cfg, text)) return 1;
  const char *const argv[] = {bin,  "--config", cfg, "--data", data,
                              "--orchestrator", orch, "--api", api, NULL};
  return start(d, name, argv, port_pds_api(d, u));
}

static void print_summary(const devnet *d) {
  printf("\nCPC devnet is up (%u nodes, %u users); state and logs in %s\n\n",
         d->nodes, d->users, d->dir);
  printf("orchestrator  REST http://127.0.0.1:%u/v1/openapi.json  "
         "gRPC 127.0.0.1:%u  metrics http://127.0.0.1:%u/metrics\n",
         d->base, d->base + 1, d->base);
  for (unsigned i = 0; i < d->nodes; i++)
    printf("node-%-2u       libp2p /ip4/127.0.0.1/tcp/%u  metrics "
           "http://127.0.0.1:%u/metrics\n",
           i + 1, port_node_p2p(d, i), port_node_metrics(d, i));
  for (unsigned u = 0; u < d->users; u++)
    printf("user-%-2u       PDS API http://127.0.0.1:%u  libp2p "
           "/ip4/127.0.0.1/tcp/%u\n",
           u + 1, port_pds_api(d, u), port_pds_p2p(d, u));
  printf("\nTo act as a user, in another terminal:\n");
  for (unsigned u = 0; u < d->users; u++)
    printf("  user-%u:  export CPC_PDS=http://127.0.0.1:%u "
           "CPC_PDS_TOKEN_FILE=%s/user-%u/api-token\n",
           u + 1, port_pds_api(d, u), d->dir, u + 1);
  printf("then e.g.  cpc put FILE --access public;  cpc get cpc://...;  cpc "
         "status\n\nCtrl-C stops everything.\n");
  fflush(stdout);
}

int cpc_cmd_devnet(int argc, char **argv) {
  static devnet d;
  memset(&d, 0, sizeof d);
  int rc = parse_args(&d, argc, argv);
  if (rc) return rc < 0 ? 0 : rc;
  if (find_binaries(&d) || check_ports(&d)) return 1;
  if (d.fresh && wipe(d.dir)) return 1;
  char logs[PATH_MAX];
  snprintf(logs, sizeof logs, "%s/logs", d.dir);
  char parent[PATH_MAX];
  snprintf(parent, sizeof parent, "%s", d.dir);
  char *slash = strrchr(parent, '/');
  if (slash && slash != parent) {
    *slash = '\0';
    if (make_dir(parent)) return 1;
  }
  if (make_dir(d.dir) || make_dir(logs)) return 1;

  struct sigaction sa = {0};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);

  rc = start_orchestrator(&d);
  for (unsigned i = 0; !rc && i < d.nodes && !stop_requested; i++)
    rc = start_node(&d, i);
  for (unsigned u = 0; !rc && u < d.users && !stop_requested; u++)
    rc = start_pds(&d, u);
  if (!rc && !stop_requested) print_summary(&d);

  while (!rc && !stop_requested) {
    struct timespec ts = {0, 200000000L};
    nanosleep(&ts, NULL);
    devnet_procs_reap(d.procs, d.n_procs);
    if (d.procs[0].pid == 0) {
      fprintf(stderr, "cpc devnet: the orchestrator is gone; stopping\n");
      rc = 1;
    }
  }
  fprintf(stderr, "cpc devnet: stopping\n");
  devnet_procs_stop(d.procs, d.n_procs, STOP_GRACE_MS);
  for (size_t k = 0; k < d.n_procs; k++) devnet_proc_free(&d.procs[k]);
  if (!rc) fprintf(stderr, "cpc devnet: stopped; state kept in %s\n", d.dir);
  return rc;
}
