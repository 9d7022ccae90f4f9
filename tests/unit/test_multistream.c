/*
 * test_multistream.c: multistream-select 1.0, two state machines talking
 * through buffers, byte-exact wire checks, and a misbehaving peer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cpc/error.h"
#include "cpc/multistream.h"

/* A one-way pipe: what one side sent and the other has not yet consumed. */
struct pipe {
  uint8_t buf[1 << 16];
  size_t len;
};

/* Move m's output into p. */
static void drain(cpc_mss *m, struct pipe *p) {
  const uint8_t *d;
  size_t n = cpc_mss_output(m, &d);
  assert_true(n <= sizeof p->buf - p->len);
  memcpy(p->buf + p->len, d, n);
  p->len += n;
  cpc_mss_output_done(m, n);
  assert_int_equal(cpc_mss_output(m, &d), 0);
}

/* Feed up to chunk bytes of p into m; returns feed's rc. */
static int deliver(cpc_mss *m, struct pipe *p, size_t chunk, size_t *used) {
  size_t n = p->len < chunk ? p->len : chunk;
  int rc = cpc_mss_feed(m, p->buf, n, used);
  memmove(p->buf, p->buf + *used, p->len - *used);
  p->len -= *used;
  return rc;
}

/* Run both sides until neither moves; chunk bytes per delivery. */
static void run(cpc_mss *d, cpc_mss *l, struct pipe *to_l, struct pipe *to_d,
                size_t chunk, int *rc_d, int *rc_l) {
  *rc_d = *rc_l = 0;
  for (int round = 0; round < 100000; round++) {
    size_t ud = 0, ul = 0;
    drain(d, to_l);
    drain(l, to_d);
    if (*rc_l == 0 && cpc_mss_state(l) == CPC_MSS_NEGOTIATING)
      *rc_l = deliver(l, to_l, chunk, &ul);
    if (*rc_d == 0 && cpc_mss_state(d) == CPC_MSS_NEGOTIATING)
      *rc_d = deliver(d, to_d, chunk, &ud);
    drain(d, to_l);
    drain(l, to_d);
    if (ud == 0 && ul == 0)
      return;
  }
  fail_msg("no progress");
}

static const char *const dialer_protos[] = {"/noise", "/tls/1.0.0",
                                            "/yamux/1.0.0"};
static const char *const listener_protos[] = {"/mplex/6.7.0", "/yamux/1.0.0"};

static void negotiate(size_t chunk) {
  static cpc_mss d, l;
  static struct pipe to_l, to_d;
  int rc_d, rc_l;
  to_l.len = to_d.len = 0;
  assert_int_equal(cpc_mss_init(&d, CPC_MSS_DIALER, dialer_protos, 3), 0);
  assert_int_equal(cpc_mss_init(&l, CPC_MSS_LISTENER, listener_protos, 2), 0);
  run(&d, &l, &to_l, &to_d, chunk, &rc_d, &rc_l);
  assert_int_equal(rc_d, 0);
  assert_int_equal(rc_l, 0);
  assert_int_equal(cpc_mss_state(&d), CPC_MSS_NEGOTIATED);
  assert_int_equal(cpc_mss_state(&l), CPC_MSS_NEGOTIATED);
  assert_string_equal(cpc_mss_protocol(&d), "/yamux/1.0.0");
  assert_string_equal(cpc_mss_protocol(&l), "/yamux/1.0.0");
  assert_int_equal(to_l.len, 0);
  assert_int_equal(to_d.len, 0);
  assert_int_equal(cpc_mss_error(&d), 0);
}

static void test_pair(void **state) {
  (void)state;
  negotiate(1 << 16);
}

static void test_pair_byte_by_byte(void **state) {
  (void)state;
  negotiate(1);
  negotiate(2);
  negotiate(7);
}

