/*
 * cmd_net.c: `cpc net`: run a libp2p peer (listen), ping one, ask one to
 * identify itself, and an echo client for tests and measurements.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>
#include <uv.h>

#include "commands.h"
#include "cpc/blockstore.h"
#include "cpc/dht.h"
#include "cpc/error.h"
#include "cpc/exchange.h"
#include "cpc/key_file.h"
#include "cpc/keys.h"
#include "cpc/net.h"
#include "cpc/peer_id.h"
#include "net_sink.h"

#define CMD "net"

static void usage(FILE *out) {
  fprintf(
      out,
      "usage: cpc net listen [MULTIADDR...] [--key FILE] [--store DIR]\n"
      "                      [--no-superseed]\n"
      "                      [--bootstrap MA] [--dht-client] [OPTIONS]\n"
      "       cpc net ping MULTIADDR [-n COUNT] [OPTIONS]\n"
      "       cpc net identify MULTIADDR [OPTIONS]\n"
      "       cpc net echo MULTIADDR [--streams N] [--bytes B] [--reset]\n"
      "                    [OPTIONS]\n"
      "       cpc net send MULTIADDR [--bytes B] [OPTIONS]\n"
      "\n"
      "A libp2p peer over TCP (multistream-select, Noise, Yamux).\n"
      "  listen    listen on each MULTIADDR (default /ip4/0.0.0.0/tcp/0),\n"
      "            print the full addresses (.../p2p/<id>) one per line,\n"
      "            serve identify, ping and /cpc/echo/1.0.0 until SIGINT or\n"
      "            SIGTERM; also /cpc/sink/1.0.0 (benchmarks: it drops what\n"
      "            the dialer sends and, at the dialer's half-close, answers\n"
      "            the byte count as 8 bytes big-endian). --key FILE: a\n"
      "            libp2p PrivateKey protobuf (cpc key new); without it a\n"
      "            fresh Ed25519 key is used. --store DIR: also serve Bitswap\n"
      "            (/ipfs/bitswap/1.2.0, 1.1.0, 1.0.0) from that block store\n"
      "            (created if missing; see cpc block), super-seeding when\n"
      "            several peers fetch the same blocks; --no-superseed: serve\n"
      "            every request at once (an origin replicated by nodes).\n"
      "            Also runs the Kademlia DHT (/ipfs/kad/1.0.0) as a server:\n"
      "            it answers FIND_NODE, GET/ADD_PROVIDER(S), GET/PUT_VALUE.\n"
      "            --bootstrap MA (repeatable; /ip4|ip6/A/tcp/P/p2p/ID):\n"
      "            join the DHT through these peers (\"dht: joined, N peers\"\n"
      "            on stderr once done). --dht-client: only ask, never answer\n"
      "  ping      ping the peer COUNT times (default 1); one round trip per\n"
      "            line, e.g. \"0.213 ms\"\n"
      "  identify  print what the peer says about itself as JSON.\n"
      "            --watch MS: stay connected MS milliseconds and print it\n"
      "            again each time the peer pushes a change (identify\n"
      "            push), one compact JSON object per line\n"
      "  echo      open N streams (default 1) of /cpc/echo/1.0.0, send B\n"
      "            random bytes (default 1048576) on each, check the echo;\n"
      "            prints a JSON summary. --reset: send half, and reset each\n"
      "            stream as soon as its echo starts coming back\n"
      "  send      send B bytes (default 1048576) on one /cpc/sink/1.0.0\n"
      "            stream, check the count the peer answers; prints a JSON\n"
      "            summary with the throughput (a benchmark: bench/net.sh)\n"
      "OPTIONS: --key FILE, --timeout MS (dial, handshake and each\n"
      "  exchange; default 10000), --idle-timeout MS (listen; default\n"
      "  60000, 0: never), --agent TEXT, --upload-bps RATE and\n"
      "  --download-bps RATE (caps on all the peer's connections together,\n"
      "  bytes per second, k/M/G multiply by 1000: 8M is 8000000; default:\n"
      "  none)\n"
      "MULTIADDR: /ip4/A/tcp/P or /ip6/A/tcp/P (to listen on or dial),\n"
      "/dns4/NAME/tcp/P, /dns6/NAME/tcp/P or /dns/NAME/tcp/P (to dial),\n"
      "optionally followed by /p2p/<PeerId> (then the peer must prove that\n"
      "identity).\n");
}

struct opts {
  const char *key_file, *agent, *store;
  uint64_t timeout_ms, idle_ms;
  uint64_t upload_bps, download_bps; /* 0: no cap */
  int have_idle;
  long count, streams;
  size_t bytes;
  int reset;
  const char *addrs[CPC_NET_MAX_LISTEN];
  size_t n_addrs;
  /* listen: the DHT */
  const char *bootstrap[CPC_NET_MAX_BOOTSTRAP];
  size_t n_bootstrap;
  int dht_client;
  int no_hold; /* listen --no-superseed */
  uint64_t watch_ms; /* identify --watch */
};

