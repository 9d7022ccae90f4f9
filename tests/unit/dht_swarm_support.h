/*
 * dht_swarm_support.h: a swarm of C hosts running the Kademlia DHT
 * (cpc/dht.h) on one uv loop over 127.0.0.1, for test_dht_net.c and
 * test_dht_swarm.c. Include after <cmocka.h>. Everything is static: each
 * test binary gets its own copy.
 *
 *   swarm_init(&s, N, &opts);      host 0 first, the others bootstrap from it
 *   swarm_provide(&s, ...), swarm_run_jobs(&s, jobs, n, window, ms)
 *   swarm_kill(&s, i)              close one host (it leaves the network)
 *   swarm_free(&s)
 */
#ifndef CPC_DHT_SWARM_SUPPORT_H
#define CPC_DHT_SWARM_SUPPORT_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <sodium.h>
#include <uv.h>

#include "cpc/dht.h"
#include "cpc/error.h"
#include "cpc/multihash.h"
#include "cpc/net.h"

static uv_loop_t swarm_loop;
static uv_timer_t swarm_keepalive;

static inline void swarm_keepalive_cb(uv_timer_t *t) {
  (void)t;
}

/* Run the loop until *flag is set or ms pass; returns *flag. */
static inline int swarm_run_until(const int *flag, uint64_t ms) {
  uint64_t end;
  uv_update_time(&swarm_loop);
  end = uv_now(&swarm_loop) + ms;
  while (!*flag && uv_now(&swarm_loop) < end)
    uv_run(&swarm_loop, UV_RUN_ONCE);
  return *flag;
}

static inline void swarm_run_ms(uint64_t ms) {
  int never = 0;
  (void)swarm_run_until(&never, ms);
}

/* Raise the open-file limit to the hard limit (a host pair over loopback
 * holds two descriptors per connection). Returns the new soft limit. */
static inline rlim_t swarm_raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
    (void)getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

static inline void swarm_loop_start(void) {
  assert_true(sodium_init() >= 0);
  signal(SIGPIPE, SIG_IGN);
  assert_int_equal(uv_loop_init(&swarm_loop), 0);
  uv_timer_init(&swarm_loop, &swarm_keepalive);
  uv_timer_start(&swarm_keepalive, swarm_keepalive_cb, 20, 20);
}

struct swarm;
static struct swarm *swarm_current; /* for a teardown after a failed test */
static inline void swarm_abandon(struct swarm *s);

static inline void swarm_loop_end(void) {
  if (swarm_current)
    swarm_abandon(swarm_current);
  uv_close((uv_handle_t *)&swarm_keepalive, NULL);
  uv_run(&swarm_loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&swarm_loop), 0);
}

typedef struct swarm_node {
  cpc_net *net;
  cpc_dht *dht;
  cpc_peer_id id;
  cpc_multiaddr addr; /* /ip4/127.0.0.1/tcp/P/p2p/<id> */
  int alive, joined, join_rc, closed;
} swarm_node;

typedef struct swarm_opts {
  size_t max_connections;
  uint64_t idle_timeout_ms;
  uint64_t request_timeout_ms;
  int client_every; /* every n-th host (n > 0) runs in client mode */
} swarm_opts;

typedef struct swarm {
  swarm_node *n;
  unsigned count;
  swarm_opts o;
} swarm;

static inline cpc_kad *swarm_kad(swarm *s, unsigned i) {
  return cpc_dht_kad(s->n[i].dht);
}

static inline void swarm_joined_cb(cpc_dht *d, int rc, void *ud) {
  swarm_node *n = ud;
  (void)d;
  n->joined = 1;
  n->join_rc = rc;
}

static inline int swarm_is_client(const swarm *s, unsigned i) {
  return i > 0 && s->o.client_every > 0 && i % (unsigned)s->o.client_every == 0;
}

