/*
 * net_conns.c: open N concurrent connections from one C host to a peer
 * (`cpc net listen`), for the memory figure of bench/net.sh.
 *
 * usage: net_conns MULTIADDR N
 *   Dials MULTIADDR (without /p2p/: a new connection each time) N times,
 *   at most 64 upgrades at once, then prints "open N" and waits. On
 *   SIGUSR1 it checks that all N are still open, pings through the last
 *   one opened, prints "ping <ms> ms through connection N, N open" and
 *   exits 0. Any failure or lost connection: a message on stderr, exit 1.
 *   Needs RLIMIT_NOFILE above N (ulimit -n).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "cpc/error.h"
#include "cpc/net.h"

#define IN_FLIGHT 64

static uv_loop_t loop;
static cpc_net *net;
static cpc_multiaddr target;
static size_t want, dialed, opened, lost;
static cpc_net_conn *last;
static uv_signal_t usr1;
static int status = 1;

static void closed(void *ud) {
  (void)ud;
}

static void finish(int st) {
  status = st;
  uv_close((uv_handle_t *)&usr1, NULL);
  cpc_net_close(net, closed, NULL);
}

static void dial_more(void);

static void on_dialed(cpc_net *n, int st, cpc_net_conn *c, void *ud) {
  (void)n;
  (void)ud;
  if (st != 0) {
    fprintf(stderr, "net_conns: connection %zu failed: %s\n", opened + 1,
            cpc_strerror(st));
    finish(1);
    return;
  }
  opened++;
  last = c;
  if (opened == want) {
    printf("open %zu\n", opened);
    fflush(stdout);
    return;
  }
  dial_more();
}

static void dial_more(void) {
  while (dialed < want && dialed - opened < IN_FLIGHT) {
    int rc = cpc_net_dial(net, &target, on_dialed, NULL);
    if (rc != 0) {
      fprintf(stderr, "net_conns: dial %zu: %s\n", dialed + 1,
              cpc_strerror(rc));
      finish(1);
      return;
    }
    dialed++;
  }
}

static void on_close(cpc_net *n, cpc_net_conn *c, int reason, void *ud) {
  (void)n;
  (void)ud;
  (void)reason;
  lost++;
  if (c == last)
    last = NULL;
}

static void on_ping(cpc_net *n, int st, uint64_t rtt, void *ud) {
  (void)n;
  (void)ud;
  if (st != 0) {
    fprintf(stderr, "net_conns: ping: %s\n", cpc_strerror(st));
    finish(1);
    return;
  }
  printf("ping %.3f ms through connection %zu, %zu open\n", (double)rtt / 1e6,
         opened, cpc_net_conn_count(net));
  fflush(stdout);
  finish(lost == 0 && cpc_net_conn_count(net) == want ? 0 : 1);
}

static void on_usr1(uv_signal_t *h, int sig) {
  int rc;
  (void)h;
  (void)sig;
  if (opened != want || lost != 0 || !last ||
      cpc_net_conn_count(net) != want) {
    fprintf(stderr, "net_conns: %zu of %zu open, %zu lost\n",
            cpc_net_conn_count(net), want, lost);
    finish(1);
    return;
  }
  if ((rc = cpc_net_ping(last, on_ping, NULL)) != 0) {
    fprintf(stderr, "net_conns: ping: %s\n", cpc_strerror(rc));
    finish(1);
  }
}

int main(int argc, char **argv) {
  static const cpc_net_events ev = {.on_conn_close = on_close};
  cpc_net_builder *b;
  cpc_net_limits lim;
  if (argc != 3 || cpc_multiaddr_parse(&target, argv[1], strlen(argv[1])) ||
      (want = strtoul(argv[2], NULL, 10)) == 0) {
    fprintf(stderr, "usage: net_conns MULTIADDR N\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  uv_loop_init(&loop);
  cpc_net_limits_default(&lim);
  lim.max_connections = want + 16;
  lim.idle_timeout_ms = 0;
  lim.handshake_timeout_ms = 30000;
  lim.dial_timeout_ms = 30000;
  if (cpc_net_builder_new(&loop, &b) != 0)
    return 1;
  cpc_net_builder_with_tcp(b);
  cpc_net_builder_limits(b, &lim);
  cpc_net_builder_events(b, &ev, NULL);
  if (cpc_net_builder_build(b, &net) != 0) {
    fprintf(stderr, "net_conns: cannot build the host\n");
    return 1;
  }
  cpc_net_builder_free(b);
  uv_signal_init(&loop, &usr1);
  uv_signal_start(&usr1, on_usr1, SIGUSR1);
  dial_more();
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return status;
}