static int parse_u64(const char *s, uint64_t *v) {
  char *end;
  unsigned long long x;
  errno = 0;
  x = strtoull(s, &end, 10);
  if (errno || end == s || *end || s[0] == '-')
    return -1;
  *v = x;
  return 0;
}

/* A rate in bytes per second: digits, optionally k, M or G (x1000). */
static int parse_rate(const char *s, uint64_t *v) {
  char *end;
  unsigned long long x;
  uint64_t mul = 1;
  errno = 0;
  x = strtoull(s, &end, 10);
  if (errno || end == s || s[0] == '-')
    return -1;
  if (*end == 'k' || *end == 'K')
    mul = 1000;
  else if (*end == 'M')
    mul = 1000 * 1000;
  else if (*end == 'G')
    mul = 1000 * 1000 * 1000;
  if (mul > 1)
    end++;
  if (*end || x > UINT64_MAX / mul)
    return -1;
  *v = x * mul;
  return 0;
}

/* Parse argv[1..]; returns -1 after printing help (exit 0), 2 on a usage
 * error, 0 otherwise. */
static int parse(int argc, char **argv, struct opts *o) {
  uint64_t v;
  memset(o, 0, sizeof *o);
  o->timeout_ms = 10000;
  o->count = 1;
  o->streams = 1;
  o->bytes = 1u << 20;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int more = i + 1 < argc;
    if (cpc_is_help(a)) {
      usage(stdout);
      return -1;
    } else if (strcmp(a, "--key") == 0 && more) {
      o->key_file = argv[++i];
    } else if (strcmp(a, "--store") == 0 && more) {
      o->store = argv[++i];
    } else if (strcmp(a, "--watch") == 0 && more) {
      if (parse_u64(argv[++i], &o->watch_ms) || o->watch_ms == 0)
        goto bad_value;
    } else if (strcmp(a, "--agent") == 0 && more) {
      o->agent = argv[++i];
    } else if (strcmp(a, "--timeout") == 0 && more) {
      if (parse_u64(argv[++i], &o->timeout_ms) || o->timeout_ms == 0)
        goto bad_value;
    } else if (strcmp(a, "--idle-timeout") == 0 && more) {
      if (parse_u64(argv[++i], &o->idle_ms))
        goto bad_value;
      o->have_idle = 1;
    } else if (strcmp(a, "--upload-bps") == 0 && more) {
      if (parse_rate(argv[++i], &o->upload_bps))
        goto bad_value;
    } else if (strcmp(a, "--download-bps") == 0 && more) {
      if (parse_rate(argv[++i], &o->download_bps))
        goto bad_value;
    } else if (strcmp(a, "-n") == 0 && more) {
      if (parse_u64(argv[++i], &v) || v == 0 || v > 1000000)
        goto bad_value;
      o->count = (long)v;
    } else if (strcmp(a, "--streams") == 0 && more) {
      if (parse_u64(argv[++i], &v) || v == 0 || v > 4096)
        goto bad_value;
      o->streams = (long)v;
    } else if (strcmp(a, "--bytes") == 0 && more) {
      if (parse_u64(argv[++i], &v) || v > (1ull << 40))
        goto bad_value;
      o->bytes = (size_t)v;
    } else if (strcmp(a, "--reset") == 0) {
      o->reset = 1;
      /* listen: the DHT */
    } else if (strcmp(a, "--bootstrap") == 0 && more) {
      if (o->n_bootstrap >= CPC_NET_MAX_BOOTSTRAP)
        goto bad_value;
      o->bootstrap[o->n_bootstrap++] = argv[++i];
    } else if (strcmp(a, "--no-superseed") == 0) {
      o->no_hold = 1;
    } else if (strcmp(a, "--dht-client") == 0) {
      o->dht_client = 1;
    } else if (a[0] == '/' && o->n_addrs < CPC_NET_MAX_LISTEN) {
      o->addrs[o->n_addrs++] = a;
    } else {
      fprintf(stderr, "cpc net: unexpected argument '%s'\n", a);
      usage(stderr);
      return 2;
    }
    continue;
  bad_value:
    fprintf(stderr, "cpc net: bad value '%s' for %s\n", argv[i], a);
    return 2;
  }
  return 0;
}

