/*
 * test_multiaddr.c: multiaddr text and binary forms against vectors
 * produced by @multiformats/multiaddr 13 (js), round trips, helpers and
 * malformed input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpc/error.h"
#include "cpc/multiaddr.h"

static size_t unhex(const char *hex, uint8_t *out, size_t cap) {
  size_t n = strlen(hex) / 2;
  assert_true(n <= cap);
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
    out[i] = (uint8_t)v;
  }
  return n;
}

static int parse_str(cpc_multiaddr *ma, const char *s) {
  return cpc_multiaddr_parse(ma, s, strlen(s));
}

#define PEER_ED "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"
#define PEER_ED_HEX                                                            \
  "002408011220" /* identity mh of protobuf Ed25519 key */                     \
  "2ffa35a99d3a3cfbb17bb7c1dc5561b18a8dcca4df38dc613ea859c37eb1336b"
#define PEER_QM "QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupNKC"
#define PEER_ED_CID                                                            \
  "bafzaajaiaejcal72gwuz2or47oyxxn6b3rkwdmmkrxgkjxzy3rqt5kczyn7lcm3l"

struct vector {
  const char *in;        /* text given */
  const char *canonical; /* text written back (NULL: same as in) */
  const char *hex;       /* binary */
};

static const struct vector vectors[] = {
    {"/ip4/127.0.0.1/tcp/4001", NULL, "047f000001060fa1"},
    {"/ip6/::1/tcp/80", NULL, "2900000000000000000000000000000001060050"},
    {"/dns4/example.com/tcp/443", NULL, "360b6578616d706c652e636f6d0601bb"},
    {"/ip6/2001:db8::1/udp/4001/quic-v1", NULL,
     "2920010db800000000000000000000000191020fa1cd03"},
    {"/ip4/1.2.3.4/tcp/4001/p2p/" PEER_ED, NULL,
     "0401020304060fa1a50326" PEER_ED_HEX},
    {"/ip4/1.2.3.4/tcp/1/p2p/" PEER_ED_CID, "/ip4/1.2.3.4/tcp/1/p2p/" PEER_ED,
     "0401020304060001a50326" PEER_ED_HEX},
    {"/ip4/1.2.3.4/tcp/1/ipfs/" PEER_QM, "/ip4/1.2.3.4/tcp/1/p2p/" PEER_QM,
     "0401020304060001a503221220d52ebb89d85b02a284948203a62ff28389c57c9f42beec"
     "4ec20db76a68911c0b"},
    {"/dnsaddr/bootstrap.libp2p.io", NULL,
     "3813626f6f7473747261702e6c69627032702e696f"},
    {"/ip4/1.2.3.4/tcp/443/wss/p2p-circuit", NULL, "04010203040601bbde03a202"},
    {"/ip6/2001:db8:0:0:1:0:0:1/tcp/1", "/ip6/2001:db8::1:0:0:1/tcp/1",
     "2920010db8000000000001000000000001060001"},
    {"/ip6/::ffff:1.2.3.4/tcp/1", NULL,
     "2900000000000000000000ffff01020304060001"},
    {"/ip6/::ffff:102:304/tcp/1", "/ip6/::ffff:1.2.3.4/tcp/1",
     "2900000000000000000000ffff01020304060001"},
    {"/ip4/0.0.0.0/tcp/0/ws/", "/ip4/0.0.0.0/tcp/0/ws", "0400000000060000dd03"},
    {"/ip4/1.2.3.4/tcp/1/tls/noise", NULL, "0401020304060001c003c603"},
    {"/ip6/FE80::1:2:3:4/tcp/5", "/ip6/fe80::1:2:3:4/tcp/5",
     "29fe800000000000000001000200030004060005"},
    {"/dns6/m\xc3\xbcnchen.de/udp/53", NULL,
     "370b6dc3bc6e6368656e2e646591020035"},
    {"/ip6/1:0:0:1:0:0:0:1/tcp/2", "/ip6/1:0:0:1::1/tcp/2",
     "2900010000000000010000000000000001060002"},
    {"/ip6/0:0:0:0:0:0:0:0/tcp/65535", "/ip6/::/tcp/65535",
     "290000000000000000000000000000000006ffff"},
    {"/ip6/1:2:3:4:5:6:0:8/udp/2", NULL,
     "2900010002000300040005000600000008910200"
     "02"},
    {"/ip6/1:0:0:2:0:0:0:3/tcp/2", "/ip6/1:0:0:2::3/tcp/2",
     "2900010000000000020000000000000003060002"},
    {"/ip6/1:0:0:2:0:0:3:4/tcp/2", "/ip6/1::2:0:0:3:4/tcp/2",
     "2900010000000000020000000000030004060002"},
    {"/ip6/1::/udp/1/quic", "/ip6/1::/udp/1/quic",
     "29000100000000000000000000000000009102"
     "0001cc03"},
};

