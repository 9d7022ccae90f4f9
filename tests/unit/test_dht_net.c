/*
 * test_dht_net.c: the DHT service of the host (cpc/dht.h, lib/kad/kad_net.c)
 * with 20 C hosts on one uv loop over 127.0.0.1: joining through one host,
 * providers announced by several and found from every other host,
 * FIND_NODE, client-mode hosts kept out of routing tables, a quarter of the
 * hosts closed and lookups still succeeding, and the inbound handler
 * refusing oversized and malformed requests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpc/varint.h"
#include "dht_swarm_support.h"

#define N 20
#define N_PROVIDERS 5

static const swarm_opts opts = {
    .max_connections = 256,
    .idle_timeout_ms = 60000,
    .request_timeout_ms = 3000,
    .client_every = 7, /* hosts 7 and 14 are clients */
};

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

static int is_provider(unsigned i) {
  return i % 4 == 1; /* 1, 5, 9, 13, 17 */
}

/* Every host (alive, not a provider) looks up every record. */
static size_t find_all(swarm *s, uint8_t mh[][CPC_MH_MAX_LEN],
                       const size_t *mh_len, const unsigned *prov,
                       swarm_job *jobs) {
  size_t n = 0;
  for (unsigned r = 0; r < N_PROVIDERS; r++)
    for (unsigned i = 0; i < N; i++) {
      if (!s->n[i].alive || i == prov[r])
        continue;
      memset(&jobs[n], 0, sizeof jobs[n]);
      jobs[n].kind = JOB_FIND_PROVIDERS;
      jobs[n].node = i;
      jobs[n].mh = mh[r];
      jobs[n].mh_len = mh_len[r];
      jobs[n].expect = &s->n[prov[r]].id;
      n++;
    }
  swarm_run_jobs(s, jobs, n, 32, 30000);
  return n;
}

static size_t find_peers(swarm *s, swarm_job *jobs) {
  size_t n = 0;
  for (unsigned i = 0; i < N; i++) {
    unsigned t = (i * 7 + 3) % N;
    if (!s->n[i].alive || t == i || !s->n[t].alive || swarm_is_client(s, t))
      continue;
    memset(&jobs[n], 0, sizeof jobs[n]);
    jobs[n].kind = JOB_FIND_PEER;
    jobs[n].node = i;
    jobs[n].expect = &s->n[t].id;
    n++;
  }
  swarm_run_jobs(s, jobs, n, 32, 30000);
  return n;
}

static void test_swarm_of_20(void **state) {
  static swarm s;
  static swarm_job jobs[N * N_PROVIDERS];
  uint8_t mh[N_PROVIDERS][CPC_MH_MAX_LEN];
  size_t mh_len[N_PROVIDERS], n;
  unsigned prov[N_PROVIDERS], np = 0;
  swarm_summary sum;
  cpc_dht_stats st;
  (void)state;

  swarm_init(&s, N, &opts, 1);
  /* Every server sits in host 0's table (identify told it); clients in
   * nobody's. */
  swarm_run_ms(200);
  for (unsigned i = 0; i < N; i++) {
    cpc_kad_peer near[CPC_KAD_K];
    size_t got = 0;
    assert_true(cpc_kad_table_size(swarm_kad(&s, i)) > 0);
    for (unsigned c = 7; c < N; c += 7) {
      assert_int_equal(cpc_kad_closest_peers(swarm_kad(&s, i), s.n[c].id.bytes,
                                             s.n[c].id.len, near, CPC_KAD_K,
                                             &got),
                       0);
      for (size_t k = 0; k < got; k++) {
        assert_false(cpc_peer_id_equal(&near[k].id, &s.n[c].id));
        cpc_kad_peer_clear(&near[k]);
      }
    }
  }
  assert_int_equal(cpc_kad_table_size(swarm_kad(&s, 0)), N - 1 - 2);

  /* Five hosts provide a record each. */
  for (unsigned i = 0; i < N; i++)
    if (is_provider(i)) {
      mh_len[np] = swarm_random_mh(mh[np]);
      prov[np] = i;
      memset(&jobs[np], 0, sizeof jobs[np]);
      jobs[np].kind = JOB_PROVIDE;
      jobs[np].node = i;
      jobs[np].mh = mh[np];
      jobs[np].mh_len = mh_len[np];
      np++;
    }
  assert_int_equal(np, N_PROVIDERS);
  swarm_run_jobs(&s, jobs, np, np, 20000);
  for (unsigned r = 0; r < np; r++) {
    assert_int_equal(jobs[r].rc, 0);
    assert_true(jobs[r].stored >= 10); /* most of the 18 servers took it */
  }

  /* Every other host finds every provider. */
  n = find_all(&s, mh, mh_len, prov, jobs);
  sum = swarm_summarise(jobs, n);
  print_message("20 hosts: %zu/%zu provider lookups found, hops mean %.2f "
                "max %u\n",
                sum.found, sum.n, sum.mean_hops, sum.max_hops);
  assert_int_equal(sum.found, n);

  n = find_peers(&s, jobs);
  sum = swarm_summarise(jobs, n);
  print_message("20 hosts: %zu/%zu peers found, hops mean %.2f max %u\n",
                sum.found, sum.n, sum.mean_hops, sum.max_hops);
  assert_int_equal(sum.found, n);
  cpc_dht_get_stats(s.n[0].dht, &st);
  assert_true(st.served > 0 && st.peers_seen >= N - 3);

  /* A peer nobody knows: not found, and the lookup ends. */
  {
    swarm_job j = {.kind = JOB_FIND_PEER, .node = 3};
    cpc_peer_id ghost;
    cpc_privkey k;
    assert_int_equal(cpc_privkey_generate(CPC_KEY_ED25519, &k), 0);
    assert_int_equal(cpc_peer_id_from_pubkey(&k.pub, &ghost), 0);
    cpc_privkey_wipe(&k);
    j.expect = &ghost;
    swarm_run_jobs(&s, &j, 1, 1, 20000);
    assert_false(j.found);
  }

  /* A quarter of the hosts leave (host 0, the bootstrap peer, among
   * them); lookups from the others still succeed. */
  for (unsigned i = 0, gone = 0; gone < N / 4; i += 3)
    if (!is_provider(i)) {
      swarm_kill(&s, i);
      gone++;
    }
  n = find_all(&s, mh, mh_len, prov, jobs);
  sum = swarm_summarise(jobs, n);
  print_message("after 5 left: %zu/%zu provider lookups found, hops mean "
                "%.2f max %u\n",
                sum.found, sum.n, sum.mean_hops, sum.max_hops);
  assert_int_equal(sum.found, n);
  n = find_peers(&s, jobs);
  sum = swarm_summarise(jobs, n);
  assert_int_equal(sum.found, n);
  swarm_free(&s);
}