static int load_key(const char *path, cpc_privkey *k) {
  uint8_t *buf = NULL;
  size_t len = 0;
  unsigned mode = 0;
  int rc = cpc_key_file_read(path, CPC_KEY_PROTO_PARSE_MAX, &buf, &len, &mode);
  if (rc == CPC_EPERM && mode != 0)
    return cpc_fail(CMD,
                    "%s: group or others may access it (mode %04o); run: "
                    "chmod 600 %s",
                    path, mode, path);
  if (rc != 0)
    return cpc_fail(CMD, "%s: %s", path,
                    rc == CPC_EIO ? strerror(errno) : cpc_strerror(rc));
  rc = cpc_privkey_decode(buf, len, k);
  cpc_secret_free(buf, len);
  if (rc != 0)
    return cpc_fail(CMD, "%s: not a usable libp2p private key (%s)", path,
                    cpc_strerror(rc));
  return 0;
}

/* --- the DHT of `listen` ----------------------------------------------------
 */

/* Enable Kademlia on b (server unless --dht-client) with the --bootstrap
 * peers. Returns 0 or an exit status after reporting. */
static int add_kademlia(const struct opts *o, cpc_net_builder *b) {
  cpc_multiaddr seeds[CPC_NET_MAX_BOOTSTRAP];
  int rc;
  for (size_t i = 0; i < o->n_bootstrap; i++)
    if (cpc_multiaddr_parse(&seeds[i], o->bootstrap[i],
                            strlen(o->bootstrap[i])) != 0)
      return 1 + cpc_fail(CMD, "--bootstrap '%s' is not a multiaddr",
                          o->bootstrap[i]);
  rc = cpc_net_builder_with_kademlia(
      b, o->dht_client ? CPC_NET_KAD_CLIENT : CPC_NET_KAD_SERVER, seeds,
      o->n_bootstrap);
  if (rc != 0)
    return 1 + cpc_fail(CMD, "--bootstrap: %s", cpc_net_builder_error(b));
  return 0;
}

static void on_dht_joined(cpc_dht *d, int rc, void *ud) {
  (void)ud;
  if (rc == 0)
    fprintf(stderr, "dht: joined, %zu peers in the routing table\n",
            cpc_kad_table_size(cpc_dht_kad(d)));
  else
    fprintf(stderr, "dht: no bootstrap peer answered; retrying every "
                    "minute\n");
}

/* --- one host for a subcommand ---------------------------------------------
 */

struct app {
  uv_loop_t loop;
  cpc_net *net;
  struct opts o;
  int status; /* exit status once done */
  int done;
  cpc_multiaddr target;
  const char *target_text;
  cpc_net_conn *conn;
  /* ping */
  long pings_left;
  /* echo */
  struct echo_stream *echo;
  long echo_left;
  uint64_t t0;
  size_t echo_bad;
  /* send */
  uint8_t *pattern;
  uint64_t sent, reply_len;
  uint8_t reply[CPC_APP_SINK_REPLY_LEN];
  uv_signal_t sigint, sigterm;
  uv_timer_t linger;
  cpc_blockstore *bs; /* listen --store */
  cpc_exchange *ex;
  int signals, loop_open;
  int watching; /* identify --watch: linger runs watch_over */
};

static void net_closed(void *ud) {
  (void)ud;
}

/* Stop: close the host (the loop then runs dry) with an exit status. */
static void finish(struct app *a, int status) {
  if (a->done)
    return;
  a->done = 1;
  a->status = status;
  if (a->watching) {
    uv_close((uv_handle_t *)&a->linger, NULL);
    a->watching = 0;
  }
  if (a->signals) {
    uv_close((uv_handle_t *)&a->sigint, NULL);
    uv_close((uv_handle_t *)&a->sigterm, NULL);
    a->signals = 0;
  }
  cpc_exchange_close(a->ex, NULL, NULL);
  a->ex = NULL;
  cpc_net_close(a->net, net_closed, NULL);
}