static void test_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
    const struct vector *v = &vectors[i];
    uint8_t want[CPC_MULTIADDR_MAX_BYTES];
    size_t want_len = unhex(v->hex, want, sizeof want), w = 0;
    cpc_multiaddr ma, mb;
    char text[CPC_MULTIADDR_MAX_TEXT];
    const char *canon = v->canonical ? v->canonical : v->in;

    print_message("%s\n", v->in);
    assert_int_equal(parse_str(&ma, v->in), 0);
    assert_int_equal(ma.len, want_len);
    assert_memory_equal(ma.bytes, want, want_len);
    assert_int_equal(cpc_multiaddr_format(&ma, text, sizeof text, &w), 0);
    assert_string_equal(text, canon);
    assert_int_equal(w, strlen(canon));
    /* binary -> same multiaddr, text -> same text */
    assert_int_equal(cpc_multiaddr_from_bytes(&mb, want, want_len), 0);
    assert_true(cpc_multiaddr_equal(&ma, &mb));
    assert_int_equal(parse_str(&mb, text), 0);
    assert_true(cpc_multiaddr_equal(&ma, &mb));
    /* every strict prefix of the binary form is rejected */
    for (size_t k = 0; k < want_len; k++) {
      int rc = cpc_multiaddr_from_bytes(&mb, want, k);
      if (k == 0) {
        assert_int_equal(rc, CPC_EMALFORMED);
        continue;
      }
      /* A prefix may end exactly on a component boundary: that is valid. */
      if (rc == 0)
        continue;
      assert_true(rc == CPC_ETRUNC || rc == CPC_EMALFORMED);
      assert_int_equal(mb.len, 0);
    }
    /* a short output buffer is an error, never an overflow */
    assert_int_equal(cpc_multiaddr_format(&ma, text, strlen(canon), NULL),
                     CPC_ETOOBIG);
    assert_string_equal(text, "");
    assert_int_equal(cpc_multiaddr_format(&ma, text, strlen(canon) + 1, NULL),
                     0);
  }
}

static void test_truncation_boundaries(void **state) {
  (void)state;
  uint8_t b[32];
  cpc_multiaddr ma;
  size_t n = unhex("047f000001060fa1", b, sizeof b);
  assert_int_equal(cpc_multiaddr_from_bytes(&ma, b, 5), 0); /* /ip4/... */
  assert_int_equal(cpc_multiaddr_from_bytes(&ma, b, 6), CPC_ETRUNC);
  assert_int_equal(cpc_multiaddr_from_bytes(&ma, b, 7), CPC_ETRUNC);
  assert_int_equal(cpc_multiaddr_from_bytes(&ma, b, n), 0);
  assert_int_equal(cpc_multiaddr_from_bytes(&ma, b, 3), CPC_ETRUNC);
}

struct bad_text {
  const char *text;
  int rc;
};

