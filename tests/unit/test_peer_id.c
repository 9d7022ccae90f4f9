/*
 * test_peer_id.c: PeerId derivation and text forms.
 * Vectors: the public keys of libp2p/specs peer-ids "Test vectors", with the
 * PeerId strings @libp2p/peer-id 6 gives for them; the sha2-256 example ids
 * of the same spec.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "cpc/error.h"
#include "cpc/keys.h"
#include "cpc/peer_id.h"
#include "test_support.h"

struct vector {
  const char *pub_hex;
  const char *b58;
  const char *cid;
  enum cpc_key_type type;
};

static const struct vector vectors[] = {
    {"080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce2"
     "7e",
     "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq",
     "bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6",
     CPC_KEY_ED25519},
    {"08021221037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bf"
     "ca99",
     "16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLpY",
     "bafzaajiiaijcca3xo7uzjzcsyilaj6i54cj44qk7kqzpoao5rti2pjx6udtdbp6kte",
     CPC_KEY_SECP256K1},
};

/* The spec's sha2-256 example, in both forms. */
static const char *SHA_B58 = "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N";
static const char *SHA_CID =
    "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe";

static void test_known_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
    const struct vector *v = &vectors[i];
    uint8_t enc[64];
    size_t n = test_unhex(v->pub_hex, enc, sizeof enc);
    cpc_pubkey pk, back;
    cpc_peer_id id, parsed;
    char text[CPC_PEER_ID_MAX_TEXT];

    assert_int_equal(cpc_pubkey_decode(enc, n, &pk), 0);
    assert_int_equal(cpc_peer_id_from_pubkey(&pk, &id), 0);
    /* Identity multihash of the protobuf. */
    assert_int_equal(id.len, n + 2);
    assert_int_equal(id.bytes[0], 0x00);
    assert_int_equal(id.bytes[1], n);
    assert_memory_equal(id.bytes + 2, enc, n);

    assert_int_equal(cpc_peer_id_format(&id, text, sizeof text), 0);
    assert_string_equal(text, v->b58);
    assert_int_equal(cpc_peer_id_format_cid(&id, text, sizeof text), 0);
    assert_string_equal(text, v->cid);

    assert_int_equal(cpc_peer_id_parse(v->b58, &parsed), 0);
    assert_true(cpc_peer_id_equal(&parsed, &id));
    assert_int_equal(cpc_peer_id_parse(v->cid, &parsed), 0);
    assert_true(cpc_peer_id_equal(&parsed, &id));

    assert_int_equal(cpc_peer_id_pubkey(&parsed, &back), 0);
    assert_int_equal(back.type, v->type);
    assert_true(cpc_pubkey_equal(&back, &pk));
    assert_int_equal(cpc_peer_id_check(&parsed, &pk), 0);
    assert_int_equal(cpc_peer_id_format(&id, text, strlen(v->b58)),
                     CPC_ETOOBIG);
  }
}

static void test_sha256_peer_id(void **state) {
  (void)state;
  cpc_peer_id a, b;
  cpc_pubkey pk;
  char text[CPC_PEER_ID_MAX_TEXT];

  assert_int_equal(cpc_peer_id_parse(SHA_B58, &a), 0);
  assert_int_equal(a.len, 34);
  assert_int_equal(a.bytes[0], 0x12);
  assert_int_equal(cpc_peer_id_parse(SHA_CID, &b), 0);
  assert_true(cpc_peer_id_equal(&a, &b));
  assert_int_equal(cpc_peer_id_format(&b, text, sizeof text), 0);
  assert_string_equal(text, SHA_B58);
  assert_int_equal(cpc_peer_id_format_cid(&a, text, sizeof text), 0);
  assert_string_equal(text, SHA_CID);
  /* A hashed id carries no key. */
  assert_int_equal(cpc_peer_id_pubkey(&a, &pk), CPC_EUNSUPPORTED);
}

static void test_generated_prefixes(void **state) {
  (void)state;
  for (int i = 0; i < 16; i++) {
    enum cpc_key_type type = i % 2 ? CPC_KEY_SECP256K1 : CPC_KEY_ED25519;
    cpc_privkey k, other;
    cpc_peer_id id, parsed;
    cpc_pubkey back;
    char text[CPC_PEER_ID_MAX_TEXT];

    assert_int_equal(cpc_privkey_generate(type, &k), 0);
    assert_int_equal(cpc_privkey_generate(type, &other), 0);
    assert_int_equal(cpc_peer_id_from_pubkey(&k.pub, &id), 0);
    assert_int_equal(cpc_peer_id_format(&id, text, sizeof text), 0);
    if (type == CPC_KEY_ED25519) {
      assert_int_equal(strncmp(text, "12D3KooW", 8), 0);
      assert_int_equal(strlen(text), 52);
    } else {
      assert_int_equal(strncmp(text, "16Uiu2", 6), 0);
      assert_int_equal(strlen(text), 53);
    }
    assert_int_equal(cpc_peer_id_parse(text, &parsed), 0);
    assert_true(cpc_peer_id_equal(&parsed, &id));
    assert_int_equal(cpc_peer_id_compare(&parsed, &id), 0);
    assert_int_equal(cpc_peer_id_pubkey(&parsed, &back), 0);
    assert_true(cpc_pubkey_equal(&back, &k.pub));
    assert_int_equal(cpc_peer_id_check(&id, &other.pub), CPC_EMISMATCH);
    cpc_privkey_wipe(&k);
    cpc_privkey_wipe(&other);
  }
}