static void test_wire_bytes(void **state) {
  (void)state;
  static const char *const one[] = {"/yamux/1.0.0"};
  cpc_mss d, l;
  const uint8_t *out;
  size_t n, used;
  static const char hello[] = "\x13/multistream/1.0.0\n\x0d/yamux/1.0.0\n";

  assert_int_equal(cpc_mss_init(&d, CPC_MSS_DIALER, one, 1), 0);
  n = cpc_mss_output(&d, &out);
  assert_int_equal(n, sizeof hello - 1);
  assert_memory_equal(out, hello, n);

  /* listener gets header + proposal + early application data */
  uint8_t in[64];
  memcpy(in, hello, sizeof hello - 1);
  memcpy(in + sizeof hello - 1, "DATA", 4);
  assert_int_equal(cpc_mss_init(&l, CPC_MSS_LISTENER, one, 1), 0);
  assert_int_equal(cpc_mss_feed(&l, in, sizeof hello - 1 + 4, &used), 0);
  assert_int_equal(used, sizeof hello - 1);
  assert_int_equal(cpc_mss_state(&l), CPC_MSS_NEGOTIATED);
  n = cpc_mss_output(&l, &out);
  assert_int_equal(n, sizeof hello - 1); /* header + echo */
  assert_memory_equal(out, hello, n);
  /* further input is left alone */
  assert_int_equal(cpc_mss_feed(&l, in, 4, &used), 0);
  assert_int_equal(used, 0);

  /* dialer gets listener's header + echo + data in one read */
  assert_int_equal(cpc_mss_feed(&d, in, sizeof hello - 1 + 4, &used), 0);
  assert_int_equal(used, sizeof hello - 1);
  assert_int_equal(cpc_mss_state(&d), CPC_MSS_NEGOTIATED);
  assert_string_equal(cpc_mss_protocol(&d), "/yamux/1.0.0");
}

static void test_na_then_success_bytes(void **state) {
  (void)state;
  static const char *const two[] = {"/a", "/b"};
  cpc_mss d;
  const uint8_t *out;
  size_t used, n;
  static const char reply1[] = "\x13/multistream/1.0.0\n\x03na\n";
  static const char reply2[] = "\x03/b\nrest";

  assert_int_equal(cpc_mss_init(&d, CPC_MSS_DIALER, two, 2), 0);
  cpc_mss_output_done(&d, cpc_mss_output(&d, &out));
  assert_int_equal(
      cpc_mss_feed(&d, (const uint8_t *)reply1, sizeof reply1 - 1, &used), 0);
  assert_int_equal(used, sizeof reply1 - 1);
  n = cpc_mss_output(&d, &out);
  assert_int_equal(n, 4);
  assert_memory_equal(out, "\x03/b\n", 4);
  cpc_mss_output_done(&d, 1); /* partial send */
  assert_int_equal(cpc_mss_output(&d, &out), 3);
  cpc_mss_output_done(&d, 100); /* clamped */
  assert_int_equal(cpc_mss_output(&d, &out), 0);
  assert_int_equal(cpc_mss_state(&d), CPC_MSS_NEGOTIATING);
  assert_null(cpc_mss_protocol(&d));
  assert_int_equal(
      cpc_mss_feed(&d, (const uint8_t *)reply2, sizeof reply2 - 1, &used), 0);
  assert_int_equal(used, 4);
  assert_string_equal(cpc_mss_protocol(&d), "/b");
}

static void test_all_rejected(void **state) {
  (void)state;
  static const char *const want[] = {"/x/1", "/y/1"};
  static const char *const have[] = {"/z/1"};
  cpc_mss d, l;
  static struct pipe to_l, to_d;
  int rc_d, rc_l;
  size_t used;
  to_l.len = to_d.len = 0;
  assert_int_equal(cpc_mss_init(&d, CPC_MSS_DIALER, want, 2), 0);
  assert_int_equal(cpc_mss_init(&l, CPC_MSS_LISTENER, have, 1), 0);
  run(&d, &l, &to_l, &to_d, 3, &rc_d, &rc_l);
  assert_int_equal(rc_d, CPC_EUNSUPPORTED);
  assert_int_equal(cpc_mss_state(&d), CPC_MSS_FAILED);
  assert_int_equal(cpc_mss_error(&d), CPC_EUNSUPPORTED);
  assert_null(cpc_mss_protocol(&d));
  assert_int_equal(rc_l, 0);
  assert_int_equal(cpc_mss_state(&l), CPC_MSS_NEGOTIATING);
  /* sticky */
  assert_int_equal(cpc_mss_feed(&d, (const uint8_t *)"x", 1, &used),
                   CPC_EUNSUPPORTED);
  assert_int_equal(used, 0);
}