static int start_host(struct app *a, const cpc_net_events *ev, int listen) {
  cpc_net_builder *b = NULL;
  cpc_net_limits lim;
  cpc_privkey k;
  int rc;

  signal(SIGPIPE, SIG_IGN); /* libuv reports EPIPE; no signal wanted */
  if (uv_loop_init(&a->loop) != 0)
    return cpc_fail(CMD, "cannot start the event loop");
  a->loop_open = 1;
  if ((rc = cpc_net_builder_new(&a->loop, &b)) != 0)
    return cpc_fail(CMD, "%s", cpc_strerror(rc));
  cpc_net_builder_with_tcp(b);
  if (a->o.key_file) {
    if (load_key(a->o.key_file, &k) != 0) {
      cpc_net_builder_free(b);
      return 1;
    }
    rc = cpc_net_builder_identity(b, &k);
    cpc_privkey_wipe(&k);
    if (rc != 0) {
      cpc_fail(CMD, "%s: %s", a->o.key_file, cpc_net_builder_error(b));
      cpc_net_builder_free(b);
      return 1;
    }
  }
  if (a->o.agent && cpc_net_builder_agent_version(b, a->o.agent) != 0) {
    cpc_fail(CMD, "--agent: %s", cpc_net_builder_error(b));
    cpc_net_builder_free(b);
    return 2;
  }
  cpc_net_limits_default(&lim);
  lim.dial_timeout_ms = a->o.timeout_ms;
  lim.handshake_timeout_ms = a->o.timeout_ms;
  lim.stream_negotiation_timeout_ms = a->o.timeout_ms;
  if (a->o.have_idle)
    lim.idle_timeout_ms = a->o.idle_ms;
  lim.upload_bps = a->o.upload_bps;
  lim.download_bps = a->o.download_bps;
  cpc_net_builder_limits(b, &lim);
  cpc_net_builder_events(b, ev, a);
  if (listen && (rc = add_kademlia(&a->o, b)) != 0) {
    cpc_net_builder_free(b);
    return rc;
  }
  for (size_t i = 0; listen && i < a->o.n_addrs; i++) {
    cpc_multiaddr ma;
    if (cpc_multiaddr_parse(&ma, a->o.addrs[i], strlen(a->o.addrs[i])) != 0 ||
        cpc_net_builder_listen(b, &ma) != 0) {
      cpc_net_builder_free(b);
      return cpc_fail(CMD,
                      "cannot listen on '%s': give /ip4/A/tcp/P or "
                      "/ip6/A/tcp/P",
                      a->o.addrs[i]);
    }
  }
  rc = cpc_net_builder_build(b, &a->net);
  if (rc != 0) {
    cpc_fail(CMD, "%s",
             cpc_net_builder_error(b) ? cpc_net_builder_error(b)
                                      : cpc_strerror(rc));
    cpc_net_builder_free(b);
    return 1;
  }
  cpc_net_builder_free(b);
  return 0;
}

static int run_loop(struct app *a) {
  uv_run(&a->loop, UV_RUN_DEFAULT);
  uv_loop_close(&a->loop);
  a->loop_open = 0;
  return a->status;
}

static void on_signal(uv_signal_t *h, int signum) {
  (void)signum;
  finish(h->data, 0);
}

/* --- listen ------------------------------------------------------------------
 */

static void listen_conn_close(cpc_net *net, cpc_net_conn *c, int reason,
                              void *ud) {
  struct app *a = ud;
  (void)net;
  (void)reason;
  cpc_exchange_conn_closed(a->ex, c);
}

static int cmd_listen(struct app *a) {
  static const cpc_net_events ev = {.on_conn_close = listen_conn_close};
  cpc_multiaddr addrs[64];
  size_t n = 0;
  int rc;
  if (a->o.n_addrs == 0)
    a->o.addrs[a->o.n_addrs++] = "/ip4/0.0.0.0/tcp/0";
  if (a->o.store) {
    rc = cpc_blockstore_open(a->o.store, 0, &a->bs);
    if (rc != 0)
      return cpc_fail(CMD, "cannot open the block store at '%s': %s",
                      a->o.store, cpc_strerror(rc));
  }
  if ((rc = start_host(a, a->bs ? &ev : NULL, 1)) != 0)
    return rc;
  cpc_exchange_config xc;
  cpc_exchange_config_default(&xc);
  xc.superseed_serve = !a->o.no_hold;
  if (a->bs &&
      (rc = cpc_exchange_new(&a->loop, a->net, a->bs, &xc, &a->ex)) != 0) {
    finish(a, 1);
    run_loop(a);
    return cpc_fail(CMD, "cannot start Bitswap: %s", cpc_strerror(rc));
  }
  cpc_net_listen_addrs(a->net, addrs, 64, &n);
  for (size_t i = 0; i < n && i < 64; i++) {
    char text[CPC_MULTIADDR_MAX_TEXT];
    if (cpc_multiaddr_format(&addrs[i], text, sizeof text, NULL) == 0)
      printf("%s\n", text);
  }
  fflush(stdout);
  if (cpc_net_dht(a->net))
    (void)cpc_dht_on_joined(cpc_net_dht(a->net), on_dht_joined, NULL);
  uv_signal_init(&a->loop, &a->sigint);
  uv_signal_init(&a->loop, &a->sigterm);
  a->sigint.data = a->sigterm.data = a;
  uv_signal_start(&a->sigint, on_signal, SIGINT);
  uv_signal_start(&a->sigterm, on_signal, SIGTERM);
  a->signals = 1;
  if ((rc = cpc_app_sink_register(a->net)) != 0) {
    cpc_fail(CMD, "cannot serve %s: %s", CPC_APP_SINK_PROTOCOL,
             cpc_strerror(rc));
    finish(a, 1);
  }
  return run_loop(a);
}

