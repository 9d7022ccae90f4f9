/*
 * test_net.c: the host (cpc/net.h) C to C over loopback on one uv loop:
 * dial and upgrade, ping, identify, echo on 100 concurrent streams of 1 MiB
 * each way, half-close, reset both ways, a peer that dies mid-stream
 * (closed, and a child process SIGKILLed while it streams),
 * Ed25519 and secp256k1 identities, IPv6, a wrong expected PeerId,
 * dialing /dns4, /dns and /dns6 names (and names that do not resolve),
 * garbage and slow-loris sockets, limits, upload and download caps with
 * the traffic counters, and the identify codec.
 */
#include <netdb.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <uv.h>

#include "cpc/error.h"
#include "cpc/identify.h"
#include "cpc/net.h"
#include "cpc/noise.h"
#include "cpc/varint.h"

/* --- harness -------------------------------------------------------------- */

static uv_loop_t loop;
static uv_timer_t tick;

static void tick_cb(uv_timer_t *t) {
  (void)t;
}

/* Run the loop until *flag is set or ms pass; returns *flag. */
static int run_until(const int *flag, uint64_t ms) {
  uint64_t end = uv_now(&loop) + ms;
  while (!*flag && uv_now(&loop) < end)
    uv_run(&loop, UV_RUN_ONCE);
  return *flag;
}

static void run_ms(uint64_t ms) {
  int never = 0;
  run_until(&never, ms);
}

struct host {
  cpc_net *net;
  int opens, closes, identified, identify_status, close_reason;
  cpc_net_conn *last_open;
  cpc_net_conn *identified_conn;
};

static void ev_open(cpc_net *net, cpc_net_conn *c, void *ud) {
  struct host *h = ud;
  (void)net;
  h->opens++;
  h->last_open = c;
}

static void ev_close(cpc_net *net, cpc_net_conn *c, int reason, void *ud) {
  struct host *h = ud;
  (void)net;
  h->closes++;
  h->close_reason = reason;
  if (h->last_open == c)
    h->last_open = NULL;
  if (h->identified_conn == c)
    h->identified_conn = NULL;
}

static void ev_identify(cpc_net *net, cpc_net_conn *c, int status, void *ud) {
  struct host *h = ud;
  (void)net;
  h->identified++;
  h->identify_status = status;
  h->identified_conn = c;
}

static const cpc_net_events events = {.on_conn_open = ev_open,
                                      .on_conn_close = ev_close,
                                      .on_identify = ev_identify};

/* Build a host; listen may be NULL (a dial-only host). */
static void host_start(struct host *h, const char *listen,
                       enum cpc_key_type type, const cpc_net_limits *lim) {
  cpc_net_builder *b;
  cpc_multiaddr ma;
  cpc_privkey k;
  memset(h, 0, sizeof *h);
  assert_int_equal(cpc_net_builder_new(&loop, &b), 0);
  assert_int_equal(cpc_net_builder_with_tcp(b), 0);
  assert_int_equal(cpc_privkey_generate(type, &k), 0);
  assert_int_equal(cpc_net_builder_identity(b, &k), 0);
  cpc_privkey_wipe(&k);
  if (listen) {
    assert_int_equal(cpc_multiaddr_parse(&ma, listen, strlen(listen)), 0);
    assert_int_equal(cpc_net_builder_listen(b, &ma), 0);
  }
  assert_int_equal(cpc_net_builder_agent_version(b, "cpc-test/1"), 0);
  if (lim)
    assert_int_equal(cpc_net_builder_limits(b, lim), 0);
  cpc_net_builder_events(b, &events, h);
  assert_int_equal(cpc_net_builder_build(b, &h->net), 0);
  cpc_net_builder_free(b);
}

static int closed_flag;
static void on_closed(void *ud) {
  (*(int *)ud)++;
}

static void host_stop(struct host *h) {
  int done = 0;
  cpc_net_close(h->net, on_closed, &done);
  assert_true(run_until(&done, 5000));
  h->net = NULL;
}

/* h's first listen address (with /p2p/). */
static cpc_multiaddr host_addr(const struct host *h) {
  cpc_multiaddr out[4];
  size_t n = 0;
  assert_int_equal(cpc_net_listen_addrs(h->net, out, 4, &n), 0);
  assert_true(n >= 1);
  return out[0];
}

struct dial {
  int done, status;
  cpc_net_conn *conn;
};

static void dial_cb(cpc_net *net, int status, cpc_net_conn *c, void *ud) {
  struct dial *d = ud;
  (void)net;
  d->done = 1;
  d->status = status;
  d->conn = c;
}

static cpc_net_conn *dial(struct host *from, const cpc_multiaddr *to) {
  struct dial d = {0};
  assert_int_equal(cpc_net_dial(from->net, to, dial_cb, &d), 0);
  assert_true(run_until(&d.done, 5000));
  assert_int_equal(d.status, 0);
  assert_non_null(d.conn);
  return d.conn;
}

struct ping {
  int done, status;
  uint64_t rtt;
};

static void ping_cb(cpc_net *net, int status, uint64_t rtt, void *ud) {
  struct ping *p = ud;
  (void)net;
  p->done = 1;
  p->status = status;
  p->rtt = rtt;
}

static void ping_ok(cpc_net_conn *c) {
  struct ping p = {0};
  assert_int_equal(cpc_net_ping(c, ping_cb, &p), 0);
  assert_true(run_until(&p.done, 5000));
  assert_int_equal(p.status, 0);
  assert_true(p.rtt > 0);
}

/* --- echo clients --------------------------------------------------------- */

struct echo {
  uint8_t *data, *back;
  size_t size, sent, got;
  int opened, eof, closed, close_status, half_close;
  int *finished; /* incremented once when closed */
};

static void echo_pump(cpc_net_stream *s, struct echo *e) {
  while (e->sent < e->size) {
    size_t n = e->size - e->sent < 65536 ? e->size - e->sent : 65536;
    int rc = cpc_net_stream_write(s, e->data + e->sent, n);
    if (rc == CPC_EAGAIN)
      return;
    assert_int_equal(rc, 0);
    e->sent += n;
  }
  if (e->half_close)
    assert_int_equal(cpc_net_stream_close_write(s), 0);
  e->half_close = 0;
}

static void echo_open(cpc_net_stream *s, void *ud) {
  struct echo *e = ud;
  e->opened = 1;
  echo_pump(s, e);
}

static void echo_writable(cpc_net_stream *s, void *ud) {
  echo_pump(s, ud);
}

static void echo_data(cpc_net_stream *s, const uint8_t *d, size_t n, void *ud) {
  struct echo *e = ud;
  (void)s;
  assert_true(n <= e->size - e->got);
  memcpy(e->back + e->got, d, n);
  e->got += n;
}

static void echo_eof(cpc_net_stream *s, void *ud) {
  struct echo *e = ud;
  (void)s;
  e->eof = 1;
}

static void echo_close(cpc_net_stream *s, int status, void *ud) {
  struct echo *e = ud;
  (void)s;
  e->closed = 1;
  e->close_status = status;
  if (e->finished)
    (*e->finished)++;
}

static const cpc_net_stream_callbacks echo_cbs = {
    echo_open, echo_data, echo_eof, echo_writable, echo_close};

static void echo_init(struct echo *e, size_t size, int *finished) {
  memset(e, 0, sizeof *e);
  e->size = size;
  e->data = malloc(size ? size : 1);
  e->back = malloc(size ? size : 1);
  assert_non_null(e->data);
  assert_non_null(e->back);
  randombytes_buf(e->data, size);
  e->half_close = 1;
  e->finished = finished;
}

static void echo_free(struct echo *e) {
  free(e->data);
  free(e->back);
}

/* --- tests ------------------------------------------------------------------
 */