static void test_ls(void **state) {
  (void)state;
  static const char *const have[] = {"/a/1", "/bb/2"};
  static const char req[] = "\x13/multistream/1.0.0\n\x03ls\n";
  static const char want[] = "\x13/multistream/1.0.0\n"
                             "\x0e"
                             "\x05/a/1\n\x06/bb/2\n\n";
  cpc_mss l;
  const uint8_t *out;
  size_t used, n;
  assert_int_equal(cpc_mss_init(&l, CPC_MSS_LISTENER, have, 2), 0);
  assert_int_equal(
      cpc_mss_feed(&l, (const uint8_t *)req, sizeof req - 1, &used), 0);
  assert_int_equal(used, sizeof req - 1);
  n = cpc_mss_output(&l, &out);
  assert_int_equal(n, sizeof want - 1);
  assert_memory_equal(out, want, n);
  assert_int_equal(cpc_mss_state(&l), CPC_MSS_NEGOTIATING);
}

/* Feed raw bytes to a fresh machine of role; return feed's rc. */
static int feed_raw(enum cpc_mss_role role, const void *b, size_t n) {
  static const char *const p[] = {"/p"};
  cpc_mss m;
  size_t used;
  assert_int_equal(cpc_mss_init(&m, role, p, 1), 0);
  int rc = cpc_mss_feed(&m, b, n, &used);
  if (rc != 0) {
    assert_int_equal(cpc_mss_state(&m), CPC_MSS_FAILED);
    assert_int_equal(cpc_mss_error(&m), rc);
  }
  return rc;
}

#define HDR "\x13/multistream/1.0.0\n"

static void test_bad_peer(void **state) {
  (void)state;
  uint8_t big[2048];
  /* wrong header */
  assert_int_equal(feed_raw(CPC_MSS_LISTENER, "\x13/multistream/2.0.0\n", 20),
                   CPC_EPROTO);
  assert_int_equal(feed_raw(CPC_MSS_DIALER, "\x03na\n", 4), CPC_EPROTO);
  /* no newline */
  assert_int_equal(feed_raw(CPC_MSS_LISTENER, "\x13/multistream/1.0.0x", 20),
                   CPC_EPROTO);
  /* an answer that is neither echo nor na */
  assert_int_equal(feed_raw(CPC_MSS_DIALER, HDR "\x03/q\n", 24), CPC_EPROTO);
  /* zero length, oversized, bad varint */
  assert_int_equal(feed_raw(CPC_MSS_LISTENER, "\x00", 1), CPC_ETOOBIG);
  assert_int_equal(feed_raw(CPC_MSS_LISTENER, "\x81\x08", 2), CPC_ETOOBIG);
  assert_int_equal(feed_raw(CPC_MSS_LISTENER, "\x80\x08", 2), 0); /* 1024 ok */
  memset(big, 0x80, sizeof big);
  assert_int_equal(feed_raw(CPC_MSS_LISTENER, big, 12), CPC_EMALFORMED);
  assert_int_equal(feed_raw(CPC_MSS_LISTENER, "\x80\x00", 2), CPC_EMALFORMED);
  /* CPC_MSS_MAX_ATTEMPTS refusals are answered, one more fails */
  {
    static uint8_t q[20 + 4 * (CPC_MSS_MAX_ATTEMPTS + 1)];
    memcpy(q, HDR, 20);
    for (int i = 0; i <= CPC_MSS_MAX_ATTEMPTS; i++)
      memcpy(q + 20 + 4 * i, "\x03/q\n", 4);
    assert_int_equal(feed_raw(CPC_MSS_LISTENER, q, sizeof q - 4), 0);
    assert_int_equal(feed_raw(CPC_MSS_LISTENER, q, sizeof q), CPC_EPROTO);
  }
  /* a 1024-byte proposal is read whole and refused with na */
  big[0] = 0x80;
  big[1] = 0x08;
  memset(big + 2, 'a', 1023);
  big[1025] = '\n';
  {
    static const char *const p[] = {"/p"};
    cpc_mss m;
    size_t used;
    const uint8_t *out;
    assert_int_equal(cpc_mss_init(&m, CPC_MSS_LISTENER, p, 1), 0);
    assert_int_equal(cpc_mss_feed(&m, (const uint8_t *)HDR, 20, &used), 0);
    assert_int_equal(cpc_mss_feed(&m, big, 1026, &used), 0);
    assert_int_equal(used, 1026);
    size_t n = cpc_mss_output(&m, &out);
    assert_memory_equal(out + n - 4, "\x03na\n", 4);
  }
}