static void test_malformed_text(void **state) {
  (void)state;
  cpc_peer_id id;
  char big[CPC_PEER_ID_MAX_TEXT + 10];
  char text[CPC_PEER_ID_MAX_TEXT];

  assert_int_equal(cpc_peer_id_parse("", &id), CPC_EMALFORMED);
  assert_int_not_equal(cpc_peer_id_parse("hello", &id), 0);
  /*
   * One character changed inside the key: any 32 bytes are an Ed25519 key,
   * so this is another (valid) PeerId, never the same one. Dropped or added
   * characters break the multihash framing.
   */
  cpc_peer_id orig;
  assert_int_equal(cpc_peer_id_parse(vectors[0].b58, &orig), 0);
  strcpy(text, vectors[0].b58);
  text[20] = text[20] == 'a' ? 'b' : 'a';
  if (cpc_peer_id_parse(text, &id) == 0)
    assert_false(cpc_peer_id_equal(&id, &orig));
  strcpy(text, vectors[1].b58);
  text[strlen(text) - 1] = '\0';
  assert_int_not_equal(cpc_peer_id_parse(text, &id), 0);
  strcpy(text, vectors[1].b58);
  strcat(text, "1");
  assert_int_not_equal(cpc_peer_id_parse(text, &id), 0);
  /* Characters outside base58btc. */
  strcpy(text, vectors[0].b58);
  text[10] = '0';
  assert_int_equal(cpc_peer_id_parse(text, &id), CPC_EMALFORMED);
  text[10] = 'l';
  assert_int_equal(cpc_peer_id_parse(text, &id), CPC_EMALFORMED);
  /* A CID, but raw codec rather than libp2p-key. */
  assert_int_equal(
      cpc_peer_id_parse(
          "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy", &id),
      CPC_EMALFORMED);
  /* Over the text cap. */
  memset(big, '1', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  assert_int_equal(cpc_peer_id_parse(big, &id), CPC_ETOOBIG);
}

static void test_malformed_bytes(void **state) {
  (void)state;
  uint8_t buf[64];
  size_t n = test_unhex(vectors[1].pub_hex, buf + 2, sizeof buf - 2);
  cpc_peer_id id;

  buf[0] = 0x00;
  buf[1] = (uint8_t)n;
  assert_int_equal(cpc_peer_id_from_bytes(buf, n + 2, &id), 0);
  /* Truncated, trailing byte. */
  for (size_t i = 0; i < n + 2; i++)
    assert_int_not_equal(cpc_peer_id_from_bytes(buf, i, &id), 0);
  buf[n + 2] = 0;
  assert_int_equal(cpc_peer_id_from_bytes(buf, n + 3, &id), CPC_EMALFORMED);
  /* Inlined key of an unsupported hash code (blake3 here). */
  buf[0] = 0x1e;
  buf[1] = 32;
  assert_int_equal(cpc_peer_id_from_bytes(buf, 34, &id), CPC_EUNSUPPORTED);
  /* Identity digest that is no key. */
  memset(buf, 0xab, sizeof buf);
  buf[0] = 0x00;
  buf[1] = 10;
  assert_int_equal(cpc_peer_id_from_bytes(buf, 12, &id), CPC_EMALFORMED);
  /* Identity digest over 42 bytes. */
  buf[1] = 43;
  assert_int_not_equal(cpc_peer_id_from_bytes(buf, 45, &id), 0);
  /* Non-canonical key encoding (Data before Type) is refused. */
  uint8_t key[64];
  n = test_unhex(vectors[0].pub_hex, key, sizeof key);
  buf[0] = 0x00;
  buf[1] = (uint8_t)n;
  memcpy(buf + 2, key + 2, n - 2); /* 12 20 <32 bytes> */
  memcpy(buf + 2 + n - 2, key, 2); /* 08 01 */
  assert_int_equal(cpc_peer_id_from_bytes(buf, n + 2, &id), CPC_EMALFORMED);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_known_vectors),
      cmocka_unit_test(test_sha256_peer_id),
      cmocka_unit_test(test_generated_prefixes),
      cmocka_unit_test(test_malformed_text),
      cmocka_unit_test(test_malformed_bytes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