static int setup(void **state) {
  (void)state;
  assert_true(sodium_init() >= 0);
  signal(SIGPIPE, SIG_IGN);
  uv_loop_init(&loop);
  uv_timer_init(&loop, &tick);
  uv_timer_start(&tick, tick_cb, 10, 10);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  uv_close((uv_handle_t *)&tick, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
  return 0;
}

static void test_builder(void **state) {
  cpc_net_builder *b;
  cpc_net *net = NULL;
  cpc_multiaddr ma;
  (void)state;
  assert_int_equal(cpc_net_builder_new(&loop, &b), 0);
  assert_int_equal(cpc_net_builder_build(b, &net), CPC_EINVAL);
  assert_non_null(strstr(cpc_net_builder_error(b), "with_tcp"));
  assert_int_equal(cpc_net_builder_with_tcp(b), 0);
  assert_int_equal(cpc_multiaddr_parse(&ma, "/ip4/1.2.3.4/tcp/1", 18), 0);
  assert_int_equal(cpc_net_builder_with_kademlia(b, 7, NULL, 0), CPC_EINVAL);
  assert_non_null(strstr(cpc_net_builder_error(b), "Kademlia"));
  assert_int_equal(cpc_net_builder_with_kademlia(b, CPC_NET_KAD_SERVER, &ma, 1),
                   CPC_EINVAL); /* no /p2p/ */
  assert_non_null(strstr(cpc_net_builder_error(b), "/p2p/"));
  assert_int_equal(cpc_net_builder_with_gossipsub(b), CPC_EUNSUPPORTED);
  assert_non_null(strstr(cpc_net_builder_error(b), "gossipsub"));
  assert_int_equal(cpc_net_builder_with_quic(b), CPC_EUNSUPPORTED);
  assert_int_equal(cpc_multiaddr_parse(&ma, "/ip4/1.2.3.4/udp/1", 18), 0);
  assert_int_equal(cpc_net_builder_listen(b, &ma), CPC_EUNSUPPORTED);
  assert_int_equal(cpc_net_builder_agent_version(b, ""), CPC_EINVAL);
  /* an address that cannot be bound fails build with a clear message */
  assert_int_equal(cpc_multiaddr_parse(&ma, "/ip4/192.0.2.1/tcp/0", 20), 0);
  assert_int_equal(cpc_net_builder_listen(b, &ma), 0);
  assert_int_equal(cpc_net_builder_build(b, &net), CPC_EIO);
  assert_null(net);
  assert_non_null(strstr(cpc_net_builder_error(b), "192.0.2.1"));
  cpc_net_builder_free(b);
  run_ms(50);
}

static int has(char **v, size_t n, const char *s) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(v[i], s) == 0)
      return 1;
  return 0;
}

static void check_identify(struct host *from, struct host *to,
                           cpc_net_conn *c) {
  cpc_net_peer_info *info = NULL;
  cpc_peer_id id;
  cpc_multiaddr obs, listen = host_addr(to), remote;
  assert_true(run_until(&from->identified, 5000));
  assert_int_equal(from->identify_status, 0);
  cpc_net_peer_id(to->net, &id);
  assert_int_equal(cpc_net_peer_info_get(from->net, &id, &info), 0);
  assert_string_equal(info->agent_version, "cpc-test/1");
  assert_string_equal(info->protocol_version, CPC_NET_PROTOCOL_VERSION);
  assert_true(has(info->protocols, info->n_protocols, CPC_NET_PING_PROTOCOL));
  assert_true(
      has(info->protocols, info->n_protocols, CPC_NET_IDENTIFY_PROTOCOL));
  assert_true(has(info->protocols, info->n_protocols, CPC_NET_ECHO_PROTOCOL));
  assert_true(info->has_public_key);
  assert_int_equal(cpc_peer_id_check(&id, &info->public_key), 0);
  assert_int_equal(info->n_addrs, 1);
  cpc_multiaddr_strip_p2p(&listen);
  assert_true(cpc_multiaddr_equal(&info->addrs[0], &listen));
  /* the observed address is our end of the connection as the peer sees it */
  assert_int_equal(cpc_net_conn_observed_addr(c, &obs), 0);
  assert_int_equal(cpc_net_conn_remote_addr(c, &remote), 0);
  assert_int_equal(obs.bytes[0], remote.bytes[0]); /* same ip family */
  cpc_net_peer_info_free(info);
}

static void test_dial_ping_identify(void **state) {
  struct host a, b;
  cpc_net_conn *c;
  cpc_multiaddr ma;
  cpc_peer_id ida, idc;
  (void)state;
  host_start(&a, "/ip4/127.0.0.1/tcp/0", CPC_KEY_ED25519, NULL);
  host_start(&b, NULL, CPC_KEY_ED25519, NULL);
  ma = host_addr(&a);
  c = dial(&b, &ma);
  assert_int_equal(cpc_net_conn_outbound(c), 1);
  cpc_net_conn_peer_id(c, &idc);
  cpc_net_peer_id(a.net, &ida);
  assert_true(cpc_peer_id_equal(&ida, &idc));
  ping_ok(c);
  ping_ok(c);
  check_identify(&b, &a, c);
  assert_true(run_until(&a.identified, 5000)); /* the listener asks too */
  assert_int_equal(a.identify_status, 0);
  /* dialing the same PeerId again reuses the connection */
  assert_ptr_equal(dial(&b, &ma), c);
  assert_int_equal(cpc_net_conn_count(b.net), 1);
  assert_int_equal(cpc_net_conn_count(a.net), 1);
  host_stop(&b);
  run_ms(100);
  assert_int_equal(cpc_net_conn_count(a.net), 0);
  assert_int_equal(a.closes, 1);
  host_stop(&a);
}

/* Whether the peer store of at has an entry for `of` that lists protocol. */
static int knows_protocol(struct host *at, struct host *of,
                          const char *protocol) {
  cpc_net_peer_info *info = NULL;
  cpc_peer_id id;
  int yes;
  cpc_net_peer_id(of->net, &id);
  if (cpc_net_peer_info_get(at->net, &id, &info) != 0)
    return 0;
  yes = has(info->protocols, info->n_protocols, protocol);
  cpc_net_peer_info_free(info);
  return yes;
}

/* Run the loop until knows_protocol(at, of, protocol) == want. */
static int wait_known(struct host *at, struct host *of, const char *protocol,
                      int want) {
  uint64_t end = uv_now(&loop) + 5000;
  while (knows_protocol(at, of, protocol) != want && uv_now(&loop) < end)
    run_ms(10);
  return knows_protocol(at, of, protocol) == want;
}

static void push_test_stream(cpc_net_stream *s, const char *protocol,
                             void *ud) {
  (void)protocol;
  (void)ud;
  cpc_net_stream_reset(s);
}

/* Identify push (/ipfs/id/push/1.0.0): a protocol handled or unhandled
 * after the connection is up reaches the other side's peer store, both
 * ways, without a new identify. */
static void test_identify_push(void **state) {
  static const char proto[] = "/cpc/test-push/1.0.0";
  struct host a, b;
  cpc_multiaddr ma;
  (void)state;
  host_start(&a, "/ip4/127.0.0.1/tcp/0", CPC_KEY_ED25519, NULL);
  host_start(&b, NULL, CPC_KEY_SECP256K1, NULL);
  ma = host_addr(&a);
  (void)dial(&b, &ma);
  assert_true(run_until(&b.identified, 5000));
  assert_true(run_until(&a.identified, 5000));
  assert_false(knows_protocol(&b, &a, proto));
  assert_false(knows_protocol(&a, &b, proto));
  /* the listener adds a protocol: the dialer learns it */
  assert_int_equal(cpc_net_handle(a.net, proto, push_test_stream, NULL), 0);
  assert_true(wait_known(&b, &a, proto, 1));
  /* the dialer adds it: the listener learns it */
  assert_int_equal(cpc_net_handle(b.net, proto, push_test_stream, NULL), 0);
  assert_true(wait_known(&a, &b, proto, 1));
  /* and dropping it is pushed too */
  assert_int_equal(cpc_net_unhandle(a.net, proto), 0);
  assert_true(wait_known(&b, &a, proto, 0));
  assert_true(knows_protocol(&b, &a, CPC_NET_PING_PROTOCOL));
  assert_true(knows_protocol(&a, &b, proto));
  host_stop(&b);
  host_stop(&a);
}