/* Build host i (bootstrapping from host 0 unless it is host 0). */
static inline void swarm_start_node(swarm *s, unsigned i) {
  swarm_node *n = &s->n[i];
  cpc_net_builder *b;
  cpc_net_limits lim;
  cpc_kad_config cfg;
  cpc_multiaddr ma, out[2];
  size_t got = 0;
  static const char listen[] = "/ip4/127.0.0.1/tcp/0";

  memset(n, 0, sizeof *n);
  assert_int_equal(cpc_net_builder_new(&swarm_loop, &b), 0);
  assert_int_equal(cpc_net_builder_with_tcp(b), 0);
  assert_int_equal(cpc_multiaddr_parse(&ma, listen, strlen(listen)), 0);
  assert_int_equal(cpc_net_builder_listen(b, &ma), 0);
  cpc_net_limits_default(&lim);
  if (s->o.max_connections)
    lim.max_connections = s->o.max_connections;
  lim.idle_timeout_ms = s->o.idle_timeout_ms;
  lim.backoff_base_ms = 200;
  lim.backoff_max_ms = 2000;
  assert_int_equal(cpc_net_builder_limits(b, &lim), 0);
  cpc_kad_config_default(&cfg);
  if (s->o.request_timeout_ms)
    cfg.request_timeout_ms = s->o.request_timeout_ms;
  cfg.rng_seed = 0x5eed0000u + i;
  assert_int_equal(cpc_net_builder_kademlia_config(b, &cfg), 0);
  assert_int_equal(
      cpc_net_builder_with_kademlia(
          b, swarm_is_client(s, i) ? CPC_NET_KAD_CLIENT : CPC_NET_KAD_SERVER,
          i == 0 ? NULL : &s->n[0].addr, i == 0 ? 0 : 1),
      0);
  assert_int_equal(cpc_net_builder_build(b, &n->net), 0);
  cpc_net_builder_free(b);
  n->dht = cpc_net_dht(n->net);
  assert_non_null(n->dht);
  cpc_net_peer_id(n->net, &n->id);
  assert_int_equal(cpc_net_listen_addrs(n->net, out, 2, &got), 0);
  assert_int_equal(got, 1);
  n->addr = out[0];
  n->alive = 1;
  assert_int_equal(cpc_dht_on_joined(n->dht, swarm_joined_cb, n), 0);
}

/* Start count hosts; each joins before the next starts (in groups of
 * `group`, so a large swarm builds up quickly). */
static inline void swarm_init(swarm *s, unsigned count, const swarm_opts *o,
                              unsigned group) {
  memset(s, 0, sizeof *s);
  s->o = *o;
  s->count = count;
  s->n = calloc(count, sizeof *s->n);
  assert_non_null(s->n);
  swarm_current = s;
  swarm_start_node(s, 0);
  assert_true(swarm_run_until(&s->n[0].joined, 5000));
  for (unsigned i = 1; i < count; i += group) {
    unsigned end = i + group < count ? i + group : count;
    for (unsigned j = i; j < end; j++)
      swarm_start_node(s, j);
    for (unsigned j = i; j < end; j++) {
      assert_true(swarm_run_until(&s->n[j].joined, 20000));
      assert_int_equal(s->n[j].join_rc, 0);
    }
    if (getenv("CPC_DHT_SWARM_DEBUG"))
      fprintf(stderr, "joined up to %u at %llu\n", end,
              (unsigned long long)uv_now(&swarm_loop));
  }
}

static inline void swarm_closed_cb(void *ud) {
  ((swarm_node *)ud)->closed = 1;
}

/* Close host i; it is gone (its addresses refuse) at once. */
static inline void swarm_kill(swarm *s, unsigned i) {
  swarm_node *n = &s->n[i];
  if (!n->alive)
    return;
  n->alive = 0;
  cpc_net_close(n->net, swarm_closed_cb, n);
}

static inline void swarm_free(swarm *s) {
  for (unsigned i = 0; i < s->count; i++)
    swarm_kill(s, i);
  for (unsigned i = 0; i < s->count; i++)
    assert_true(swarm_run_until(&s->n[i].closed, 10000));
  free(s->n);
  memset(s, 0, sizeof *s);
  swarm_current = NULL;
}

/* A test failed half way: close whatever is left (no assertions). */
static inline void swarm_abandon(struct swarm *s) {
  for (unsigned i = 0; s->n && i < s->count; i++) {
    if (s->n[i].net && !s->n[i].alive && !s->n[i].closed)
      continue; /* closing already */
    swarm_kill(s, i);
  }
  for (unsigned i = 0; s->n && i < s->count; i++)
    if (s->n[i].net)
      (void)swarm_run_until(&s->n[i].closed, 10000);
  free(s->n);
  memset(s, 0, sizeof *s);
  swarm_current = NULL;
}

/* A random sha2-256 multihash (what js peers accept as provider keys). */
static inline size_t swarm_random_mh(uint8_t out[CPC_MH_MAX_LEN]) {
  uint8_t data[32];
  cpc_multihash mh;
  size_t len = 0;
  randombytes_buf(data, sizeof data);
  assert_int_equal(
      cpc_multihash_compute(CPC_MH_SHA2_256, data, sizeof data, &mh), 0);
  assert_int_equal(cpc_multihash_encode(&mh, out, CPC_MH_MAX_LEN, &len), 0);
  return len;
}

