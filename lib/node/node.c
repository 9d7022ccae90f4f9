/*
 * node.c: the provider node as one object: its key, block store, libp2p
 * host with Bitswap (and the DHT), /metrics server, and the parts in the
 * other files of lib/node (session, work, scrub, metrics).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpc/dht.h"
#include "cpc/error.h"
#include "cpc/key_file.h"
#include "node/node_int.h"

struct node_close {
  void (*done)(void *);
  void *ud;
};

uint64_t cpc__node_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void cpc__node_logf(cpc_node *n, const char *fmt, ...) {
  char line[1024], stamp[32];
  struct timespec ts;
  struct tm tm;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n->log) {
    n->log(n->log_ud, line);
    return;
  }
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  fprintf(stderr, "%s.%03ldZ cpc-node: %s\n", stamp, ts.tv_nsec / 1000000L,
          line);
}

void cpc__node_usage(cpc_node *n, uint64_t *used, uint64_t *blocks) {
  cpc_blockstore_stats st;
  if (n->bs && cpc_blockstore_stats_get(n->bs, &st) == 0) {
    *used = st.bytes;
    *blocks = st.count;
  } else {
    *used = 0;
    *blocks = 0;
  }
}

static int failf(char *err, size_t cap, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int failf(char *err, size_t cap, int rc, const char *fmt, ...) {
  va_list ap;
  if (err && cap) {
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
  }
  return rc;
}

static int load_key(cpc_node *n, char *err, size_t cap) {
  char path[1200];
  uint8_t *buf = NULL;
  size_t len = 0;
  unsigned mode = 0;
  int rc;
  snprintf(path, sizeof path, "%s/%s", n->dir, CPC_NODE_KEY_FILE);
  rc = cpc_key_file_read(path, CPC_KEY_PROTO_PARSE_MAX, &buf, &len, &mode);
  if (rc == CPC_ENOENT)
    return failf(err, cap, rc, "%s: no node key (create the node with "
                               "`cpc-node init --data %s --capacity SIZE`)",
                 path, n->dir);
  if (rc == CPC_EPERM)
    return failf(err, cap, rc, "%s: mode %03o lets others read the node key; "
                               "chmod 600 it", path, mode & 0777);
  if (rc != 0)
    return failf(err, cap, rc, "%s: %s", path, cpc_strerror(rc));
  rc = cpc_privkey_decode(buf, len, &n->key);
  cpc_secret_free(buf, len);
  if (rc != 0)
    return failf(err, cap, rc, "%s: not a libp2p private key (%s)", path,
                 cpc_strerror(rc));
  if (n->key.type != CPC_KEY_ED25519)
    return failf(err, cap, CPC_EUNSUPPORTED,
                 "%s: node keys are Ed25519, this is %s", path,
                 cpc_key_type_name(n->key.type));
  rc = cpc_peer_id_from_pubkey(&n->key.pub, &n->id);
  if (rc == 0)
    rc = cpc_peer_id_format(&n->id, n->id_text, sizeof n->id_text);
  return rc;
}

int cpc_node_new(cpc_node **out, uv_loop_t *loop, const char *dir,
                 const cpc_node_config *cfg, cpc_node_log_fn log, void *log_ud,
                 char *err, size_t cap) {
  char path[1200];
  cpc_node *n;
  int rc;
  if (!out || !loop || !dir || !cfg)
    return CPC_EINVAL;
  if (strlen(dir) >= sizeof n->dir)
    return failf(err, cap, CPC_EINVAL, "data directory path too long");
  if ((rc = cpc_node_config_check(cfg, err, cap)) != 0)
    return rc;
  n = calloc(1, sizeof *n);
  if (!n)
    return CPC_ENOMEM;
  n->loop = loop;
  snprintf(n->dir, sizeof n->dir, "%s", dir);
  n->cfg = *cfg;
  n->log = log;
  n->log_ud = log_ud;
  n->provides_tail = &n->provides;
  if ((rc = load_key(n, err, cap)) != 0)
    goto fail;
  snprintf(path, sizeof path, "%s/blocks", dir);
  /* Bulk mode: blocks are fsync'd in groups (cpc_blockstore_sync on the
   * thread pool) before they are confirmed. */
  rc = cpc_blockstore_open(path, CPC_BLOCKSTORE_NOSYNC, &n->bs);
  if (rc != 0) {
    failf(err, cap, rc, "cannot open the block store %s: %s", path,
          cpc_strerror(rc));
    goto fail;
  }
  rc = cpc_blockstore_set_quota(n->bs, cfg->capacity);
  if (rc == 0)
    rc = cpc_blockstore_sync(n->bs);
  if (rc != 0) {
    failf(err, cap, rc, "cannot set the store quota: %s", cpc_strerror(rc));
    goto fail;
  }
  if ((rc = cpc__metrics_init(n)) != 0) {
    failf(err, cap, rc, "metrics: %s", cpc_strerror(rc));
    goto fail;
  }
  *out = n;
  return 0;