static void run_echo(struct host *from, cpc_net_conn *c, size_t n_streams,
                     size_t size) {
  struct echo *e = calloc(n_streams, sizeof *e);
  int finished = 0;
  (void)from;
  assert_non_null(e);
  for (size_t i = 0; i < n_streams; i++) {
    cpc_net_stream *s;
    echo_init(&e[i], size, &finished);
    assert_int_equal(
        cpc_net_stream_open(c, CPC_NET_ECHO_PROTOCOL, &echo_cbs, &e[i], &s), 0);
  }
  assert_int_equal(cpc_net_conn_stream_count(c) >= n_streams, 1);
  {
    uint64_t end = uv_now(&loop) + 60000;
    while (finished < (int)n_streams && uv_now(&loop) < end)
      uv_run(&loop, UV_RUN_ONCE);
  }
  assert_int_equal(finished, (int)n_streams);
  for (size_t i = 0; i < n_streams; i++) {
    assert_true(e[i].opened);
    assert_int_equal(e[i].close_status, 0);
    assert_true(e[i].eof);
    assert_int_equal(e[i].got, size);
    assert_memory_equal(e[i].data, e[i].back, size);
    echo_free(&e[i]);
  }
  free(e);
}

struct output_probe {
  cpc_net *net;
  size_t peak;
};

/* Before each poll, after the settle pass has written. */
static void probe_output(uv_prepare_t *h) {
  struct output_probe *p = h->data;
  cpc_net_traffic t;
  cpc_net_traffic_get(p->net, &t);
  if (t.socket_output > p->peak)
    p->peak = t.socket_output;
}

/* Echo 4 MiB on each of 8 streams over 4 connections (one per listener)
 * from a host whose socket output budget is budget (0: the default); the
 * largest socket output seen between loop iterations. Every echo must
 * come back whole. */
static size_t echo_socket_output_peak(size_t budget) {
  enum { PEERS = 4, STREAMS = 8, SIZE = 4 << 20 };
  struct host to[PEERS], from;
  struct echo e[STREAMS];
  cpc_net_limits lim;
  cpc_net_traffic t;
  struct output_probe probe;
  uv_prepare_t prepare;
  int finished = 0;
  uint64_t end;

  cpc_net_limits_default(&lim);
  if (budget)
    lim.max_host_socket_output = budget;
  host_start(&from, NULL, CPC_KEY_ED25519, &lim);
  for (int i = 0; i < PEERS; i++) {
    cpc_multiaddr ma;
    host_start(&to[i], "/ip4/127.0.0.1/tcp/0", CPC_KEY_ED25519, NULL);
    ma = host_addr(&to[i]);
    (void)dial(&from, &ma);
  }
  for (int i = 0; i < STREAMS; i++) {
    cpc_multiaddr ma = host_addr(&to[i % PEERS]);
    cpc_net_stream *s;
    echo_init(&e[i], SIZE, &finished);
    assert_int_equal(cpc_net_stream_open(dial(&from, &ma),
                                         CPC_NET_ECHO_PROTOCOL, &echo_cbs,
                                         &e[i], &s),
                     0);
  }
  probe.net = from.net;
  probe.peak = 0;
  uv_prepare_init(&loop, &prepare);
  prepare.data = &probe;
  uv_prepare_start(&prepare, probe_output);
  end = uv_now(&loop) + 60000;
  while (finished < STREAMS && uv_now(&loop) < end)
    uv_run(&loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&prepare, NULL);
  assert_int_equal(finished, STREAMS);
  for (int i = 0; i < STREAMS; i++) {
    assert_int_equal(e[i].close_status, 0);
    assert_int_equal(e[i].got, SIZE);
    assert_memory_equal(e[i].data, e[i].back, SIZE);
    echo_free(&e[i]);
  }
  cpc_net_traffic_get(from.net, &t);
  assert_int_equal(t.socket_output, 0);
  host_stop(&from);
  for (int i = 0; i < PEERS; i++)
    host_stop(&to[i]);
  return probe.peak;
}

/* lim.max_host_socket_output: over it, each connection keeps at most one
 * 256 KiB write in flight, so the host's socket output stays under the
 * budget plus one full write plus one such write per connection; and
 * every connection still finishes (those held back are woken). */
static void test_host_socket_output_budget(void **state) {
  size_t budget = 256u * 1024u;
  size_t frame = CPC_NOISE_MAX_PLAINTEXT + CPC_NOISE_FRAME_OVERHEAD;
  size_t bound = budget + 12 * frame +
                 4 * (256u * 1024u + 5 * CPC_NOISE_FRAME_OVERHEAD);
  size_t peak_default, peak;
  (void)state;
  peak_default = echo_socket_output_peak(0);
  peak = echo_socket_output_peak(budget);
  print_message("# socket output peak: %zu bytes with the default budget, "
                "%zu with %zu (bound %zu)\n",
                peak_default, peak, budget, bound);
  assert_true(peak <= bound);
  assert_true(peak_default > bound); /* the budget is what held it */
}

static void test_echo_100_streams(void **state) {
  struct host a, b;
  cpc_net_conn *c, *back;
  cpc_multiaddr ma;
  (void)state;
  host_start(&a, "/ip4/127.0.0.1/tcp/0", CPC_KEY_ED25519, NULL);
  host_start(&b, NULL, CPC_KEY_ED25519, NULL);
  ma = host_addr(&a);
  c = dial(&b, &ma);
  run_echo(&b, c, 100, 1u << 20);
  /* and the other way, on the same connection, from the listener */
  assert_true(run_until(&a.opens, 1000));
  back = a.last_open;
  assert_non_null(back);
  assert_int_equal(cpc_net_conn_outbound(back), 0);
  run_echo(&a, back, 100, 1u << 20);
  run_ms(50);
  assert_int_equal(cpc_net_conn_stream_count(c), 0);
  assert_int_equal(cpc_net_conn_count(b.net), 1);
  host_stop(&b);
  host_stop(&a);
}

static void test_half_close(void **state) {
  struct host a, b;
  cpc_net_conn *c;
  cpc_net_stream *s;
  cpc_multiaddr ma;
  struct echo e;
  int finished = 0;
  (void)state;
  host_start(&a, "/ip4/127.0.0.1/tcp/0", CPC_KEY_ED25519, NULL);
  host_start(&b, NULL, CPC_KEY_ED25519, NULL);
  ma = host_addr(&a);
  c = dial(&b, &ma);
  echo_init(&e, 5, &finished);
  memcpy(e.data, "hello", 5);
  assert_int_equal(
      cpc_net_stream_open(c, CPC_NET_ECHO_PROTOCOL, &echo_cbs, &e, &s), 0);
  assert_true(run_until(&finished, 5000));
  assert_true(e.eof);
  assert_int_equal(e.close_status, 0);
  assert_memory_equal(e.back, "hello", 5);
  echo_free(&e);
  /* a stream to a protocol nobody speaks fails with CPC_EUNSUPPORTED */
  finished = 0;
  echo_init(&e, 1, &finished);
  assert_int_equal(cpc_net_stream_open(c, "/nope/1.0.0", &echo_cbs, &e, &s), 0);
  assert_true(run_until(&finished, 5000));
  assert_false(e.opened);
  assert_int_equal(e.close_status, CPC_EUNSUPPORTED);
  echo_free(&e);
  ping_ok(c);
  host_stop(&b);
  host_stop(&a);
}