/* --- dialing subcommands ----------------------------------------------------
 */

static const char *why(int rc) {
  switch (rc) {
  case CPC_ETIMEDOUT: return "timed out";
  case CPC_EIO: return "connection refused or unreachable";
  case CPC_ENOENT:
    return "the name does not resolve (to an address of that family)";
  case CPC_EMISMATCH: return "the peer is not the PeerId in the address";
  case CPC_EUNSUPPORTED: return "the peer does not speak the protocol";
  case CPC_ECLOSED: return "the peer closed the connection";
  default: return cpc_strerror(rc);
  }
}

static void fail_with(struct app *a, const char *what, int rc) {
  fprintf(stderr, "cpc net: %s %s: %s\n", what, a->target_text, why(rc));
  finish(a, 1);
}

static int parse_target(struct app *a, const char *sub) {
  if (a->o.n_addrs != 1) {
    fprintf(stderr, "cpc net %s: give exactly one MULTIADDR\n", sub);
    return 2;
  }
  a->target_text = a->o.addrs[0];
  if (cpc_multiaddr_parse(&a->target, a->target_text, strlen(a->target_text)) !=
      0) {
    fprintf(stderr, "cpc net %s: '%s' is not a multiaddr\n", sub,
            a->target_text);
    return 2;
  }
  return 0;
}

static int dial_target(struct app *a, cpc_net_dial_cb cb) {
  int rc = cpc_net_dial(a->net, &a->target, cb, a);
  if (rc == CPC_EUNSUPPORTED) {
    fprintf(stderr,
            "cpc net: cannot dial %s: only /ip4|ip6|dns4|dns6|dns/A/tcp/P"
            "[/p2p/ID] is supported\n",
            a->target_text);
    finish(a, 2);
    return 2;
  }
  if (rc != 0) {
    fail_with(a, "cannot dial", rc);
    return 1;
  }
  return 0;
}

/* ping */
static void next_ping(struct app *a);

static void on_ping(cpc_net *net, int status, uint64_t rtt, void *ud) {
  struct app *a = ud;
  (void)net;
  if (status != 0) {
    fail_with(a, "ping of", status);
    return;
  }
  printf("%.3f ms\n", (double)rtt / 1e6);
  fflush(stdout);
  if (--a->pings_left == 0)
    finish(a, 0);
  else
    next_ping(a);
}

static void next_ping(struct app *a) {
  int rc = cpc_net_ping(a->conn, on_ping, a);
  if (rc != 0)
    fail_with(a, "ping of", rc);
}

static void on_dial_ping(cpc_net *net, int status, cpc_net_conn *c, void *ud) {
  struct app *a = ud;
  (void)net;
  if (status != 0) {
    fail_with(a, "cannot connect to", status);
    return;
  }
  a->conn = c;
  a->pings_left = a->o.count;
  next_ping(a);
}

static void on_conn_close(cpc_net *net, cpc_net_conn *c, int reason, void *ud) {
  struct app *a = ud;
  (void)net;
  if (c == a->conn) {
    a->conn = NULL;
    if (!a->done)
      fail_with(a, "connection to", reason ? reason : CPC_ECLOSED);
  }
}

static int cmd_ping(struct app *a) {
  static const cpc_net_events ev = {.on_conn_close = on_conn_close};
  int rc;
  if ((rc = parse_target(a, "ping")) != 0 || (rc = start_host(a, &ev, 0)) != 0)
    return rc;
  dial_target(a, on_dial_ping);
  return run_loop(a);
}