/* --- lookups as jobs -------------------------------------------------------
 */

enum swarm_job_kind { JOB_PROVIDE, JOB_FIND_PROVIDERS, JOB_FIND_PEER };

typedef struct swarm_job {
  enum swarm_job_kind kind;
  unsigned node; /* who asks */
  const uint8_t *mh;
  size_t mh_len;
  const cpc_peer_id *expect; /* the provider or peer to find */
  /* results */
  int started, done, rc, found;
  size_t stored;
  unsigned hops;
  size_t queried;
} swarm_job;

typedef struct swarm_jobs_ctx {
  size_t in_flight;
} swarm_jobs_ctx;

static swarm_jobs_ctx swarm_jobs;

static inline void swarm_job_done(void *arg, const cpc_kad_result *res) {
  swarm_job *j = arg;
  j->done = 1;
  j->rc = res->rc;
  j->hops = res->stats.hops;
  j->queried = res->stats.queried;
  j->stored = res->stored;
  if (j->kind == JOB_FIND_PROVIDERS && j->expect)
    for (size_t i = 0; i < res->n_providers; i++)
      if (cpc_peer_id_equal(&res->providers[i].id, j->expect))
        j->found = 1;
  if (j->kind == JOB_FIND_PEER && res->found && j->expect)
    j->found = cpc_peer_id_equal(&res->found->id, j->expect) &&
               res->found->n_addrs > 0;
  if (j->kind == JOB_PROVIDE)
    j->found = res->stored > 0;
  swarm_jobs.in_flight--;
}

static inline void swarm_job_start(swarm *s, swarm_job *j) {
  cpc_kad *kad = swarm_kad(s, j->node);
  uint64_t now = cpc_dht_now_ms();
  int rc;
  j->started = 1;
  swarm_jobs.in_flight++;
  switch (j->kind) {
  case JOB_PROVIDE:
    rc = cpc_kad_provide(kad, j->mh, j->mh_len, now, swarm_job_done, j, NULL);
    break;
  case JOB_FIND_PROVIDERS:
    rc = cpc_kad_find_providers(kad, j->mh, j->mh_len, 1, now, swarm_job_done,
                                j, NULL);
    break;
  default:
    rc = cpc_kad_find_peer(kad, j->expect, now, swarm_job_done, j, NULL);
    break;
  }
  if (rc != 0 && !j->done) {
    j->done = 1;
    j->rc = rc;
    swarm_jobs.in_flight--;
  }
}

/* Run jobs[0..n) with at most `window` at once; returns when all are done
 * or ms pass (then the test fails). */
static inline void swarm_run_jobs(swarm *s, swarm_job *jobs, size_t n,
                                  size_t window, uint64_t ms) {
  size_t next = 0, done = 0;
  uint64_t end;
  uv_update_time(&swarm_loop);
  end = uv_now(&swarm_loop) + ms;
  swarm_jobs.in_flight = 0;
  while (done < n) {
    while (next < n && swarm_jobs.in_flight < window)
      swarm_job_start(s, &jobs[next++]);
    uv_run(&swarm_loop, UV_RUN_ONCE);
    done = 0;
    for (size_t i = 0; i < next; i++)
      done += jobs[i].done != 0;
    if (uv_now(&swarm_loop) > end) {
      fprintf(stderr, "swarm: %zu of %zu jobs done after %llu ms\n", done, n,
              (unsigned long long)ms);
      fail();
    }
  }
}

/* Summary of finished jobs: how many found what they looked for, mean and
 * max hops over those. */
typedef struct swarm_summary {
  size_t n, found;
  double mean_hops;
  unsigned max_hops;
} swarm_summary;

static inline swarm_summary swarm_summarise(const swarm_job *jobs, size_t n) {
  swarm_summary r = {0};
  double sum = 0;
  r.n = n;
  for (size_t i = 0; i < n; i++) {
    if (!jobs[i].found)
      continue;
    r.found++;
    sum += jobs[i].hops;
    if (jobs[i].hops > r.max_hops)
      r.max_hops = jobs[i].hops;
  }
  r.mean_hops = r.found ? sum / (double)r.found : 0;
  return r;
}

#endif /* CPC_DHT_SWARM_SUPPORT_H */
