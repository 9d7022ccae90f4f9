/*
 * test_node.c: the provider node's self-contained pieces: human units,
 * the configuration file, `init` (key file mode, refusal to overwrite),
 * the audit proof (against the official BLAKE3 keyed-hash vectors) and the
 * NodeService call signature (verified with the public key over the
 * message of docs/node-rpc.md built here independently).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cpc/blake3.h"
#include "cpc/error.h"
#include "cpc/key_file.h"
#include "cpc/keys.h"
#include "cpc/node.h"
#include "cpc/peer_id.h"
#include "test_support.h"

static void test_sizes(void **state) {
  uint64_t v = 0;
  (void)state;
  assert_int_equal(cpc_node_parse_size("500G", &v), 0);
  assert_true(v == 500000000000ull);
  assert_int_equal(cpc_node_parse_size("1.5T", &v), 0);
  assert_true(v == 1500000000000ull);
  assert_int_equal(cpc_node_parse_size("100M", &v), 0);
  assert_true(v == 100000000ull);
  assert_int_equal(cpc_node_parse_size("100MB", &v), 0);
  assert_true(v == 100000000ull);
  assert_int_equal(cpc_node_parse_size("64MiB", &v), 0);
  assert_true(v == 64ull << 20);
  assert_int_equal(cpc_node_parse_size("2gi", &v), 0);
  assert_true(v == 2ull << 30);
  assert_int_equal(cpc_node_parse_size("4096", &v), 0);
  assert_true(v == 4096);
  assert_int_equal(cpc_node_parse_size(" 12 kB ", &v), 0);
  assert_true(v == 12000);
  assert_int_equal(cpc_node_parse_size("0.5K", &v), 0);
  assert_true(v == 500);
  assert_int_equal(cpc_node_parse_size("", &v), CPC_EINVAL);
  assert_int_equal(cpc_node_parse_size("G", &v), CPC_EINVAL);
  assert_int_equal(cpc_node_parse_size("-5G", &v), CPC_EINVAL);
  assert_int_equal(cpc_node_parse_size("5X", &v), CPC_EINVAL);
  assert_int_equal(cpc_node_parse_size("5.G", &v), CPC_EINVAL);
  assert_int_equal(cpc_node_parse_size("10Gbit", &v), CPC_EINVAL);
  assert_int_equal(cpc_node_parse_size("99999999999P", &v), CPC_ETOOBIG);
  assert_int_equal(cpc_node_parse_size(NULL, &v), CPC_EINVAL);
}

static void test_rates(void **state) {
  uint64_t v = 0;
  (void)state;
  assert_int_equal(cpc_node_parse_rate("100Mbit", &v), 0);
  assert_true(v == 12500000ull);
  assert_int_equal(cpc_node_parse_rate("100Mbps", &v), 0);
  assert_true(v == 12500000ull);
  assert_int_equal(cpc_node_parse_rate("1Gbit/s", &v), 0);
  assert_true(v == 125000000ull);
  assert_int_equal(cpc_node_parse_rate("100Mb/s", &v), 0);
  assert_true(v == 12500000ull);
  assert_int_equal(cpc_node_parse_rate("10MB/s", &v), 0);
  assert_true(v == 10000000ull);
  assert_int_equal(cpc_node_parse_rate("10MBps", &v), 0);
  assert_true(v == 10000000ull);
  assert_int_equal(cpc_node_parse_rate("512KiB/s", &v), 0);
  assert_true(v == 512ull * 1024);
  assert_int_equal(cpc_node_parse_rate("100M", &v), 0);
  assert_true(v == 100000000ull);
  assert_int_equal(cpc_node_parse_rate("800kbit", &v), 0);
  assert_true(v == 100000ull);
  assert_int_equal(cpc_node_parse_rate("8bps", &v), 0);
  assert_true(v == 1);
  assert_int_equal(cpc_node_parse_rate("fast", &v), CPC_EINVAL);
  assert_int_equal(cpc_node_parse_rate("10Mfoo/s", &v), CPC_EINVAL);
  assert_int_equal(cpc_node_parse_rate("", &v), CPC_EINVAL);
}

static void test_format_size(void **state) {
  char b[16];
  (void)state;
  cpc_node_format_size(300, b, sizeof b);
  assert_string_equal(b, "300 B");
  cpc_node_format_size(1500000000ull, b, sizeof b);
  assert_string_equal(b, "1.5 GB");
}

static char *temp_dir(void) {
  char *d = strdup("/tmp/cpc-test-node-XXXXXX");
  assert_non_null(d);
  assert_non_null(mkdtemp(d));
  return d;
}

static void rm_rf(const char *d) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
  assert_int_equal(system(cmd), 0);
}

static void write_file(const char *dir, const char *name, const char *text) {
  char p[512];
  FILE *f;
  snprintf(p, sizeof p, "%s/%s", dir, name);
  f = fopen(p, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void test_config(void **state) {
  char *d = temp_dir(), err[512];
  cpc_node_config c, c2;
  (void)state;
  cpc_node_config_default(&c);
  assert_int_equal(cpc_node_config_check(&c, err, sizeof err), CPC_EINVAL);
  assert_non_null(strstr(err, "capacity"));
  /* missing file */
  assert_int_equal(cpc_node_config_load(&c, d, err, sizeof err), CPC_ENOENT);
  assert_non_null(strstr(err, "cpc-node init"));
  /* human units in the file */
  write_file(d, CPC_NODE_CONFIG_FILE,
             "{\"capacity\": \"1.5T\", \"bandwidth\": \"100Mbit\", "
             "\"region\": \"eu/1\", \"scrub_interval_ms\": 500, "
             "\"listen\": [\"/ip4/127.0.0.1/tcp/0\"], "
             "\"orchestrator\": \"127.0.0.1:7701\"}");
  assert_int_equal(cpc_node_config_load(&c, d, err, sizeof err), 0);
  assert_true(c.capacity == 1500000000000ull);
  assert_true(c.bandwidth == 12500000ull);
  assert_string_equal(c.region, "eu/1");
  assert_true(c.scrub_interval_ms == 500);
  assert_int_equal(c.n_listen, 1);
  /* save and load again: the same */
  assert_int_equal(cpc_node_config_save(&c, d), 0);
  cpc_node_config_default(&c2);
  assert_int_equal(cpc_node_config_load(&c2, d, err, sizeof err), 0);
  assert_memory_equal(&c, &c2, sizeof c);
  /* bad values are named */
  write_file(d, CPC_NODE_CONFIG_FILE, "{\"capacity\": \"lots\"}");
  assert_int_equal(cpc_node_config_load(&c2, d, err, sizeof err), CPC_EINVAL);
  assert_non_null(strstr(err, "capacity"));
  assert_non_null(strstr(err, "lots"));
  assert_memory_equal(&c, &c2, sizeof c); /* unchanged on failure */
  write_file(d, CPC_NODE_CONFIG_FILE, "{\"capacity\": 5, \"colour\": 1}");
  assert_int_equal(cpc_node_config_load(&c2, d, err, sizeof err), CPC_EINVAL);
  assert_non_null(strstr(err, "colour"));
  write_file(d, CPC_NODE_CONFIG_FILE,
             "{\"capacity\": 5, \"orchestrator\": \"localhost:7701\"}");
  assert_int_equal(cpc_node_config_load(&c2, d, err, sizeof err), CPC_EINVAL);
  assert_non_null(strstr(err, "orchestrator"));
  write_file(d, CPC_NODE_CONFIG_FILE,
             "{\"capacity\": 5, \"listen\": [\"/ip4/1.2.3.4/tcp\"]}");
  assert_int_equal(cpc_node_config_load(&c2, d, err, sizeof err), CPC_EINVAL);
  assert_non_null(strstr(err, "listen"));
  write_file(d, CPC_NODE_CONFIG_FILE, "{\"capacity\": 5,");
  assert_int_equal(cpc_node_config_load(&c2, d, err, sizeof err),
                   CPC_EMALFORMED);
  rm_rf(d);
  free(d);
}