/* A handler that remembers its stream and what happened to it. */
struct sink {
  cpc_net_stream *s;
  size_t got;
  int closed, status, reset_on_data;
};

static void sink_data(cpc_net_stream *s, const uint8_t *d, size_t n, void *ud) {
  struct sink *k = ud;
  (void)d;
  k->got += n;
  if (k->reset_on_data) {
    cpc_net_stream_reset(s);
    k->s = NULL;
    k->closed = 1;
  }
}

static void sink_close(cpc_net_stream *s, int status, void *ud) {
  struct sink *k = ud;
  (void)s;
  k->closed = 1;
  k->status = status;
  k->s = NULL;
}

static const cpc_net_stream_callbacks sink_cbs = {.on_data = sink_data,
                                                  .on_close = sink_close};

static void sink_handler(cpc_net_stream *s, const char *protocol, void *ud) {
  struct sink *k = ud;
  assert_string_equal(protocol, "/test/sink/1.0.0");
  k->s = s;
  cpc_net_stream_set_callbacks(s, &sink_cbs, k);
}

/* --- bandwidth caps and traffic counters ---------------------------------- */

#define CAP_BPS (8u * 1000u * 1000u)
#define CAP_BYTES ((size_t)CAP_BPS * 3u) /* about 3 s at the cap */
#define CAP_SAMPLES 1024

/* The counters of one host, sampled every 20 ms. */
struct meter {
  cpc_net *net;
  int upload; /* watch bytes_sent, else bytes_received */
  size_t n;
  uint64_t t_ns[CAP_SAMPLES], bytes[CAP_SAMPLES];
};

static void meter_cb(uv_timer_t *t) {
  struct meter *m = t->data;
  cpc_net_traffic tr;
  if (m->n >= CAP_SAMPLES)
    return;
  cpc_net_traffic_get(m->net, &tr);
  m->t_ns[m->n] = uv_hrtime();
  m->bytes[m->n++] = m->upload ? tr.bytes_sent : tr.bytes_received;
}

struct pump {
  size_t sent, limit;
  int closed, status;
};

static uint8_t pump_buf[65536];

static void pump_more(cpc_net_stream *s, void *ud) {
  struct pump *p = ud;
  while (p->sent < p->limit) {
    size_t n = p->limit - p->sent;
    int rc;
    if (n > sizeof pump_buf)
      n = sizeof pump_buf;
    rc = cpc_net_stream_write(s, pump_buf, n);
    if (rc == CPC_EAGAIN)
      return;
    assert_int_equal(rc, 0);
    p->sent += n;
  }
  cpc_net_stream_close_write(s);
}

static void pump_close(cpc_net_stream *s, int status, void *ud) {
  struct pump *p = ud;
  (void)s;
  p->closed = 1;
  p->status = status;
}

static const cpc_net_stream_callbacks pump_cbs = {
    .on_open = pump_more, .on_writable = pump_more, .on_close = pump_close};

/*
 * Send CAP_BYTES from b to a's sink, with the cap on b's upload (upload
 * set) or a's download, and check the capped host's rate over every 2 s
 * window: at most the cap + 10% (the bucket's burst of 1/10 s, a quantum
 * and sampling jitter stay well inside that), and on the whole not far
 * below the cap.
 */
static void cap_run(int upload) {
  struct host a, b;
  cpc_net_limits lim;
  cpc_net_conn *c;
  cpc_net_stream *s;
  cpc_multiaddr ma;
  struct sink k = {0};
  struct pump p = {0};
  struct meter *m = calloc(1, sizeof *m);
  uv_timer_t timer;
  cpc_net_traffic ta, tb;
  double worst = 0, mean;
  size_t first = 0;

  assert_non_null(m);
  cpc_net_limits_default(&lim);
  if (upload)
    lim.upload_bps = CAP_BPS;
  else
    lim.download_bps = CAP_BPS;
  host_start(&a, "/ip4/127.0.0.1/tcp/0", CPC_KEY_ED25519, upload ? NULL : &lim);
  host_start(&b, NULL, CPC_KEY_ED25519, upload ? &lim : NULL);
  assert_int_equal(cpc_net_handle(a.net, "/test/sink/1.0.0", sink_handler, &k),
                   0);
  ma = host_addr(&a);
  c = dial(&b, &ma);
  m->net = upload ? b.net : a.net;
  m->upload = upload;
  uv_timer_init(&loop, &timer);
  timer.data = m;
  meter_cb(&timer);
  uv_timer_start(&timer, meter_cb, 20, 20);
  p.limit = CAP_BYTES;
  assert_int_equal(
      cpc_net_stream_open(c, "/test/sink/1.0.0", &pump_cbs, &p, &s), 0);
  for (int i = 0; i < 3000 && k.got < CAP_BYTES; i++)
    run_ms(10);
  meter_cb(&timer);
  uv_close((uv_handle_t *)&timer, NULL);
  assert_int_equal(k.got, CAP_BYTES);
  assert_true(m->n > 50 && m->n < CAP_SAMPLES);

  /* every window of (at least) 2 s that starts within the transfer */
  for (size_t i = 0; i < m->n; i++) {
    size_t j = i;
    while (j < m->n && m->t_ns[j] - m->t_ns[i] < 2000000000u)
      j++;
    if (j == m->n)
      break;
    double r = (double)(m->bytes[j] - m->bytes[i]) * 1e9 /
               (double)(m->t_ns[j] - m->t_ns[i]);
    if (r > worst)
      worst = r;
  }
  while (first + 1 < m->n && m->bytes[first + 1] == m->bytes[0])
    first++; /* the last sample before data moved */
  mean = (double)(m->bytes[m->n - 1] - m->bytes[first]) * 1e9 /
         (double)(m->t_ns[m->n - 1] - m->t_ns[first]);
  fprintf(stderr, "# %s cap %u B/s: busiest 2 s window %.0f B/s, mean %.0f\n",
          upload ? "upload" : "download", CAP_BPS, worst, mean);
  assert_true(worst > 0);
  assert_true(worst <= 1.10 * CAP_BPS);
  assert_true(mean >= 0.6 * CAP_BPS);

  /* at rest, what one host sent is what the other received */
  cpc_net_stream_close(s);
  run_ms(100);
  cpc_net_traffic_get(a.net, &ta);
  cpc_net_traffic_get(b.net, &tb);
  assert_int_equal(ta.connections, 1);
  assert_int_equal(tb.connections, 1);
  assert_true(ta.bytes_received > CAP_BYTES);
  assert_int_equal(ta.bytes_received, tb.bytes_sent);
  assert_int_equal(ta.bytes_sent, tb.bytes_received);
  ping_ok(c);
  host_stop(&b);
  host_stop(&a);
  free(m);
}

static void test_bandwidth_caps(void **state) {
  (void)state;
  cap_run(1);
  cap_run(0);
}