/* identify */
static void print_identify(struct app *a, cpc_net_conn *c) {
  cpc_net_peer_info *info = NULL;
  cpc_peer_id id;
  cpc_multiaddr obs;
  char text[CPC_MULTIADDR_MAX_TEXT];
  json_t *o, *protos, *addrs;
  char *out;

  cpc_net_conn_peer_id(c, &id);
  if (cpc_net_peer_info_get(a->net, &id, &info) != 0) {
    fail_with(a, "identify of", CPC_ENOENT);
    return;
  }
  o = json_object();
  cpc_peer_id_format(&id, text, sizeof text);
  json_object_set_new(o, "peer_id", json_string(text));
  json_object_set_new(o, "agent_version",
                      info->agent_version ? json_string(info->agent_version)
                                          : json_null());
  json_object_set_new(o, "protocol_version",
                      info->protocol_version
                          ? json_string(info->protocol_version)
                          : json_null());
  protos = json_array();
  for (size_t i = 0; i < info->n_protocols; i++)
    json_array_append_new(protos, json_string(info->protocols[i]));
  json_object_set_new(o, "protocols", protos);
  addrs = json_array();
  for (size_t i = 0; i < info->n_addrs; i++)
    if (cpc_multiaddr_format(&info->addrs[i], text, sizeof text, NULL) == 0)
      json_array_append_new(addrs, json_string(text));
  json_object_set_new(o, "listen_addrs", addrs);
  if (cpc_net_conn_observed_addr(c, &obs) == 0 &&
      cpc_multiaddr_format(&obs, text, sizeof text, NULL) == 0)
    json_object_set_new(o, "observed_addr", json_string(text));
  else
    json_object_set_new(o, "observed_addr", json_null());
  json_object_set_new(o, "public_key_type",
                      json_string(info->has_public_key
                                      ? cpc_key_type_name(info->public_key.type)
                                      : "unknown"));
  out = json_dumps(o, (a->o.watch_ms ? JSON_COMPACT : JSON_INDENT(2)) |
                         JSON_PRESERVE_ORDER);
  if (out) {
    printf("%s\n", out);
    fflush(stdout);
  }
  free(out);
  json_decref(o);
  cpc_net_peer_info_free(info);
  if (!out)
    finish(a, 1);
  else if (!a->o.watch_ms)
    finish(a, 0);
}

static void watch_over(uv_timer_t *t) {
  finish(t->data, 0); /* closes the timer */
}

static void on_identify_push(cpc_net *net, cpc_net_conn *c, void *ud) {
  struct app *a = ud;
  (void)net;
  if (c == a->conn && a->o.watch_ms && !a->done)
    print_identify(a, c);
}

static void on_identify(cpc_net *net, cpc_net_conn *c, int status, void *ud) {
  struct app *a = ud;
  (void)net;
  if (c != a->conn)
    return;
  if (status != 0) {
    fail_with(a, "identify of", status);
    return;
  }
  print_identify(a, c);
  if (a->o.watch_ms && !a->done) {
    uv_timer_init(&a->loop, &a->linger);
    a->linger.data = a;
    a->watching = 1;
    uv_timer_start(&a->linger, watch_over, a->o.watch_ms, 0);
  }
}

static void on_dial_identify(cpc_net *net, int status, cpc_net_conn *c,
                             void *ud) {
  struct app *a = ud;
  (void)net;
  if (status != 0)
    fail_with(a, "cannot connect to", status);
  else
    a->conn = c;
}

static void on_open_identify(cpc_net *net, cpc_net_conn *c, void *ud) {
  struct app *a = ud;
  (void)net;
  a->conn = c; /* before identify can report */
}

static int cmd_identify(struct app *a) {
  static const cpc_net_events ev = {.on_conn_open = on_open_identify,
                                    .on_conn_close = on_conn_close,
                                    .on_identify = on_identify,
                                    .on_identify_push = on_identify_push};
  int rc;
  if ((rc = parse_target(a, "identify")) != 0 ||
      (rc = start_host(a, &ev, 0)) != 0)
    return rc;
  dial_target(a, on_dial_identify);
  return run_loop(a);
}

/* echo */
struct echo_stream {
  struct app *app;
  uint8_t *data;
  size_t sent, got, limit;
  int ended;
};

static void linger_done(uv_timer_t *t) {
  struct app *a = t->data;
  uv_close((uv_handle_t *)t, NULL);
  finish(a, a->echo_bad ? 1 : 0);
}

static void echo_end(struct echo_stream *e, int ok) {
  struct app *a = e->app;
  if (e->ended)
    return;
  e->ended = 1;
  if (!ok)
    a->echo_bad++;
  if (--a->echo_left > 0)
    return;
  {
    double secs = (double)(uv_hrtime() - a->t0) / 1e9;
    double total = (double)a->o.bytes * (double)a->o.streams;
    printf("{\"streams\": %ld, \"bytes_per_stream\": %zu, \"reset\": %s, "
           "\"failed\": %zu, \"seconds\": %.3f, \"mib_per_s\": %.1f}\n",
           a->o.streams, a->o.bytes, a->o.reset ? "true" : "false", a->echo_bad,
           secs, a->o.reset ? 0.0 : total / 1048576.0 / secs);
    fflush(stdout);
    if (a->echo_bad)
      fprintf(stderr, "cpc net: %zu of %ld echo streams failed\n", a->echo_bad,
              a->o.streams);
    if (!a->o.reset) {
      finish(a, a->echo_bad ? 1 : 0);
      return;
    }
    /* js-libp2p may close a stream whose reset it has not read yet when
     * the connection's GoAway follows at once: give the resets a moment */
    uv_timer_init(&a->loop, &a->linger);
    a->linger.data = a;
    uv_timer_start(&a->linger, linger_done, 200, 0);
  }
}

