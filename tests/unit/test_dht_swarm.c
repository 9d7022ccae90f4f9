/*
 * test_dht_swarm.c: 200 C hosts running the DHT (cpc/dht.h) in one process
 * on one uv loop over 127.0.0.1, all joined through host 0. 20 random hosts
 * each provide a record; every record is looked up from every other host
 * (GET_PROVIDERS until the provider is found), with the mean and maximum
 * hops printed and the mean held to log2(N) + 2; then a quarter of the
 * hosts leave and every lookup from the remaining hosts still succeeds.
 *
 * Sizes: CPC_DHT_SWARM_PEERS (default 200; 50 under AddressSanitizer,
 * which is several times slower) and CPC_DHT_SWARM_RECORDS (default 20).
 * The open-file limit is raised to its hard limit; every connection over
 * loopback costs two descriptors (one per host), so each host may hold at
 * most (limit - 1000) / peers connections, and idle ones close after 3 s.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dht_swarm_support.h"

#if defined(__SANITIZE_ADDRESS__)
#define SWARM_PEERS 50
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SWARM_PEERS 50
#endif
#endif
#ifndef SWARM_PEERS
#define SWARM_PEERS 200
#endif

static unsigned env_uint(const char *name, unsigned def) {
  const char *v = getenv(name);
  return v && *v ? (unsigned)strtoul(v, NULL, 10) : def;
}

static int setup(void **state) {
  (void)state;
  swarm_loop_start();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  swarm_loop_end();
  return 0;
}

struct record {
  unsigned provider;
  uint8_t mh[CPC_MH_MAX_LEN];
  size_t mh_len;
};

/* Every alive host but the provider looks up every record. */
static size_t lookups(swarm *s, const struct record *rec, unsigned n_rec,
                      swarm_job *jobs) {
  size_t n = 0;
  for (unsigned r = 0; r < n_rec; r++)
    for (unsigned i = 0; i < s->count; i++) {
      if (!s->n[i].alive || i == rec[r].provider)
        continue;
      memset(&jobs[n], 0, sizeof jobs[n]);
      jobs[n].kind = JOB_FIND_PROVIDERS;
      jobs[n].node = i;
      jobs[n].mh = rec[r].mh;
      jobs[n].mh_len = rec[r].mh_len;
      jobs[n].expect = &s->n[rec[r].provider].id;
      n++;
    }
  swarm_run_jobs(s, jobs, n, 64, 60000);
  if (getenv("CPC_DHT_SWARM_DEBUG"))
    for (size_t i = 0; i < n; i++)
      if (!jobs[i].found) {
        size_t holders = 0;
        for (unsigned h = 0; h < s->count; h++) {
          cpc_kad_peer pp[4];
          size_t got = 0;
          if (s->n[h].alive &&
              cpc_kad_get_local_providers(swarm_kad(s, h), jobs[i].mh,
                                          jobs[i].mh_len, cpc_dht_now_ms(), pp,
                                          4, &got) == 0 &&
              got > 0)
            holders++;
          for (size_t k = 0; k < got; k++)
            cpc_kad_peer_clear(&pp[k]);
        }
        print_message("miss: node %u rc %d hops %u queried %zu table %zu "
                      "holders %zu\n",
                      jobs[i].node, jobs[i].rc, jobs[i].hops, jobs[i].queried,
                      cpc_kad_table_size(swarm_kad(s, jobs[i].node)), holders);
      }
  return n;
}

static void report(const char *what, unsigned peers, const swarm_job *jobs,
                   size_t n, uint64_t ms) {
  swarm_summary sum = swarm_summarise(jobs, n);
  size_t queried = 0;
  for (size_t i = 0; i < n; i++)
    queried += jobs[i].queried;
  print_message("%s: %u peers, %zu/%zu lookups found the provider, hops mean "
                "%.2f max %u, %.1f requests per lookup, %llu ms\n",
                what, peers, sum.found, sum.n, sum.mean_hops, sum.max_hops,
                n ? (double)queried / (double)n : 0.0, (unsigned long long)ms);
  assert_int_equal(sum.found, n);
  assert_true(sum.mean_hops <= log2((double)peers) + 2.0);
}

/* Connections open over all hosts (each end counts), and descriptors the
 * process holds. */