static void test_reset(void **state) {
  struct host a, b;
  cpc_net_conn *c;
  cpc_net_stream *s;
  cpc_multiaddr ma;
  struct sink k = {0}, mine = {0};
  (void)state;
  host_start(&a, "/ip4/127.0.0.1/tcp/0", CPC_KEY_ED25519, NULL);
  host_start(&b, NULL, CPC_KEY_ED25519, NULL);
  assert_int_equal(cpc_net_handle(a.net, "/test/sink/1.0.0", sink_handler, &k),
                   0);
  ma = host_addr(&a);
  c = dial(&b, &ma);
  /* we reset: the handler's stream ends with CPC_ECLOSED */
  assert_int_equal(
      cpc_net_stream_open(c, "/test/sink/1.0.0", &sink_cbs, &mine, &s), 0);
  assert_int_equal(cpc_net_stream_write(s, "x", 1), 0);
  for (int i = 0; i < 500 && k.got == 0; i++)
    run_ms(10);
  assert_int_equal(k.got, 1);
  cpc_net_stream_reset(s);
  assert_true(run_until(&k.closed, 5000));
  assert_int_equal(k.status, CPC_ECLOSED);
  assert_false(mine.closed); /* no callback after a local reset */
  /* the peer resets: our stream ends with CPC_ECLOSED */
  memset(&k, 0, sizeof k);
  k.reset_on_data = 1;
  memset(&mine, 0, sizeof mine);
  assert_int_equal(
      cpc_net_stream_open(c, "/test/sink/1.0.0", &sink_cbs, &mine, &s), 0);
  assert_int_equal(cpc_net_stream_write(s, "y", 1), 0);
  assert_true(run_until(&mine.closed, 5000));
  assert_int_equal(mine.status, CPC_ECLOSED);
  ping_ok(c);
  assert_int_equal(cpc_net_unhandle(a.net, "/test/sink/1.0.0"), 0);
  assert_int_equal(cpc_net_unhandle(a.net, "/test/sink/1.0.0"), CPC_ENOENT);
  host_stop(&b);
  host_stop(&a);
}

static void test_peer_dies_mid_stream(void **state) {
  struct host a, b, d;
  cpc_net_conn *c;
  cpc_net_stream *s;
  cpc_multiaddr ma;
  struct sink k = {0}, mine = {0};
  uint8_t buf[100000];
  (void)state;
  host_start(&a, "/ip4/127.0.0.1/tcp/0", CPC_KEY_ED25519, NULL);
  host_start(&b, NULL, CPC_KEY_ED25519, NULL);
  assert_int_equal(cpc_net_handle(a.net, "/test/sink/1.0.0", sink_handler, &k),
                   0);
  ma = host_addr(&a);
  c = dial(&b, &ma);
  assert_int_equal(
      cpc_net_stream_open(c, "/test/sink/1.0.0", &sink_cbs, &mine, &s), 0);
  memset(buf, 7, sizeof buf);
  assert_int_equal(cpc_net_stream_write(s, buf, sizeof buf), 0);
  for (int i = 0; i < 500 && k.got == 0; i++)
    run_ms(10);
  assert_true(k.got > 0);
  /* b vanishes without a GoAway or stream resets */
  host_stop(&b);
  assert_true(run_until(&k.closed, 5000));
  assert_int_equal(k.status, CPC_ECLOSED);
  assert_true(run_until(&a.closes, 5000));
  assert_int_equal(cpc_net_conn_count(a.net), 0);
  /* a still serves a new peer */
  host_start(&d, NULL, CPC_KEY_SECP256K1, NULL);
  ping_ok(dial(&d, &ma));
  host_stop(&d);
  host_stop(&a);
}

/* The child of test_peer_killed_mid_stream: its own loop and host, one
 * /test/sink/1.0.0 stream to the parent, written until the process is
 * killed. No cmocka here: any failure is _exit(1). */
static uint8_t child_chunk[65536];

static void child_pump(cpc_net_stream *s, void *ud) {
  (void)ud;
  while (cpc_net_stream_write(s, child_chunk, sizeof child_chunk) == 0)
    ;
}

static void child_close(cpc_net_stream *s, int status, void *ud) {
  (void)s;
  (void)status;
  (void)ud;
  _exit(1); /* the stream must not end before the kill */
}

static void child_dialed(cpc_net *net, int status, cpc_net_conn *c, void *ud) {
  static const cpc_net_stream_callbacks cbs = {.on_open = child_pump,
                                               .on_writable = child_pump,
                                               .on_close = child_close};
  cpc_net_stream *s;
  (void)net;
  (void)ud;
  if (status != 0 ||
      cpc_net_stream_open(c, "/test/sink/1.0.0", &cbs, NULL, &s) != 0)
    _exit(1);
}

static void child_stream_forever(const cpc_multiaddr *to) {
  uv_loop_t l;
  cpc_net_builder *b;
  cpc_net *net;
  alarm(30); /* never outlive a parent that fails to kill us */
  memset(child_chunk, 0x5a, sizeof child_chunk);
  if (uv_loop_init(&l) != 0 || cpc_net_builder_new(&l, &b) != 0 ||
      cpc_net_builder_with_tcp(b) != 0 || cpc_net_builder_build(b, &net) != 0)
    _exit(1);
  cpc_net_builder_free(b);
  if (cpc_net_dial(net, to, child_dialed, NULL) != 0)
    _exit(1);
  uv_run(&l, UV_RUN_DEFAULT);
  _exit(1);
}

static void test_peer_killed_mid_stream(void **state) {
  struct host a, d;
  cpc_net_conn *c;
  cpc_net_stream *s;
  cpc_multiaddr ma;
  struct sink k = {0}, mine = {0};
  int wstatus = 0;
  pid_t pid;
  (void)state;
  host_start(&a, "/ip4/127.0.0.1/tcp/0", CPC_KEY_ED25519, NULL);
  assert_int_equal(cpc_net_handle(a.net, "/test/sink/1.0.0", sink_handler, &k),
                   0);
  ma = host_addr(&a);
  fflush(NULL);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0)
    child_stream_forever(&ma); /* does not return */
  /* the child streams: wait for a few MiB, then kill it mid-stream */
  for (int i = 0; i < 1000 && k.got < (4u << 20) && !k.closed; i++)
    run_ms(10);
  assert_false(k.closed);
  assert_true(k.got >= (4u << 20));
  assert_int_equal(a.opens, 1);
  assert_int_equal(kill(pid, SIGKILL), 0);
  assert_int_equal(waitpid(pid, &wstatus, 0), pid);
  assert_true(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL);
  /* the stream and the connection end with an error, and are freed */
  assert_true(run_until(&k.closed, 5000));
  assert_int_equal(k.status, CPC_ECLOSED);
  assert_true(run_until(&a.closes, 5000));
  assert_true(a.close_reason == CPC_ECLOSED || a.close_reason == CPC_EIO);
  assert_int_equal(cpc_net_conn_count(a.net), 0);
  /* a still serves a new peer, streams included */
  host_start(&d, NULL, CPC_KEY_ED25519, NULL);
  c = dial(&d, &ma);
  ping_ok(c);
  memset(&k, 0, sizeof k);
  assert_int_equal(
      cpc_net_stream_open(c, "/test/sink/1.0.0", &sink_cbs, &mine, &s), 0);
  assert_int_equal(cpc_net_stream_write(s, "after", 5), 0);
  for (int i = 0; i < 500 && k.got < 5; i++)
    run_ms(10);
  assert_int_equal(k.got, 5);
  cpc_net_stream_reset(s);
  assert_true(run_until(&k.closed, 5000));
  host_stop(&d);
  host_stop(&a);
}

/* The child of test_keepalive: dials and then idles (the parent stops it). */
static void child_idle_dialed(cpc_net *net, int status, cpc_net_conn *c,
                              void *ud) {
  (void)net;
  (void)c;
  (void)ud;
  if (status != 0)
    _exit(1);
}

static void child_dial_and_idle(const cpc_multiaddr *to) {
  uv_loop_t l;
  cpc_net_builder *b;
  cpc_net *net;
  alarm(30); /* never outlive a parent that fails to kill us */
  if (uv_loop_init(&l) != 0 || cpc_net_builder_new(&l, &b) != 0 ||
      cpc_net_builder_with_tcp(b) != 0 || cpc_net_builder_build(b, &net) != 0)
    _exit(1);
  cpc_net_builder_free(b);
  if (cpc_net_dial(net, to, child_idle_dialed, NULL) != 0)
    _exit(1);
  uv_run(&l, UV_RUN_DEFAULT);
  _exit(1);
}

/* Keep-alive: an idle connection to a live peer stays open across many
 * keep-alive periods; a peer that stops answering (SIGSTOP: its socket
 * stays open, it just never replies) is dropped with CPC_ETIMEDOUT. */