static void echo_pump(cpc_net_stream *s, struct echo_stream *e) {
  while (e->sent < e->limit) {
    size_t n = e->limit - e->sent < 65536 ? e->limit - e->sent : 65536;
    int rc = cpc_net_stream_write(s, e->data + e->sent, n);
    if (rc == CPC_EAGAIN)
      return;
    if (rc != 0) {
      cpc_net_stream_reset(s);
      echo_end(e, 0);
      return;
    }
    e->sent += n;
  }
  if (!e->app->o.reset) /* with --reset, echo_data resets it */
    cpc_net_stream_close_write(s);
}

static void echo_open(cpc_net_stream *s, void *ud) {
  echo_pump(s, ud);
}

static void echo_writable(cpc_net_stream *s, void *ud) {
  echo_pump(s, ud);
}

static void echo_data(cpc_net_stream *s, const uint8_t *d, size_t n, void *ud) {
  struct echo_stream *e = ud;
  if (n > e->sent - e->got || memcmp(e->data + e->got, d, n) != 0) {
    fprintf(stderr, "cpc net: echo mismatch at byte %zu\n", e->got);
    cpc_net_stream_reset(s);
    echo_end(e, 0);
    return;
  }
  e->got += n;
  if (e->app->o.reset) { /* mid-stream: the echo is flowing */
    cpc_net_stream_reset(s);
    echo_end(e, 1);
  }
}

static void echo_close(cpc_net_stream *s, int status, void *ud) {
  struct echo_stream *e = ud;
  (void)s;
  if (status != 0)
    fprintf(stderr, "cpc net: echo stream ended: %s\n", why(status));
  echo_end(e, status == 0 && e->got == e->app->o.bytes);
}

static const cpc_net_stream_callbacks echo_cbs = {
    .on_open = echo_open,
    .on_data = echo_data,
    .on_writable = echo_writable,
    .on_close = echo_close,
};

static void on_dial_echo(cpc_net *net, int status, cpc_net_conn *c, void *ud) {
  struct app *a = ud;
  (void)net;
  if (status != 0) {
    fail_with(a, "cannot connect to", status);
    return;
  }
  a->conn = c;
  a->t0 = uv_hrtime();
  a->echo_left = a->o.streams;
  for (long i = 0; i < a->o.streams; i++) {
    struct echo_stream *e = &a->echo[i];
    cpc_net_stream *s;
    int rc;
    e->app = a;
    e->limit = a->o.reset ? a->o.bytes / 2 : a->o.bytes;
    rc = cpc_net_stream_open(c, CPC_NET_ECHO_PROTOCOL, &echo_cbs, e, &s);
    if (rc != 0) {
      fprintf(stderr, "cpc net: cannot open stream %ld: %s\n", i,
              cpc_strerror(rc));
      echo_end(e, 0);
    }
  }
}

static int cmd_echo(struct app *a) {
  static const cpc_net_events ev = {.on_conn_close = on_conn_close};
  uint8_t *data;
  int rc;
  if ((rc = parse_target(a, "echo")) != 0)
    return rc;
  if (a->o.bytes > (1ull << 32)) {
    fprintf(stderr, "cpc net echo: --bytes is at most 4294967296 (the data "
                    "is kept in memory); use cpc net send for more\n");
    return 2;
  }
  a->echo = calloc((size_t)a->o.streams, sizeof *a->echo);
  data = malloc(a->o.bytes ? a->o.bytes : 1);
  if (!a->echo || !data) {
    free(a->echo);
    free(data);
    return cpc_fail(CMD, "out of memory");
  }
  randombytes_buf(data, a->o.bytes);
  for (long i = 0; i < a->o.streams; i++)
    a->echo[i].data = data; /* the same bytes on every stream */
  if ((rc = start_host(a, &ev, 0)) == 0) {
    dial_target(a, on_dial_echo);
    rc = run_loop(a);
  }
  free(data);
  free(a->echo);
  return rc;
}

/* send: one /cpc/sink/1.0.0 stream */
#define SEND_PATTERN (1u << 20)
#define SEND_PIECE (256u * 1024u)

static void send_pump(cpc_net_stream *s, struct app *a) {
  while (a->sent < a->o.bytes) {
    uint64_t off = a->sent % SEND_PATTERN, left = a->o.bytes - a->sent;
    size_t n = SEND_PIECE;
    int rc;
    if (n > left)
      n = (size_t)left;
    if (n > SEND_PATTERN - off)
      n = (size_t)(SEND_PATTERN - off);
    rc = cpc_net_stream_write(s, a->pattern + off, n);
    if (rc == CPC_EAGAIN)
      return;
    if (rc != 0) {
      cpc_net_stream_reset(s);
      fail_with(a, "send to", rc);
      return;
    }
    a->sent += n;
  }
  cpc_net_stream_close_write(s);
}