static void test_bad_text(void **state) {
  (void)state;
  static const struct bad_text bad[] = {
      {"", CPC_EMALFORMED},
      {"/", CPC_EMALFORMED},
      {"ip4/1.2.3.4", CPC_EMALFORMED},
      {"//ip4/1.2.3.4", CPC_EMALFORMED},
      {"/ip4/1.2.3.4//tcp/1", CPC_EMALFORMED},
      {"/ip4", CPC_EMALFORMED},
      {"/ip4/", CPC_EMALFORMED},
      {"/ip4/1.2.3.256", CPC_EMALFORMED},
      {"/ip4/1.2.3", CPC_EMALFORMED},
      {"/ip4/1.2.3.4.5", CPC_EMALFORMED},
      {"/ip4/01.2.3.4", CPC_EMALFORMED},
      {"/ip4/1..3.4", CPC_EMALFORMED},
      {"/ip4/1.2.3.4a", CPC_EMALFORMED},
      {"/ip4/ 1.2.3.4", CPC_EMALFORMED},
      {"/ip6/1:2:3:4:5:6:7", CPC_EMALFORMED},
      {"/ip6/1:2:3:4:5:6:7:8:9", CPC_EMALFORMED},
      {"/ip6/1::2::3", CPC_EMALFORMED},
      {"/ip6/:1:2:3:4:5:6:7", CPC_EMALFORMED},
      {"/ip6/1:2:3:4:5:6:7:", CPC_EMALFORMED},
      {"/ip6/:::", CPC_EMALFORMED},
      {"/ip6/1:2:3:4:5:6:7::8", CPC_EMALFORMED},
      {"/ip6/12345::", CPC_EMALFORMED},
      {"/ip6/g::", CPC_EMALFORMED},
      {"/ip6/::1.2.3.4.5", CPC_EMALFORMED},
      {"/ip6/1.2.3.4::", CPC_EMALFORMED},
      {"/ip6/1:2:3:4:5:6:7:1.2.3.4", CPC_EMALFORMED},
      {"/ip6/fe80::1%eth0", CPC_EMALFORMED},
      {"/ip4/1.2.3.4/tcp/65536", CPC_EMALFORMED},
      {"/ip4/1.2.3.4/tcp/-1", CPC_EMALFORMED},
      {"/ip4/1.2.3.4/tcp/123456", CPC_EMALFORMED},
      {"/ip4/1.2.3.4/tcp/", CPC_EMALFORMED},
      {"/ip4/1.2.3.4/tcp", CPC_EMALFORMED},
      {"/ip4/1.2.3.4/udp/0x10", CPC_EMALFORMED},
      {"/ip4/1.2.3.4/foo/1", CPC_EUNSUPPORTED},
      {"/unix/tmp", CPC_EUNSUPPORTED},
      {"/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5S0",
       CPC_EMALFORMED},
      {"/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5S",
       CPC_EMALFORMED},
      {"/p2p/", CPC_EMALFORMED},
      {"/p2p/bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
       CPC_EMALFORMED}, /* a CIDv1 but dag-pb, not libp2p-key */
      {"/p2p/zzzz", CPC_EMALFORMED},
      {"/dns4/", CPC_EMALFORMED},
      {"/dns4/a\x01"
       "b/tcp/1",
       CPC_EMALFORMED},
      {"/dns4/\xff\xfe/tcp/1", CPC_EMALFORMED},
      {"/dns4/\xc3/tcp/1", CPC_EMALFORMED},
      {"/dns4/\xed\xa0\x80/tcp/1", CPC_EMALFORMED}, /* UTF-8 surrogate */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cpc_multiaddr ma;
    ma.len = 7;
    print_message("%s\n", bad[i].text);
    assert_int_equal(parse_str(&ma, bad[i].text), bad[i].rc);
    assert_int_equal(ma.len, 0);
  }
  /* an embedded NUL */
  cpc_multiaddr ma;
  assert_int_equal(cpc_multiaddr_parse(&ma, "/ip4/1.2.3.4\0/tcp/1", 19),
                   CPC_EMALFORMED);
}