static void test_init(void **state) {
  char *d = temp_dir(), err[512], sub[600], key[700],
       id[CPC_PEER_ID_MAX_TEXT], id2[CPC_PEER_ID_MAX_TEXT];
  cpc_node_config c;
  struct stat st;
  uint8_t *buf = NULL;
  size_t len = 0;
  cpc_privkey k;
  cpc_peer_id pid;
  (void)state;
  snprintf(sub, sizeof sub, "%s/a/b", d);
  cpc_node_config_default(&c);
  assert_int_equal(cpc_node_init(sub, &c, id, err, sizeof err), CPC_EINVAL);
  c.capacity = 1000000;
  assert_int_equal(cpc_node_init(sub, &c, id, err, sizeof err), 0);
  assert_int_equal(strncmp(id, "12D3KooW", 8), 0);
  snprintf(key, sizeof key, "%s/%s", sub, CPC_NODE_KEY_FILE);
  assert_int_equal(stat(key, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  /* the key in the file is the PeerId printed */
  assert_int_equal(cpc_key_file_read(key, 4096, &buf, &len, NULL), 0);
  assert_int_equal(cpc_privkey_decode(buf, len, &k), 0);
  cpc_secret_free(buf, len);
  assert_int_equal(k.type, CPC_KEY_ED25519);
  assert_int_equal(cpc_peer_id_from_pubkey(&k.pub, &pid), 0);
  cpc_privkey_wipe(&k);
  assert_int_equal(cpc_peer_id_format(&pid, id2, sizeof id2), 0);
  assert_string_equal(id, id2);
  /* a second init refuses and keeps the key */
  assert_int_equal(cpc_node_init(sub, &c, id2, err, sizeof err), CPC_EEXIST);
  assert_non_null(strstr(err, "already"));
  assert_int_equal(cpc_node_config_load(&c, sub, err, sizeof err), 0);
  assert_true(c.capacity == 1000000);
  rm_rf(d);
  free(d);
}

static void test_audit_proof(void **state) {
  static const struct {
    size_t len;
    const char *hex;
  } v[] = {
      {0, "92b2b75604ed3c761f9d6f62392c8a9227ad0ea3f09573e783f1498a4ed60d26"},
      {1, "6d7878dfff2f485635d39013278ae14f1454b8c0a3a2d34bc1ab38228a80c95b"},
      {1024,
       "75c46f6f3d9eb4f55ecaaee480db732e6c2105546f1e675003687c31719c7ba4"},
      {1025,
       "357dc55de0c7e382c900fd6e320acc04146be01db6a8ce7210b7189bd664ea69"},
  };
  const uint8_t *key = (const uint8_t *)"whats the Elvish word for friend";
  uint8_t block[7 + 1025 + 5], proof[32], want[32], other[32];
  size_t i;
  (void)state;
  memset(block, 0xAA, sizeof block);
  for (i = 0; i < 1025; i++)
    block[7 + i] = (uint8_t)(i % 251);
  for (i = 0; i < sizeof v / sizeof v[0]; i++) {
    test_unhex(v[i].hex, want, sizeof want);
    if (v[i].len == 0) {
      /* an empty range is not a challenge */
      assert_int_equal(cpc_node_audit_proof(block, sizeof block, 7, 0, key,
                                            proof),
                       CPC_EINVAL);
      continue;
    }
    assert_int_equal(
        cpc_node_audit_proof(block, sizeof block, 7, v[i].len, key, proof), 0);
    assert_memory_equal(proof, want, 32);
  }
  /* another offset or key gives another answer */
  assert_int_equal(cpc_node_audit_proof(block, sizeof block, 6, 1025, key,
                                        other), 0);
  assert_memory_not_equal(other, want, 32);
  /* ranges past the end */
  assert_int_equal(cpc_node_audit_proof(block, sizeof block, 8, 1030, key,
                                        proof), CPC_ETOOBIG);
  assert_int_equal(cpc_node_audit_proof(block, sizeof block,
                                        (uint64_t)sizeof block + 1, 1, key,
                                        proof), CPC_ETOOBIG);
  assert_int_equal(cpc_node_audit_proof(block, sizeof block, 1,
                                        UINT64_MAX, key, proof),
                   CPC_ETOOBIG);
}

static void test_rpc_sign(void **state) {
  const char *path = "/cpc.orchestrator.v1.NodeService/Heartbeat";
  const uint8_t body[] = {0x08, 0x01};
  char sig_hex[129], msg[512], hex[65];
  uint8_t sig[64], h[32];
  size_t n;
  cpc_privkey k, s;
  (void)state;
  assert_int_equal(cpc_privkey_generate(CPC_KEY_ED25519, &k), 0);
  assert_int_equal(
      cpc_node_rpc_sign(&k, path, "1750000000000", body, sizeof body, sig_hex),
      0);
  assert_int_equal(strlen(sig_hex), 128);
  n = test_unhex(sig_hex, sig, sizeof sig);
  assert_int_equal(n, 64);
  cpc_blake3(body, sizeof body, h);
  sodium_bin2hex(hex, sizeof hex, h, sizeof h);
  snprintf(msg, sizeof msg, "CPC-NODE-RPC-V1\n%s\n1750000000000\n%s", path,
           hex);
  assert_int_equal(cpc_pubkey_verify(&k.pub, msg, strlen(msg), sig, 64), 0);
  /* another body, path or time does not verify */
  msg[strlen(msg) - 1] ^= 1;
  assert_int_equal(cpc_pubkey_verify(&k.pub, msg, strlen(msg), sig, 64),
                   CPC_EBADSIG);
  /* secp256k1 keys are not node keys */
  assert_int_equal(cpc_privkey_generate(CPC_KEY_SECP256K1, &s), 0);
  assert_int_equal(cpc_node_rpc_sign(&s, path, "1", NULL, 0, sig_hex),
                   CPC_EUNSUPPORTED);
  cpc_privkey_wipe(&k);
  cpc_privkey_wipe(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sizes),       cmocka_unit_test(test_rates),
      cmocka_unit_test(test_format_size), cmocka_unit_test(test_config),
      cmocka_unit_test(test_init),        cmocka_unit_test(test_audit_proof),
      cmocka_unit_test(test_rpc_sign),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