static void test_keepalive(void **state) {
  struct host a, b;
  cpc_net_limits lim;
  cpc_multiaddr ma;
  int wstatus = 0;
  pid_t pid;
  (void)state;
  cpc_net_limits_default(&lim);
  lim.keepalive_ms = 100;
  lim.idle_timeout_ms = 0;
  host_start(&a, "/ip4/127.0.0.1/tcp/0", CPC_KEY_ED25519, &lim);
  host_start(&b, NULL, CPC_KEY_ED25519, &lim);
  ma = host_addr(&a);
  (void)dial(&b, &ma);
  run_ms(1200); /* twelve keep-alive periods without a stream */
  assert_int_equal(a.closes, 0);
  assert_int_equal(b.closes, 0);
  assert_int_equal(cpc_net_conn_count(a.net), 1);
  host_stop(&b);
  assert_true(run_until(&a.closes, 5000));

  fflush(NULL);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0)
    child_dial_and_idle(&ma); /* does not return */
  for (int i = 0; i < 500 && a.opens < 2; i++)
    run_ms(10);
  assert_int_equal(a.opens, 2);
  assert_int_equal(kill(pid, SIGSTOP), 0);
  for (int i = 0; i < 500 && a.closes < 2; i++)
    run_ms(10);
  assert_int_equal(a.closes, 2);
  assert_int_equal(a.close_reason, CPC_ETIMEDOUT);
  assert_int_equal(cpc_net_conn_count(a.net), 0);
  assert_int_equal(kill(pid, SIGKILL), 0);
  assert_int_equal(waitpid(pid, &wstatus, 0), pid);
  host_stop(&a);
}

static void test_secp256k1_and_ipv6(void **state) {
  struct host a, b;
  cpc_net_conn *c;
  cpc_multiaddr ma;
  char text[CPC_MULTIADDR_MAX_TEXT];
  (void)state;
  host_start(&a, "/ip4/127.0.0.1/tcp/0", CPC_KEY_SECP256K1, NULL);
  host_start(&b, NULL, CPC_KEY_SECP256K1, NULL);
  ma = host_addr(&a);
  assert_int_equal(cpc_multiaddr_format(&ma, text, sizeof text, NULL), 0);
  assert_non_null(strstr(text, "/p2p/16Uiu2"));
  c = dial(&b, &ma);
  ping_ok(c);
  check_identify(&b, &a, c);
  host_stop(&b);
  host_stop(&a);

  /* IPv6 loopback, Ed25519 listener, secp256k1 dialer */
  {
    cpc_net_builder *bl;
    cpc_net *probe = NULL;
    int ok;
    assert_int_equal(cpc_net_builder_new(&loop, &bl), 0);
    cpc_net_builder_with_tcp(bl);
    assert_int_equal(cpc_multiaddr_parse(&ma, "/ip6/::1/tcp/0", 14), 0);
    cpc_net_builder_listen(bl, &ma);
    ok = cpc_net_builder_build(bl, &probe) == 0;
    cpc_net_builder_free(bl);
    if (!ok) {
      run_ms(20);
      fprintf(stderr, "# no IPv6 loopback here: skipping the ::1 part\n");
      return;
    }
    int done = 0;
    cpc_net_close(probe, on_closed, &done);
    run_until(&done, 1000);
  }
  host_start(&a, "/ip6/::1/tcp/0", CPC_KEY_ED25519, NULL);
  host_start(&b, NULL, CPC_KEY_SECP256K1, NULL);
  ma = host_addr(&a);
  assert_int_equal(cpc_multiaddr_format(&ma, text, sizeof text, NULL), 0);
  assert_true(strncmp(text, "/ip6/::1/tcp/", 13) == 0);
  c = dial(&b, &ma);
  ping_ok(c);
  run_echo(&b, c, 4, 100000);
  host_stop(&b);
  host_stop(&a);
}

static void test_wrong_peer_and_backoff(void **state) {
  struct host a, b;
  cpc_multiaddr ma, wrong;
  cpc_peer_id other;
  cpc_privkey k;
  struct dial d = {0};
  cpc_net_limits lim;
  (void)state;
  host_start(&a, "/ip4/127.0.0.1/tcp/0", CPC_KEY_ED25519, NULL);
  cpc_net_limits_default(&lim);
  lim.backoff_base_ms = 300;
  host_start(&b, NULL, CPC_KEY_ED25519, &lim);
  ma = host_addr(&a);
  wrong = ma;
  cpc_multiaddr_strip_p2p(&wrong);
  assert_int_equal(cpc_privkey_generate(CPC_KEY_ED25519, &k), 0);
  assert_int_equal(cpc_peer_id_from_pubkey(&k.pub, &other), 0);
  assert_int_equal(cpc_multiaddr_append_p2p(&wrong, other.bytes, other.len), 0);
  assert_int_equal(cpc_net_dial(b.net, &wrong, dial_cb, &d), 0);
  assert_true(run_until(&d.done, 5000));
  assert_int_equal(d.status, CPC_EMISMATCH);
  /* that PeerId is now in backoff */
  assert_int_equal(cpc_net_dial(b.net, &wrong, dial_cb, &d), CPC_EAGAIN);
  run_ms(350);
  d.done = 0;
  assert_int_equal(cpc_net_dial(b.net, &wrong, dial_cb, &d), 0);
  assert_true(run_until(&d.done, 5000));
  assert_int_equal(d.status, CPC_EMISMATCH);
  /* dialing ourselves is refused; so is an unsupported address */
  ma = host_addr(&a);
  assert_int_equal(cpc_net_dial(a.net, &ma, dial_cb, &d), CPC_EINVAL);
  assert_int_equal(cpc_multiaddr_parse(&ma, "/dnsaddr/x.example", 18), 0);
  assert_int_equal(cpc_net_dial(b.net, &ma, dial_cb, &d), CPC_EUNSUPPORTED);
  assert_int_equal(cpc_multiaddr_parse(&ma, "/dns4/x.example/udp/1", 21), 0);
  assert_int_equal(cpc_net_dial(b.net, &ma, dial_cb, &d), CPC_EUNSUPPORTED);
  /* a closed port fails with CPC_EIO */
  {
    uv_tcp_t probe;
    struct sockaddr_in sin;
    int len = sizeof sin;
    uv_tcp_init(&loop, &probe);
    uv_ip4_addr("127.0.0.1", 0, &sin);
    uv_tcp_bind(&probe, (const struct sockaddr *)&sin, 0);
    uv_tcp_getsockname(&probe, (struct sockaddr *)&sin, &len);
    uv_close((uv_handle_t *)&probe, NULL);
    run_ms(10);
    assert_int_equal(cpc_multiaddr_from_ip(&ma, (const uint8_t *)&sin.sin_addr,
                                           4, 0x06, ntohs(sin.sin_port)),
                     0);
    d.done = 0;
    assert_int_equal(cpc_net_dial(b.net, &ma, dial_cb, &d), 0);
    assert_true(run_until(&d.done, 5000));
    assert_int_equal(d.status, CPC_EIO);
  }
  cpc_privkey_wipe(&k);
  host_stop(&b);
  host_stop(&a);
}

/* --- dialing names ----------------------------------------------------------
 */

/* "/<proto>/<name>/tcp/<port of h's first address>[/p2p/<id>]" parsed. */
static cpc_multiaddr name_addr(const struct host *h, const char *proto,
                               const char *name, int with_id) {
  cpc_multiaddr ma = host_addr(h), out;
  cpc_multiaddr_host hp;
  char text[CPC_MULTIADDR_MAX_TEXT], id[128];
  cpc_peer_id pid;
  assert_int_equal(cpc_multiaddr_host_port(&ma, &hp), 0);
  cpc_net_peer_id(h->net, &pid);
  assert_int_equal(cpc_peer_id_format(&pid, id, sizeof id), 0);
  snprintf(text, sizeof text, "/%s/%s/tcp/%u%s%s", proto, name,
           (unsigned)hp.port, with_id ? "/p2p/" : "", with_id ? id : "");
  assert_int_equal(cpc_multiaddr_parse(&out, text, strlen(text)), 0);
  return out;
}