/* --- the inbound handler's caps ------------------------------------------- */

struct probe {
  int closed, status, got_data;
};

static void probe_data(cpc_net_stream *st, const uint8_t *d, size_t n,
                       void *ud) {
  (void)st;
  (void)d;
  (void)n;
  ((struct probe *)ud)->got_data = 1;
}

static void probe_close(cpc_net_stream *st, int status, void *ud) {
  struct probe *p = ud;
  (void)st;
  p->closed = 1;
  p->status = status;
}

static const cpc_net_stream_callbacks probe_cbs = {
    .on_data = probe_data,
    .on_close = probe_close,
};

struct dialed {
  int done, status;
  cpc_net_conn *c;
};

static void on_dialed(cpc_net *net, int status, cpc_net_conn *c, void *ud) {
  struct dialed *d = ud;
  (void)net;
  d->done = 1;
  d->status = status;
  d->c = c;
}

/* Send bytes[0..len) on a new kad stream from a to b (then half-close);
 * return how the stream ended. */
static struct probe probe(swarm *s, unsigned a, unsigned b,
                          const uint8_t *bytes, size_t len) {
  struct dialed d = {0};
  struct probe p = {0};
  cpc_net_stream *st;
  assert_int_equal(cpc_net_dial(s->n[a].net, &s->n[b].addr, on_dialed, &d), 0);
  assert_true(swarm_run_until(&d.done, 5000));
  assert_int_equal(d.status, 0);
  assert_int_equal(
      cpc_net_stream_open(d.c, CPC_KAD_PROTOCOL_ID, &probe_cbs, &p, &st), 0);
  assert_int_equal(cpc_net_stream_write(st, bytes, len), 0);
  assert_int_equal(cpc_net_stream_close_write(st), 0);
  assert_true(swarm_run_until(&p.closed, 5000));
  return p;
}

static void test_inbound_caps(void **state) {
  static swarm s;
  static const swarm_opts o = {.idle_timeout_ms = 60000};
  uint8_t buf[64];
  size_t w = 0;
  struct probe p;
  cpc_dht_stats st;
  (void)state;

  swarm_init(&s, 2, &o, 1);
  /* A prefix announcing 2 MiB: reset without waiting for the bytes. */
  assert_int_equal(cpc_varint_encode(2u << 20, buf, sizeof buf, &w), 0);
  p = probe(&s, 1, 0, buf, w);
  assert_int_not_equal(p.status, 0);
  assert_false(p.got_data);
  /* Not a Message: reset. */
  buf[0] = 3;
  buf[1] = 0xff;
  buf[2] = 0xff;
  buf[3] = 0xff;
  p = probe(&s, 1, 0, buf, 4);
  assert_int_not_equal(p.status, 0);
  /* A PING is answered, and a whole stream closes cleanly. */
  {
    cpc_kad_message m = {.type = CPC_KAD_PING};
    uint8_t *framed = NULL;
    size_t len = 0;
    assert_int_equal(cpc_kad_message_encode(&m, &framed, &len), 0);
    p = probe(&s, 1, 0, framed, len);
    free(framed);
    assert_int_equal(p.status, 0);
    assert_true(p.got_data);
  }
  cpc_dht_get_stats(s.n[0].dht, &st);
  assert_int_equal(st.refused, 2);
  assert_true(st.served >= 1);
  swarm_free(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_inbound_caps),
      cmocka_unit_test(test_swarm_of_20),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