fail:
  cpc_blockstore_close(n->bs);
  cpc_metrics_free(n->m.reg);
  cpc_privkey_wipe(&n->key);
  free(n);
  return rc;
}

const char *cpc_node_peer_id(const cpc_node *n) { return n->id_text; }

int cpc_node_listen_addrs(const cpc_node *n, char (*out)[CPC_NODE_MAX_ADDR],
                          size_t cap, size_t *n_out) {
  cpc_multiaddr addrs[32];
  size_t total = 0, i, k = 0;
  int rc;
  if (!n->net)
    return CPC_ESTATE;
  rc = cpc_net_listen_addrs(n->net, addrs, 32, &total);
  if (rc != 0)
    return rc;
  for (i = 0; i < total && i < 32 && k < cap; i++)
    if (cpc_multiaddr_format(&addrs[i], out[k], CPC_NODE_MAX_ADDR, NULL) == 0)
      k++;
  *n_out = k;
  return 0;
}

uint16_t cpc_node_metrics_port(const cpc_node *n) {
  return n->http ? cpc_http_server_port(n->http) : 0;
}

/* ---- host ------------------------------------------------------------------ */

static void on_conn_close(cpc_net *net, cpc_net_conn *conn, int reason,
                          void *ud) {
  cpc_node *n = ud;
  (void)net;
  (void)reason;
  cpc_exchange_conn_closed(n->ex, conn);
}

static void on_dht_joined(cpc_dht *d, int rc, void *ud) {
  cpc_node *n = ud;
  if (rc == 0)
    cpc__node_logf(n, "dht: joined, %zu peers in the routing table",
                   cpc_kad_table_size(cpc_dht_kad(d)));
  else
    cpc__node_logf(n, "dht: no bootstrap peer answered; retrying every "
                      "minute");
}

static int start_host(cpc_node *n, char *err, size_t cap) {
  static const cpc_net_events ev = {.on_conn_close = on_conn_close};
  cpc_multiaddr seeds[CPC_NODE_MAX_BOOTSTRAP];
  cpc_net_builder *b = NULL;
  cpc_net_limits lim;
  size_t i;
  int rc;
  if ((rc = cpc_net_builder_new(n->loop, &b)) != 0)
    return rc;
  cpc_net_builder_with_tcp(b);
  rc = cpc_net_builder_identity(b, &n->key);
  if (rc == 0)
    rc = cpc_net_builder_agent_version(b, "cpc-node/0.1.0");
  cpc_net_limits_default(&lim);
  lim.max_connections = n->cfg.max_connections;
  lim.max_streams_per_conn = n->cfg.max_streams_per_conn;
  lim.upload_bps = n->cfg.bandwidth;
  lim.download_bps = n->cfg.bandwidth;
  if (rc == 0)
    rc = cpc_net_builder_limits(b, &lim);
  if (rc == 0)
    rc = cpc_net_builder_events(b, &ev, n);
  for (i = 0; rc == 0 && i < n->cfg.n_bootstrap; i++)
    rc = cpc_multiaddr_parse(&seeds[i], n->cfg.bootstrap[i],
                             strlen(n->cfg.bootstrap[i]));
  if (rc == 0 && n->cfg.n_bootstrap > 0)
    rc = cpc_net_builder_with_kademlia(b, CPC_NET_KAD_SERVER, seeds,
                                       n->cfg.n_bootstrap);
  for (i = 0; rc == 0 && i < n->cfg.n_listen; i++) {
    cpc_multiaddr ma;
    rc = cpc_multiaddr_parse(&ma, n->cfg.listen[i], strlen(n->cfg.listen[i]));
    if (rc == 0)
      rc = cpc_net_builder_listen(b, &ma);
    if (rc != 0)
      failf(err, cap, rc, "cannot listen on '%s': give /ip4/A/tcp/P or "
                          "/ip6/A/tcp/P", n->cfg.listen[i]);
  }
  if (rc == 0) {
    rc = cpc_net_builder_build(b, &n->net);
    if (rc != 0)
      failf(err, cap, rc, "%s",
            cpc_net_builder_error(b) ? cpc_net_builder_error(b)
                                     : cpc_strerror(rc));
  } else if (err && !err[0]) {
    failf(err, cap, rc, "%s",
          cpc_net_builder_error(b) ? cpc_net_builder_error(b)
                                   : cpc_strerror(rc));
  }
  cpc_net_builder_free(b);
  return rc;
}