static void test_caps(void **state) {
  (void)state;
  static char text[CPC_MULTIADDR_MAX_TEXT + 16];
  static uint8_t bin[CPC_MULTIADDR_MAX_BYTES + 16];
  cpc_multiaddr ma;
  size_t o = 0;

  /* 32 components fit, 33 do not */
  for (int i = 0; i < 32; i++)
    o += (size_t)snprintf(text + o, sizeof text - o, "/ws");
  assert_int_equal(parse_str(&ma, text), 0);
  assert_int_equal(cpc_multiaddr_count(&ma), 32);
  strcat(text, "/ws");
  assert_int_equal(parse_str(&ma, text), CPC_ETOOBIG);
  memset(bin, 0, sizeof bin);
  for (int i = 0; i < 33; i++) {
    bin[2 * i] = 0xdd;
    bin[2 * i + 1] = 0x03;
  }
  assert_int_equal(cpc_multiaddr_from_bytes(&ma, bin, 64), 0);
  assert_int_equal(cpc_multiaddr_from_bytes(&ma, bin, 66), CPC_ETOOBIG);
  assert_int_equal(cpc_multiaddr_from_bytes(&ma, bin, sizeof bin), CPC_ETOOBIG);

  /* text over the cap */
  memset(text, 'a', sizeof text);
  text[0] = '/';
  assert_int_equal(cpc_multiaddr_parse(&ma, text, CPC_MULTIADDR_MAX_TEXT),
                   CPC_ETOOBIG);

  /* dns names: 255 bytes fit, 256 do not */
  o = (size_t)snprintf(text, sizeof text, "/dns/");
  memset(text + o, 'x', 255);
  text[o + 255] = '\0';
  assert_int_equal(parse_str(&ma, text), 0);
  text[o + 255] = 'x';
  text[o + 256] = '\0';
  assert_int_equal(parse_str(&ma, text), CPC_EMALFORMED);

  /* a varlen length far past the end */
  uint8_t big[] = {0x35, 0xff, 0xff, 0x03, 'a'};
  assert_int_equal(cpc_multiaddr_from_bytes(&ma, big, sizeof big), CPC_ETOOBIG);
  uint8_t short_len[] = {0x35, 0x05, 'a', 'b'};
  assert_int_equal(cpc_multiaddr_from_bytes(&ma, short_len, sizeof short_len),
                   CPC_ETRUNC);
}

static void test_bad_binary(void **state) {
  (void)state;
  struct {
    const char *hex;
    int rc;
  } bad[] = {
      {"ff", CPC_ETRUNC},                   /* varint ends early */
      {"8000", CPC_EMALFORMED},             /* non-minimal varint */
      {"05", CPC_EUNSUPPORTED},             /* unknown code */
      {"9003", CPC_EUNSUPPORTED},           /* unix 0x0190: unknown here */
      {"047f000001ff", CPC_ETRUNC},         /* trailing garbage */
      {"047f00000107", CPC_EUNSUPPORTED},   /* trailing unknown code */
      {"3500", CPC_EMALFORMED},             /* empty dns name */
      {"35012f", CPC_EMALFORMED},           /* '/' in a name */
      {"a50300", CPC_EMALFORMED},           /* empty PeerId */
      {"a5030400", CPC_ETRUNC},             /* length beyond the end */
      {"a50303000201", CPC_EMALFORMED},     /* multihash length mismatch */
      {"a503050002010203", CPC_EMALFORMED}, /* trailing bytes in multihash */
      {"a5030412020102", CPC_EMALFORMED},   /* sha2-256 digest too short */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    uint8_t b[64];
    cpc_multiaddr ma;
    size_t n = unhex(bad[i].hex, b, sizeof b);
    print_message("%s\n", bad[i].hex);
    assert_int_equal(cpc_multiaddr_from_bytes(&ma, b, n), bad[i].rc);
    assert_int_equal(ma.len, 0);
  }
}