static void test_attempt_limit_and_backpressure(void **state) {
  (void)state;
  /* Long names make each "ls" answer ~1 KiB, so the output fills. */
  static char names[8][121];
  const char *p[8];
  static uint8_t in[20 + 4 * (CPC_MSS_MAX_ATTEMPTS + 1)];
  cpc_mss m;
  size_t used, total = 0, n;
  const uint8_t *out;
  int rc = 0, stalls = 0;
  for (int i = 0; i < 8; i++) {
    memset(names[i], 'a' + i, 120);
    names[i][0] = '/';
    p[i] = names[i];
  }
  memcpy(in, HDR, 20);
  for (int i = 0; i <= CPC_MSS_MAX_ATTEMPTS; i++)
    memcpy(in + 20 + 4 * i, "\x03ls\n", 4);
  assert_int_equal(cpc_mss_init(&m, CPC_MSS_LISTENER, p, 8), 0);
  rc = cpc_mss_feed(&m, in, sizeof in, &used);
  assert_int_equal(rc, 0);
  assert_true(used < sizeof in);
  assert_int_equal(cpc_mss_feed(&m, in + used, sizeof in - used, &n), 0);
  assert_int_equal(n, 0); /* still full: nothing consumed */
  total = used;
  while (rc == 0 && total < sizeof in) {
    n = cpc_mss_output(&m, &out);
    assert_true(n > 0);
    cpc_mss_output_done(&m, n);
    rc = cpc_mss_feed(&m, in + total, sizeof in - total, &used);
    total += used;
    stalls++;
  }
  assert_true(stalls > 5);
  assert_int_equal(rc, CPC_EPROTO);
  assert_int_equal(total, sizeof in);
}

static void test_init_args(void **state) {
  (void)state;
  cpc_mss m;
  static const char *const ok[] = {"/a"};
  static const char *const na[] = {"na"};
  static const char *const ls[] = {"/a", "ls"};
  static const char *const nl[] = {"/a\n"};
  static const char *const empty[] = {""};
  static const char *const null[] = {NULL};
  static char longname[CPC_MSS_MAX_MSG + 1];
  const char *lp[] = {longname};
  assert_int_equal(cpc_mss_init(&m, CPC_MSS_DIALER, ok, 0), CPC_EINVAL);
  assert_int_equal(cpc_mss_state(&m), CPC_MSS_FAILED);
  assert_int_equal(cpc_mss_init(&m, CPC_MSS_DIALER, na, 1), CPC_EINVAL);
  assert_int_equal(cpc_mss_init(&m, CPC_MSS_LISTENER, ls, 2), CPC_EINVAL);
  assert_int_equal(cpc_mss_init(&m, CPC_MSS_DIALER, nl, 1), CPC_EINVAL);
  assert_int_equal(cpc_mss_init(&m, CPC_MSS_DIALER, empty, 1), CPC_EINVAL);
  assert_int_equal(cpc_mss_init(&m, CPC_MSS_DIALER, null, 1), CPC_EINVAL);
  assert_int_equal(cpc_mss_init(&m, (enum cpc_mss_role)7, ok, 1), CPC_EINVAL);
  memset(longname, 'a', CPC_MSS_MAX_MSG - 1);
  assert_int_equal(cpc_mss_init(&m, CPC_MSS_DIALER, lp, 1), 0);
  longname[CPC_MSS_MAX_MSG - 1] = 'a';
  assert_int_equal(cpc_mss_init(&m, CPC_MSS_DIALER, lp, 1), CPC_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pair),
      cmocka_unit_test(test_pair_byte_by_byte),
      cmocka_unit_test(test_wire_bytes),
      cmocka_unit_test(test_na_then_success_bytes),
      cmocka_unit_test(test_all_rejected),
      cmocka_unit_test(test_ls),
      cmocka_unit_test(test_bad_peer),
      cmocka_unit_test(test_attempt_limit_and_backpressure),
      cmocka_unit_test(test_init_args),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