/* ---- /metrics ------------------------------------------------------------------ */

static int metrics_handler(cpc_http_request *req, void *ctx) {
  cpc_metrics *reg = ctx;
  enum cpc_metrics_format f =
      cpc_metrics_negotiate(cpc_http_request_header(req, "Accept"));
  char *text = NULL;
  size_t len = 0;
  int rc = cpc_metrics_render(reg, f, &text, &len);
  if (rc != 0)
    return cpc_http_respond_error(req, 500, "internal", "cannot render: %s",
                                  cpc_strerror(rc));
  cpc_http_respond(req, 200, cpc_metrics_content_type(f), text, len);
  free(text);
  return 0;
}

static int start_metrics(cpc_node *n, char *err, size_t cap) {
  cpc_http_config hc;
  int rc;
  if (!n->cfg.metrics[0])
    return 0;
  rc = cpc_http_router_new(&n->router);
  if (rc == 0)
    rc = cpc_http_router_add(n->router, "GET", "/metrics", CPC_HTTP_AUTH_NONE,
                             metrics_handler, n->m.reg);
  if (rc != 0)
    return failf(err, cap, rc, "metrics: %s", cpc_strerror(rc));
  cpc_http_config_init(&hc);
  hc.listen = n->cfg.metrics;
  hc.threads = 1;
  hc.max_connections = 64;
  rc = cpc_http_server_start(&hc, n->router, &n->http);
  if (rc != 0)
    return failf(err, cap, rc, "cannot serve /metrics on %s: %s",
                 n->cfg.metrics, cpc_strerror(rc));
  return 0;
}