/* 1 if "localhost" resolves to ::1 here (and ::1 can be listened on). */
static int localhost6(void) {
  uv_getaddrinfo_t req;
  struct addrinfo hints, *ai;
  int found = 0;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET6;
  hints.ai_socktype = SOCK_STREAM;
  if (uv_getaddrinfo(&loop, &req, NULL, "localhost", NULL, &hints) != 0)
    return 0;
  for (ai = req.addrinfo; ai; ai = ai->ai_next) {
    const struct sockaddr_in6 *s6 = (const void *)ai->ai_addr;
    if (ai->ai_family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
      found = 1;
  }
  uv_freeaddrinfo(req.addrinfo);
  return found;
}

static void test_dns_dial(void **state) {
  struct host a, b;
  cpc_multiaddr ma;
  cpc_net_conn *c;
  struct dial d = {0};
  (void)state;
  host_start(&a, "/ip4/127.0.0.1/tcp/0", CPC_KEY_ED25519, NULL);
  host_start(&b, NULL, CPC_KEY_ED25519, NULL);
  /* dns4 with the PeerId checked, then dns without it */
  ma = name_addr(&a, "dns4", "localhost", 1);
  c = dial(&b, &ma);
  ping_ok(c);
  check_identify(&b, &a, c);
  ma = name_addr(&a, "dns", "localhost", 0);
  c = dial(&b, &ma);
  ping_ok(c);
  run_echo(&b, c, 2, 100000);
  /* a name that does not exist: CPC_ENOENT (CPC_EIO where no DNS server
   * answers at all) */
  assert_int_equal(
      cpc_multiaddr_parse(&ma, "/dns4/nonexistent.invalid/tcp/1", 31), 0);
  assert_int_equal(cpc_net_dial(b.net, &ma, dial_cb, &d), 0);
  assert_true(run_until(&d.done, 15000));
  fprintf(stderr, "# /dns4/nonexistent.invalid: %s\n", cpc_strerror(d.status));
  assert_true(d.status == CPC_ENOENT || d.status == CPC_EIO);
  assert_null(d.conn);
  /* a resolvable name on a closed port: refused */
  memset(&d, 0, sizeof d);
  assert_int_equal(cpc_multiaddr_parse(&ma, "/dns4/localhost/tcp/1", 21), 0);
  assert_int_equal(cpc_net_dial(b.net, &ma, dial_cb, &d), 0);
  assert_true(run_until(&d.done, 5000));
  assert_int_equal(d.status, CPC_EIO);
  /* a lookup still under way when the host closes: the dial ends with an
   * error and nothing leaks */
  memset(&d, 0, sizeof d);
  assert_int_equal(cpc_multiaddr_parse(&ma, "/dns/localhost/tcp/2", 20), 0);
  assert_int_equal(cpc_net_dial(b.net, &ma, dial_cb, &d), 0);
  host_stop(&b);
  assert_true(d.done);
  assert_true(d.status != 0);
  host_stop(&a);

  /* dns6 looks up IPv6 addresses only: an IPv4 literal has none */
  host_start(&b, NULL, CPC_KEY_ED25519, NULL);
  memset(&d, 0, sizeof d);
  assert_int_equal(cpc_multiaddr_parse(&ma, "/dns6/127.0.0.1/tcp/1", 21), 0);
  assert_int_equal(cpc_net_dial(b.net, &ma, dial_cb, &d), 0);
  assert_true(run_until(&d.done, 5000));
  assert_int_equal(d.status, CPC_ENOENT);
  host_stop(&b);
  {
    cpc_net_builder *bl;
    cpc_net *probe = NULL;
    int ok, done = 0;
    assert_int_equal(cpc_net_builder_new(&loop, &bl), 0);
    cpc_net_builder_with_tcp(bl);
    assert_int_equal(cpc_multiaddr_parse(&ma, "/ip6/::1/tcp/0", 14), 0);
    cpc_net_builder_listen(bl, &ma);
    ok = cpc_net_builder_build(bl, &probe) == 0;
    cpc_net_builder_free(bl);
    if (!ok) {
      run_ms(20);
      fprintf(stderr, "# no IPv6 loopback here: skipping /dns6\n");
      return;
    }
    cpc_net_close(probe, on_closed, &done);
    run_until(&done, 1000);
  }
  host_start(&a, "/ip6/::1/tcp/0", CPC_KEY_ED25519, NULL);
  host_start(&b, NULL, CPC_KEY_ED25519, NULL);
  /* localhost if it has ::1 here, else the literal (still looked up) */
  if (!localhost6())
    fprintf(stderr, "# localhost has no ::1 here: /dns6/::1 instead\n");
  ma = name_addr(&a, "dns6", localhost6() ? "localhost" : "::1", 1);
  c = dial(&b, &ma);
  ping_ok(c);
  host_stop(&b);
  host_stop(&a);
}

/* --- raw sockets: garbage, slow-loris ------------------------------------- */

struct raw {
  uv_tcp_t tcp;
  uv_connect_t conn;
  uv_write_t w;
  int connected, eof;
  char rbuf[4096];
};

static void raw_alloc(uv_handle_t *h, size_t n, uv_buf_t *b) {
  struct raw *r = h->data;
  (void)n;
  *b = uv_buf_init(r->rbuf, sizeof r->rbuf);
}

static void raw_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  struct raw *r = st->data;
  (void)b;
  if (n < 0)
    r->eof = 1;
}

static void raw_connected(uv_connect_t *req, int status) {
  struct raw *r = req->data;
  assert_int_equal(status, 0);
  r->connected = 1;
  uv_read_start((uv_stream_t *)&r->tcp, raw_alloc, raw_read);
}

static void raw_connect(struct raw *r, const cpc_multiaddr *ma) {
  cpc_multiaddr_host h;
  struct sockaddr_in sin;
  memset(r, 0, sizeof *r);
  assert_int_equal(cpc_multiaddr_host_port(ma, &h), 0);
  uv_ip4_addr("127.0.0.1", h.port, &sin);
  uv_tcp_init(&loop, &r->tcp);
  r->tcp.data = r;
  r->conn.data = r;
  uv_tcp_connect(&r->conn, &r->tcp, (const struct sockaddr *)&sin,
                 raw_connected);
  assert_true(run_until(&r->connected, 2000));
}

static void raw_send(struct raw *r, const void *d, size_t n) {
  uv_buf_t b = uv_buf_init((char *)(uintptr_t)d, (unsigned)n);
  assert_int_equal(uv_try_write((uv_stream_t *)&r->tcp, &b, 1), (int)n);
}

static void raw_close(struct raw *r) {
  uv_close((uv_handle_t *)&r->tcp, NULL);
  run_ms(10);
}