static void connections(const swarm *s, const char *when, rlim_t nofile) {
  size_t conns = 0, fds = 0;
  uv_fs_t req;
  uv_dirent_t ent;
  for (unsigned i = 0; i < s->count; i++)
    if (s->n[i].alive)
      conns += cpc_net_conn_count(s->n[i].net);
  if (uv_fs_scandir(&swarm_loop, &req, "/proc/self/fd", 0, NULL) >= 0) {
    while (uv_fs_scandir_next(&req, &ent) != UV_EOF)
      fds++;
    uv_fs_req_cleanup(&req);
  }
  print_message("swarm %s: %zu connection ends open, %zu descriptors (limit "
                "%llu)\n",
                when, conns, fds, (unsigned long long)nofile);
  assert_true(fds < (size_t)nofile);
}

static void test_swarm(void **state) {
  static swarm s;
  swarm_opts o = {
      .idle_timeout_ms = 3000,
      .request_timeout_ms = 3000,
  };
  unsigned peers = env_uint("CPC_DHT_SWARM_PEERS", SWARM_PEERS);
  unsigned n_rec = env_uint("CPC_DHT_SWARM_RECORDS", 20);
  struct record *rec;
  swarm_job *jobs;
  size_t n;
  uint64_t t0;
  rlim_t nofile = swarm_raise_nofile();
  (void)state;

  if (peers < 8)
    peers = 8;
  if (n_rec < 1)
    n_rec = 1;
  if (n_rec > peers / 2)
    n_rec = peers / 2;
  /* Each connection end is a descriptor of this process: share what the
   * limit allows (less a reserve for listeners and the rest) between the
   * hosts. Idle connections close after 3 s, so the cap is rarely met. */
  o.max_connections = nofile > 1000 ? (size_t)(nofile - 1000) / peers : 16;
  if (o.max_connections > 1024)
    o.max_connections = 1024;
  assert_true(o.max_connections >= 16);
  print_message("swarm: %u peers, %u records, RLIMIT_NOFILE %llu, at most %zu "
                "connections per host\n",
                peers, n_rec, (unsigned long long)nofile, o.max_connections);
  rec = calloc(n_rec, sizeof *rec);
  jobs = calloc((size_t)n_rec * peers, sizeof *jobs);
  assert_non_null(rec);
  assert_non_null(jobs);

  t0 = uv_hrtime();
  swarm_init(&s, peers, &o, 10);
  print_message("swarm: joined in %llu ms\n",
                (unsigned long long)((uv_hrtime() - t0) / 1000000u));

  /* n_rec distinct random providers */
  for (unsigned r = 0; r < n_rec; r++) {
    unsigned p;
    int dup;
    do {
      p = 1 + randombytes_uniform(peers - 1);
      dup = 0;
      for (unsigned q = 0; q < r; q++)
        dup |= rec[q].provider == p;
    } while (dup);
    rec[r].provider = p;
    rec[r].mh_len = swarm_random_mh(rec[r].mh);
    memset(&jobs[r], 0, sizeof jobs[r]);
    jobs[r].kind = JOB_PROVIDE;
    jobs[r].node = p;
    jobs[r].mh = rec[r].mh;
    jobs[r].mh_len = rec[r].mh_len;
  }
  swarm_run_jobs(&s, jobs, n_rec, n_rec, 30000);
  for (unsigned r = 0; r < n_rec; r++) {
    assert_int_equal(jobs[r].rc, 0);
    assert_true(jobs[r].stored >= CPC_KAD_K / 2);
  }

  t0 = uv_hrtime();
  n = lookups(&s, rec, n_rec, jobs);
  report("all peers", peers, jobs, n, (uv_hrtime() - t0) / 1000000u);
  connections(&s, "after the lookups", nofile);

  /* A quarter leaves: every fourth host, the bootstrap host 0 included
   * (providers stay: their records must still be found). */
  for (unsigned pass = 0, gone = 0; pass < 4 && gone < peers / 4; pass++)
    for (unsigned i = 0; i < peers && gone < peers / 4; i++) {
      int prov = 0;
      for (unsigned r = 0; r < n_rec; r++)
        prov |= rec[r].provider == i;
      if (!prov && s.n[i].alive && i % 4 == pass) {
        swarm_kill(&s, i);
        gone++;
      }
    }
  t0 = uv_hrtime();
  n = lookups(&s, rec, n_rec, jobs);
  report("after a quarter left", peers - peers / 4, jobs, n,
         (uv_hrtime() - t0) / 1000000u);

  swarm_free(&s);
  free(jobs);
  free(rec);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_swarm),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