int cpc_node_start(cpc_node *n, char *err, size_t cap) {
  char addrs[16][CPC_NODE_MAX_ADDR], used[16], capt[16];
  uint64_t u = 0, blocks = 0;
  size_t i, na = 0;
  int rc;
  if (!n)
    return CPC_EINVAL;
  if (n->started)
    return CPC_ESTATE;
  n->started = 1;
  if (err && cap)
    err[0] = '\0';
  if ((rc = start_host(n, err, cap)) != 0)
    return rc;
  rc = cpc_exchange_new(n->loop, n->net, n->bs, NULL, &n->ex);
  if (rc != 0)
    return failf(err, cap, rc, "cannot start Bitswap: %s", cpc_strerror(rc));
  if ((rc = start_metrics(n, err, cap)) != 0)
    return rc;
  cpc__node_logf(n, "node %s, region %s", n->id_text, n->cfg.region);
  if (cpc_node_listen_addrs(n, addrs, 16, &na) == 0)
    for (i = 0; i < na; i++)
      cpc__node_logf(n, "listening on %s", addrs[i]);
  if (n->http) {
    const char *colon = strrchr(n->cfg.metrics, ':');
    cpc__node_logf(n, "metrics on http://%.*s:%u/metrics",
                   (int)(colon ? colon - n->cfg.metrics : 0), n->cfg.metrics,
                   (unsigned)cpc_http_server_port(n->http));
  }
  cpc__node_usage(n, &u, &blocks);
  cpc_node_format_size(u, used, sizeof used);
  cpc_node_format_size(n->cfg.capacity, capt, sizeof capt);
  cpc__node_logf(n, "serving %" PRIu64 " blocks over Bitswap (%s of %s "
                    "committed)%s",
                 blocks, used, capt,
                 n->cfg.bandwidth ? "" : "; bandwidth unlimited");
  if (n->cfg.bandwidth) {
    char bw[16];
    cpc_node_format_size(n->cfg.bandwidth, bw, sizeof bw);
    cpc__node_logf(n, "bandwidth capped at %s/s each way", bw);
  }
  if (cpc_net_dht(n->net))
    (void)cpc_dht_on_joined(cpc_net_dht(n->net), on_dht_joined, n);
  if ((rc = cpc__metrics_start(n)) != 0)
    return rc;
  if ((rc = cpc__work_init(n)) != 0)
    return failf(err, cap, rc, "journal: %s", cpc_strerror(rc));
  if ((rc = cpc__scrub_start(n)) != 0)
    return rc;
  if ((rc = cpc__session_start(n)) != 0)
    return failf(err, cap, rc, "orchestrator: %s", cpc_strerror(rc));
  if (!n->cfg.orchestrator[0])
    cpc__node_logf(n, "no orchestrator given: serving what is stored only");
  return 0;
}

/* ---- close ------------------------------------------------------------------------ */

static void final_free(void *ud) {
  cpc_node *n = ud;
  struct node_close *c = (struct node_close *)n->close_ud;
  void (*done)(void *) = NULL;
  void *dud = NULL;
  if (c) {
    done = c->done;
    dud = c->ud;
    free(c);
  }
  cpc_blockstore_close(n->bs); /* syncs (bulk mode) */
  cpc_metrics_free(n->m.reg);
  cpc_http_router_free(n->router);
  cpc_privkey_wipe(&n->key);
  free(n);
  if (done)
    done(dud);
}

void cpc__node_pending_done(cpc_node *n) {
  if (--n->close_pending == 0)
    final_free(n);
}

static void handle_closed(uv_handle_t *h) { cpc__node_pending_done(h->data); }

static void cb_closed(void *ud) { cpc__node_pending_done(ud); }

static void close_timer(cpc_node *n, uv_timer_t *t) {
  if (!t->loop)
    return; /* never initialised */
  t->data = n;
  n->close_pending++;
  uv_close((uv_handle_t *)t, handle_closed);
}

void cpc_node_close(cpc_node *n, void (*done)(void *ud), void *ud) {
  struct node_close *c;
  if (!n) {
    if (done)
      done(ud);
    return;
  }
  if (n->closing)
    return;
  n->closing = 1;
  c = calloc(1, sizeof *c);
  if (c) {
    c->done = done;
    c->ud = ud;
  }
  /* every part still closing holds one count of close_pending; the last
   * cpc__node_pending_done frees n */
  n->close_pending = 1;
  n->close_ud = c;
  cpc__session_stop(n); /* rpc client: close_pending++ */
  cpc__work_stop(n);
  cpc__scrub_stop(n);
  cpc__metrics_stop(n);
  if (n->http) {
    cpc_http_server_stop(n->http);
    n->http = NULL;
  }
  if (n->ex) {
    n->close_pending++;
    cpc_exchange_close(n->ex, cb_closed, n);
    n->ex = NULL;
  }
  if (n->net) {
    n->close_pending++;
    cpc_net_close(n->net, cb_closed, n);
    n->net = NULL;
  }
  if (n->started) {
    close_timer(n, &n->work_timer);
    close_timer(n, &n->pump_timer);
    close_timer(n, &n->scrub_timer);
    close_timer(n, &n->sample_timer);
    close_timer(n, &n->reconnect_timer);
    close_timer(n, &n->heartbeat_timer);
    close_timer(n, &n->metrics_timer);
  }
  if (n->sync_running)
    n->close_pending++;
  if (n->scrub_running)
    n->close_pending++;
  cpc__node_pending_done(n);
}