static void test_iterate(void **state) {
  (void)state;
  static const char *names[] = {"ip4", "tcp", "p2p"};
  cpc_multiaddr ma;
  cpc_multiaddr_iter it;
  cpc_multiaddr_component c;
  size_t n = 0, off = 0;
  assert_int_equal(parse_str(&ma, "/ip4/1.2.3.4/tcp/4001/p2p/" PEER_ED), 0);
  cpc_multiaddr_iter_init(&it, &ma);
  while (cpc_multiaddr_iter_next(&it, &c) == 0) {
    assert_string_equal(c.name, names[n]);
    assert_string_equal(cpc_multiaddr_code_name(c.code), names[n]);
    assert_int_equal(c.offset, off);
    off += c.size;
    n++;
  }
  assert_int_equal(n, 3);
  assert_int_equal(off, ma.len);
  assert_int_equal(cpc_multiaddr_iter_next(&it, &c), CPC_ENOENT);
  assert_null(cpc_multiaddr_code_name(0x0190));
}

static void test_host_port_and_peer(void **state) {
  (void)state;
  cpc_multiaddr ma;
  cpc_multiaddr_host h;
  uint8_t peer[CPC_MULTIADDR_MAX_BYTES], want[64];
  size_t peer_len = 0, want_len = unhex(PEER_ED_HEX, want, sizeof want);

  assert_int_equal(parse_str(&ma, "/ip4/10.0.0.7/tcp/4001/p2p/" PEER_ED), 0);
  assert_int_equal(cpc_multiaddr_host_port(&ma, &h), 0);
  assert_int_equal(h.host_code, CPC_MA_IP4);
  assert_int_equal(h.transport_code, CPC_MA_TCP);
  assert_int_equal(h.port, 4001);
  assert_string_equal(h.host, "10.0.0.7");
  assert_memory_equal(h.ip, "\x0a\x00\x00\x07", 4);
  assert_int_equal(cpc_multiaddr_peer_id(&ma, peer, sizeof peer, &peer_len), 0);
  assert_int_equal(peer_len, want_len);
  assert_memory_equal(peer, want, want_len);
  assert_int_equal(cpc_multiaddr_peer_id(&ma, peer, want_len - 1, &peer_len),
                   CPC_ETOOBIG);

  assert_int_equal(parse_str(&ma, "/ip6/2001:db8::7/udp/9/quic-v1"), 0);
  assert_int_equal(cpc_multiaddr_host_port(&ma, &h), 0);
  assert_int_equal(h.host_code, CPC_MA_IP6);
  assert_int_equal(h.transport_code, CPC_MA_UDP);
  assert_int_equal(h.port, 9);
  assert_string_equal(h.host, "2001:db8::7");
  assert_int_equal(cpc_multiaddr_peer_id(&ma, peer, sizeof peer, &peer_len),
                   CPC_ENOENT);

  assert_int_equal(parse_str(&ma, "/dns6/example.org/tcp/443/wss"), 0);
  assert_int_equal(cpc_multiaddr_host_port(&ma, &h), 0);
  assert_int_equal(h.host_code, CPC_MA_DNS6);
  assert_string_equal(h.host, "example.org");
  assert_int_equal(h.port, 443);

  const char *undialable[] = {"/dnsaddr/bootstrap.libp2p.io", "/ip4/1.2.3.4",
                              "/ip4/1.2.3.4/ws", ("/p2p/" PEER_ED),
                              "/tcp/1/ip4/1.2.3.4"};
  for (size_t i = 0; i < sizeof undialable / sizeof undialable[0]; i++) {
    assert_int_equal(parse_str(&ma, undialable[i]), 0);
    assert_int_equal(cpc_multiaddr_host_port(&ma, &h), CPC_EUNSUPPORTED);
  }
  /* /p2p/ must be last to count as the peer */
  assert_int_equal(parse_str(&ma, "/p2p/" PEER_ED "/p2p-circuit"), 0);
  assert_int_equal(cpc_multiaddr_peer_id(&ma, peer, sizeof peer, &peer_len),
                   CPC_ENOENT);
}