static void send_open(cpc_net_stream *s, void *ud) {
  send_pump(s, ud);
}

static void send_writable(cpc_net_stream *s, void *ud) {
  send_pump(s, ud);
}

static void send_data(cpc_net_stream *s, const uint8_t *d, size_t n,
                      void *ud) {
  struct app *a = ud;
  if (n > sizeof a->reply - a->reply_len) {
    cpc_net_stream_reset(s);
    fprintf(stderr, "cpc net: send to %s: the peer answered more than a "
                    "byte count\n", a->target_text);
    finish(a, 1);
    return;
  }
  memcpy(a->reply + a->reply_len, d, n);
  a->reply_len += n;
}

static void send_close(cpc_net_stream *s, int status, void *ud) {
  struct app *a = ud;
  double secs = (double)(uv_hrtime() - a->t0) / 1e9;
  uint64_t got;
  (void)s;
  if (a->done)
    return;
  if (status != 0) {
    fail_with(a, "send to", status);
    return;
  }
  got = a->reply_len == sizeof a->reply
            ? cpc_app_sink_reply_decode(a->reply)
            : 0;
  if (a->reply_len != sizeof a->reply || got != a->o.bytes) {
    fprintf(stderr,
            "cpc net: send to %s: the peer counted %llu bytes, not %llu\n",
            a->target_text, (unsigned long long)got,
            (unsigned long long)a->o.bytes);
    finish(a, 1);
    return;
  }
  printf("{\"bytes\": %llu, \"seconds\": %.3f, \"mib_per_s\": %.1f, "
         "\"mb_per_s\": %.1f}\n",
         (unsigned long long)a->o.bytes, secs,
         (double)a->o.bytes / 1048576.0 / secs,
         (double)a->o.bytes / 1e6 / secs);
  fflush(stdout);
  finish(a, 0);
}

static const cpc_net_stream_callbacks send_cbs = {
    .on_open = send_open,
    .on_data = send_data,
    .on_writable = send_writable,
    .on_close = send_close,
};

static void on_dial_send(cpc_net *net, int status, cpc_net_conn *c, void *ud) {
  struct app *a = ud;
  cpc_net_stream *s;
  int rc;
  (void)net;
  if (status != 0) {
    fail_with(a, "cannot connect to", status);
    return;
  }
  a->conn = c;
  a->t0 = uv_hrtime();
  rc = cpc_net_stream_open(c, CPC_APP_SINK_PROTOCOL, &send_cbs, a, &s);
  if (rc != 0)
    fail_with(a, "cannot open a stream to", rc);
}

static int cmd_send(struct app *a) {
  static const cpc_net_events ev = {.on_conn_close = on_conn_close};
  int rc;
  if ((rc = parse_target(a, "send")) != 0)
    return rc;
  if (!(a->pattern = malloc(SEND_PATTERN)))
    return cpc_fail(CMD, "out of memory");
  randombytes_buf(a->pattern, SEND_PATTERN);
  if ((rc = start_host(a, &ev, 0)) == 0) {
    dial_target(a, on_dial_send);
    rc = run_loop(a);
  }
  free(a->pattern);
  return rc;
}

int cpc_cmd_net(int argc, char **argv) {
  struct app *a;
  int rc;
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (cpc_is_help(argv[1])) {
    usage(stdout);
    return 0;
  }
  if (sodium_init() < 0)
    return cpc_fail(CMD, "libsodium failed to start");
  a = calloc(1, sizeof *a);
  if (!a)
    return cpc_fail(CMD, "out of memory");
  rc = parse(argc - 1, argv + 1, &a->o);
  if (rc != 0) {
    free(a);
    return rc < 0 ? 0 : rc;
  }
  if (strcmp(argv[1], "listen") == 0)
    rc = cmd_listen(a);
  else if (strcmp(argv[1], "ping") == 0)
    rc = cmd_ping(a);
  else if (strcmp(argv[1], "identify") == 0)
    rc = cmd_identify(a);
  else if (strcmp(argv[1], "echo") == 0)
    rc = cmd_echo(a);
  else if (strcmp(argv[1], "send") == 0)
    rc = cmd_send(a);
  else {
    fprintf(stderr, "cpc net: unknown subcommand '%s'\n", argv[1]);
    usage(stderr);
    rc = 2;
  }
  if (a->loop_open) { /* start_host failed after the loop started */
    uv_run(&a->loop, UV_RUN_DEFAULT);
    uv_loop_close(&a->loop);
  }
  cpc_blockstore_close(a->bs);
  free(a);
  return rc;
}