static void test_bad_input(void **state) {
  struct host a, b;
  cpc_net_limits lim;
  cpc_multiaddr ma;
  struct raw r;
  uint8_t junk[70000];
  (void)state;
  cpc_net_limits_default(&lim);
  lim.handshake_timeout_ms = 400;
  host_start(&a, "/ip4/127.0.0.1/tcp/0", CPC_KEY_ED25519, &lim);
  ma = host_addr(&a);

  /* garbage instead of multistream */
  raw_connect(&r, &ma);
  randombytes_buf(junk, sizeof junk);
  junk[0] = 0x7f;
  raw_send(&r, junk, 1000);
  assert_true(run_until(&r.eof, 2000));
  raw_close(&r);

  /* a proper header and /noise, then a Noise frame claiming 65535 bytes
   * and never finishing it: the handshake timeout cuts it */
  raw_connect(&r, &ma);
  {
    static const char hello[] = "\x13/multistream/1.0.0\n\x07/noise\n";
    raw_send(&r, hello, sizeof hello - 1);
    raw_send(&r, "\xff\xff\x01\x02", 4);
  }
  assert_true(run_until(&r.eof, 2000));
  raw_close(&r);

  /* slow-loris: one byte at a time, never done */
  raw_connect(&r, &ma);
  for (int i = 0; i < 100 && !r.eof; i++) {
    raw_send(&r, "\x13", 1);
    run_ms(10);
  }
  assert_true(run_until(&r.eof, 2000));
  raw_close(&r);

  /* an oversized multistream length */
  raw_connect(&r, &ma);
  raw_send(&r, "\xff\xff\x03", 3);
  assert_true(run_until(&r.eof, 2000));
  raw_close(&r);

  /* more bytes than max_preupgrade_bytes before the upgrade completes */
  raw_connect(&r, &ma);
  {
    static const char hello[] = "\x13/multistream/1.0.0\n\x07/noise\n";
    raw_send(&r, hello, sizeof hello - 1);
    for (int i = 0; i < 5 && !r.eof; i++) {
      uv_buf_t bf = uv_buf_init((char *)junk, sizeof junk);
      junk[0] = 0xff;
      junk[1] = 0xfe;
      (void)uv_try_write((uv_stream_t *)&r.tcp, &bf, 1);
      run_ms(5);
    }
  }
  assert_true(run_until(&r.eof, 2000));
  raw_close(&r);

  run_ms(50);
  assert_int_equal(cpc_net_conn_count(a.net), 0);
  /* still healthy */
  host_start(&b, NULL, CPC_KEY_ED25519, NULL);
  ping_ok(dial(&b, &ma));
  host_stop(&b);
  host_stop(&a);
}

static void test_limits(void **state) {
  struct host a, b, d, e;
  cpc_net_conn *c;
  cpc_net_stream *busy;
  cpc_net_limits lim;
  cpc_multiaddr ma;
  struct dial dd = {0};
  (void)state;
  cpc_net_limits_default(&lim);
  lim.max_connections = 1;
  lim.idle_timeout_ms = 300;
  host_start(&a, "/ip4/127.0.0.1/tcp/0", CPC_KEY_ED25519, &lim);
  host_start(&b, NULL, CPC_KEY_ED25519, NULL);
  host_start(&d, NULL, CPC_KEY_ED25519, NULL);
  host_start(&e, NULL, CPC_KEY_ED25519, NULL);
  ma = host_addr(&a);
  c = dial(&b, &ma);
  /* while the first connection carries a stream, a second one is over a's
   * limit: refused */
  assert_int_equal(
      cpc_net_stream_open(c, CPC_NET_ECHO_PROTOCOL, NULL, NULL, &busy), 0);
  assert_int_equal(cpc_net_stream_write(busy, "x", 1), 0);
  run_ms(100);
  assert_int_equal(cpc_net_dial(d.net, &ma, dial_cb, &dd), 0);
  assert_true(run_until(&dd.done, 5000));
  assert_true(dd.status != 0);
  /* once it carries none, a closes it to make room for a newcomer */
  cpc_net_stream_reset(busy);
  run_ms(100);
  memset(&dd, 0, sizeof dd);
  assert_int_equal(cpc_net_dial(e.net, &ma, dial_cb, &dd), 0);
  assert_true(run_until(&dd.done, 5000));
  assert_int_equal(dd.status, 0);
  assert_true(run_until(&b.closes, 3000));
  /* without streams the new one goes idle and a closes it */
  assert_true(run_until(&e.closes, 3000));
  assert_int_equal(cpc_net_conn_count(a.net), 0);
  host_stop(&e);
  host_stop(&d);
  host_stop(&b);
  host_stop(&a);
}

/* --- identify codec ------------------------------------------------------ */

static void test_identify_codec(void **state) {
  cpc_identify_msg m, *back = NULL;
  cpc_privkey k;
  cpc_multiaddr addrs[2];
  char *protos[] = {"/ipfs/id/1.0.0", "/ipfs/ping/1.0.0"};
  uint8_t *enc = NULL, framed[4096];
  size_t len = 0, w = 0;
  (void)state;
  memset(&m, 0, sizeof m);
  assert_int_equal(cpc_privkey_generate(CPC_KEY_SECP256K1, &k), 0);
  m.protocol_version = "ipfs/0.1.0";
  m.agent_version = "agent";
  m.has_public_key = 1;
  m.public_key = k.pub;
  assert_int_equal(cpc_multiaddr_parse(&addrs[0], "/ip4/1.2.3.4/tcp/5", 18), 0);
  assert_int_equal(cpc_multiaddr_parse(&addrs[1], "/ip6/::1/tcp/6", 14), 0);
  m.listen_addrs = addrs;
  m.n_listen_addrs = 2;
  m.has_observed_addr = 1;
  m.observed_addr = addrs[0];
  m.protocols = protos;
  m.n_protocols = 2;
  assert_int_equal(cpc_identify_encode(&m, &enc, &len), 0);
  assert_int_equal(cpc_identify_decode(enc, len, &back), 0);
  assert_string_equal(back->agent_version, "agent");
  assert_string_equal(back->protocol_version, "ipfs/0.1.0");
  assert_true(cpc_pubkey_equal(&back->public_key, &k.pub));
  assert_int_equal(back->n_listen_addrs, 2);
  assert_true(cpc_multiaddr_equal(&back->listen_addrs[1], &addrs[1]));
  assert_true(back->has_observed_addr);
  assert_int_equal(back->n_protocols, 2);
  assert_string_equal(back->protocols[1], "/ipfs/ping/1.0.0");
  cpc_identify_msg_free(back);
  /* two length-prefixed messages merge; a truncated one fails */
  assert_true(len * 2 + 8 < sizeof framed);
  assert_int_equal(cpc_varint_encode(len, framed, 9, &w), 0);
  memcpy(framed + w, enc, len);
  memcpy(framed + w + len, framed, w + len);
  assert_int_equal(cpc_identify_decode_stream(framed, 2 * (w + len), &back), 0);
  assert_int_equal(back->n_protocols, 2);
  cpc_identify_msg_free(back);
  assert_int_equal(cpc_identify_decode_stream(framed, w + len - 1, &back),
                   CPC_ETRUNC);
  assert_int_equal(cpc_identify_decode_stream(framed, 0, &back), CPC_ETRUNC);
  /* control characters in a string are refused */
  m.agent_version = "bad\nagent";
  free(enc);
  assert_int_equal(cpc_identify_encode(&m, &enc, &len), 0);
  assert_int_equal(cpc_identify_decode(enc, len, &back), CPC_EMALFORMED);
  free(enc);
  /* a protobuf that is not one */
  assert_int_equal(cpc_identify_decode((const uint8_t *)"\xff\xff", 2, &back),
                   CPC_EMALFORMED);
  cpc_privkey_wipe(&k);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_identify_codec),
      cmocka_unit_test(test_builder),
      cmocka_unit_test(test_dial_ping_identify),
      cmocka_unit_test(test_identify_push),
      cmocka_unit_test(test_half_close),
      cmocka_unit_test(test_reset),
      cmocka_unit_test(test_echo_100_streams),
      cmocka_unit_test(test_host_socket_output_budget),
      cmocka_unit_test(test_peer_dies_mid_stream),
      cmocka_unit_test(test_peer_killed_mid_stream),
      cmocka_unit_test(test_keepalive),
      cmocka_unit_test(test_secp256k1_and_ipv6),
      cmocka_unit_test(test_wrong_peer_and_backoff),
      cmocka_unit_test(test_dns_dial),
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_bandwidth_caps),
  };
  (void)closed_flag;
  return cmocka_run_group_tests(tests, setup, teardown);
}