static void test_build(void **state) {
  (void)state;
  cpc_multiaddr ma, tail, only;
  char text[CPC_MULTIADDR_MAX_TEXT];
  uint8_t peer[64];
  size_t peer_len = unhex(PEER_ED_HEX, peer, sizeof peer);
  static const uint8_t ip6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};

  assert_int_equal(cpc_multiaddr_from_ip(&ma, (const uint8_t *)"\x7f\0\0\x01",
                                         4, CPC_MA_TCP, 4001),
                   0);
  assert_int_equal(cpc_multiaddr_format(&ma, text, sizeof text, NULL), 0);
  assert_string_equal(text, "/ip4/127.0.0.1/tcp/4001");
  assert_int_equal(cpc_multiaddr_append_p2p(&ma, peer, peer_len), 0);
  assert_int_equal(cpc_multiaddr_format(&ma, text, sizeof text, NULL), 0);
  assert_string_equal(text, "/ip4/127.0.0.1/tcp/4001/p2p/" PEER_ED);
  cpc_multiaddr_strip_p2p(&ma);
  assert_int_equal(cpc_multiaddr_format(&ma, text, sizeof text, NULL), 0);
  assert_string_equal(text, "/ip4/127.0.0.1/tcp/4001");
  cpc_multiaddr_strip_p2p(&ma); /* nothing to strip */
  assert_int_equal(ma.len, 8);

  assert_int_equal(cpc_multiaddr_from_ip(&ma, ip6, 16, CPC_MA_UDP, 65535), 0);
  assert_int_equal(parse_str(&tail, "/quic-v1/p2p/" PEER_QM), 0);
  assert_int_equal(cpc_multiaddr_encapsulate(&ma, &tail), 0);
  assert_int_equal(cpc_multiaddr_format(&ma, text, sizeof text, NULL), 0);
  assert_string_equal(text, "/ip6/2001:db8::1/udp/65535/quic-v1/p2p/" PEER_QM);

  assert_int_equal(cpc_multiaddr_from_ip(&ma, ip6, 5, CPC_MA_UDP, 1),
                   CPC_EINVAL);
  assert_int_equal(cpc_multiaddr_from_ip(&ma, ip6, 16, CPC_MA_WS, 1),
                   CPC_EINVAL);
  assert_int_equal(cpc_multiaddr_append_p2p(&ma, peer, peer_len - 1),
                   CPC_EMALFORMED);

  /* /p2p/ alone is never stripped to nothing */
  assert_int_equal(parse_str(&only, "/p2p/" PEER_ED), 0);
  cpc_multiaddr_strip_p2p(&only);
  assert_int_equal(cpc_multiaddr_count(&only), 1);

  /* encapsulating past the component cap fails and leaves ma alone */
  char many[200] = "";
  for (int i = 0; i < 31; i++)
    strcat(many, "/ws");
  assert_int_equal(parse_str(&ma, many), 0);
  size_t before = ma.len;
  assert_int_equal(parse_str(&tail, "/ws/ws"), 0);
  assert_int_equal(cpc_multiaddr_encapsulate(&ma, &tail), CPC_ETOOBIG);
  assert_int_equal(ma.len, before);

  cpc_multiaddr empty = {0};
  assert_int_equal(cpc_multiaddr_format(&empty, text, sizeof text, NULL),
                   CPC_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vectors),
      cmocka_unit_test(test_truncation_boundaries),
      cmocka_unit_test(test_bad_text),
      cmocka_unit_test(test_caps),
      cmocka_unit_test(test_bad_binary),
      cmocka_unit_test(test_iterate),
      cmocka_unit_test(test_host_port_and_peer),
      cmocka_unit_test(test_build),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
