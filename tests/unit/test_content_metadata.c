/* test_content_metadata.c: ContentMetadata rules, protobuf and JSON forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "cpc/content_metadata.h"
#include "cpc/error.h"
#include "cpc/keys.h"

static void new_peer(enum cpc_key_type type, cpc_peer_id *id) {
  cpc_privkey k;
  assert_int_equal(cpc_privkey_generate(type, &k), 0);
  assert_int_equal(cpc_peer_id_from_pubkey(&k.pub, id), 0);
  cpc_privkey_wipe(&k);
}

/* A valid record with n readers; access as given. */
static void make(cpc_content_metadata *md, enum cpc_access_control ac, size_t n) {
  uint8_t block[100];
  cpc_content_metadata_init(md);
  randombytes_buf(block, sizeof block);
  assert_int_equal(cpc_cid_compute(CPC_CODEC_RAW, CPC_MH_BLAKE3, block,
                                   sizeof block, &md->content_id),
                   0);
  new_peer(CPC_KEY_SECP256K1, &md->owner);
  md->size = 123456789;
  md->created_at = 1700000000;
  md->replicas = 5;
  md->access = ac;
  strcpy(md->name, "holiday \xc3\xa9t\xc3\xa9 2024.mp4");
  assert_int_equal(cpc_content_metadata_add_tag(md, "video"), 0);
  assert_int_equal(cpc_content_metadata_add_tag(md, "famille"), 0);
  for (size_t i = 0; i < n; i++) {
    cpc_peer_id r;
    uint8_t sealed[CPC_SEALED_KEY_LEN];
    new_peer(i % 2 ? CPC_KEY_ED25519 : CPC_KEY_SECP256K1, &r);
    randombytes_buf(sealed, sizeof sealed);
    assert_int_equal(cpc_content_metadata_add_wrapped_key(md, &r, sealed), 0);
  }
  if (ac == CPC_ACCESS_PUBLIC) {
    cpc_aead_keygen(md->content_key);
    md->has_content_key = 1;
  }
}

static void assert_same(const cpc_content_metadata *a, const cpc_content_metadata *b) {
  assert_true(cpc_cid_equal(&a->content_id, &b->content_id));
  assert_true(cpc_peer_id_equal(&a->owner, &b->owner));
  assert_int_equal(a->size, b->size);
  assert_int_equal(a->created_at, b->created_at);
  assert_int_equal(a->replicas, b->replicas);
  assert_int_equal(a->access, b->access);
  assert_string_equal(a->name, b->name);
  assert_int_equal(a->n_tags, b->n_tags);
  for (size_t i = 0; i < a->n_tags; i++)
    assert_string_equal(a->tags[i], b->tags[i]);
  assert_int_equal(a->n_wrapped_keys, b->n_wrapped_keys);
  for (size_t i = 0; i < a->n_wrapped_keys; i++) {
    assert_true(cpc_peer_id_equal(&a->wrapped_keys[i].reader, &b->wrapped_keys[i].reader));
    assert_memory_equal(a->wrapped_keys[i].sealed, b->wrapped_keys[i].sealed,
                        CPC_SEALED_KEY_LEN);
  }
  assert_int_equal(a->has_content_key, b->has_content_key);
  if (a->has_content_key)
    assert_memory_equal(a->content_key, b->content_key, CPC_AEAD_KEY_LEN);
}

static void test_roundtrips(void **state) {
  (void)state;
  enum cpc_access_control acs[] = {CPC_ACCESS_PUBLIC, CPC_ACCESS_FOLLOWERS_ONLY,
                                   CPC_ACCESS_PRIVATE};
  for (size_t i = 0; i < 3; i++) {
    cpc_content_metadata md, back;
    uint8_t *pb = NULL;
    char *json = NULL, err[200];
    size_t len = 0;
    make(&md, acs[i], i * 3);
    assert_int_equal(cpc_content_metadata_encode(&md, &pb, &len), 0);
    assert_int_equal(cpc_content_metadata_decode(pb, len, &back), 0);
    assert_same(&md, &back);
    cpc_content_metadata_clear(&back);
    for (int pretty = 0; pretty < 2; pretty++) {
      assert_int_equal(cpc_content_metadata_to_json(&md, pretty, &json), 0);
      assert_int_equal(cpc_content_metadata_from_json(json, strlen(json), &back,
                                                      err, sizeof err),
                       0);
      assert_same(&md, &back);
      assert_non_null(strstr(json, cpc_access_control_name(acs[i])));
      assert_int_equal(strstr(json, "content_key") != NULL,
                       acs[i] == CPC_ACCESS_PUBLIC);
      cpc_content_metadata_clear(&back);
      free(json);
    }
    free(pb);
    cpc_content_metadata_clear(&md);
  }
}

static void test_minimal_json_defaults(void **state) {
  (void)state;
  cpc_content_metadata md, back;
  char *json = NULL, err[200], doc[1024], cid[CPC_CID_MAX_TEXT], owner[CPC_PEER_ID_MAX_TEXT];
  make(&md, CPC_ACCESS_PRIVATE, 0);
  assert_int_equal(cpc_cid_format(&md.content_id, CPC_MB_BASE32, cid, sizeof cid), 0);
  assert_int_equal(cpc_peer_id_format(&md.owner, owner, sizeof owner), 0);
  snprintf(doc, sizeof doc,
           "{\"content_id\":\"%s\",\"owner\":\"%s\",\"size\":0,"
           "\"created_at\":-5,\"access_control\":\"private\"}",
           cid, owner);
  assert_int_equal(cpc_content_metadata_from_json(doc, strlen(doc), &back, err, sizeof err), 0);
  assert_int_equal(back.replicas, CPC_CONTENT_REPLICAS_DEFAULT);
  assert_int_equal(back.created_at, -5);
  assert_int_equal(back.n_tags, 0);
  assert_string_equal(back.name, "");
  cpc_content_metadata_clear(&back);
  cpc_content_metadata_clear(&md);
  free(json);
}

/* Replace the first occurrence of from in json with to; parse; expect rc
 * and an error message containing want. */
static void expect_json(const char *json, const char *from, const char *to, int rc,
                        const char *want) {
  char doc[8192], err[256];
  cpc_content_metadata md;
  const char *at = strstr(json, from);
  assert_non_null(at);
  snprintf(doc, sizeof doc, "%.*s%s%s", (int)(at - json), json, to, at + strlen(from));
  assert_int_equal(cpc_content_metadata_from_json(doc, strlen(doc), &md, err, sizeof err),
                   rc);
  if (!strstr(err, want))
    fail_msg("error \"%s\" does not mention \"%s\"", err, want);
  cpc_content_metadata_clear(&md);
}

static void test_strict_json(void **state) {
  (void)state;
  cpc_content_metadata md;
  char *json = NULL;
  make(&md, CPC_ACCESS_FOLLOWERS_ONLY, 1);
  assert_int_equal(cpc_content_metadata_to_json(&md, 0, &json), 0);
  expect_json(json, "\"size\":", "\"colour\":1,\"size\":", CPC_EMALFORMED, "colour");
  expect_json(json, "\"size\":123456789", "\"size\":\"123\"", CPC_EMALFORMED, "size");
  expect_json(json, "\"size\":123456789", "\"size\":-1", CPC_EMALFORMED, "size");
  expect_json(json, "\"size\":123456789", "\"size\":1.5", CPC_EMALFORMED, "size");
  expect_json(json, "\"replicas\":5", "\"replicas\":0", CPC_EMALFORMED, "replicas");
  expect_json(json, "\"replicas\":5", "\"replicas\":65", CPC_EMALFORMED, "replicas");
  expect_json(json, "\"replicas\":5", "\"replicas\":true", CPC_EMALFORMED, "replicas");
  expect_json(json, "\"followers_only\"", "\"friends\"", CPC_EMALFORMED, "access_control");
  expect_json(json, "\"created_at\":1700000000", "\"created_at\":null", CPC_EMALFORMED,
              "created_at");
  expect_json(json, "\"owner\":\"", "\"owner\":\"x", CPC_EMALFORMED, "owner");
  expect_json(json, "\"content_id\":\"", "\"content_id\":\"zz", CPC_EMALFORMED,
              "content_id");
  expect_json(json, "\"tags\":[", "\"tags\":[7,", CPC_EMALFORMED, "tags[0]");
  expect_json(json, "\"tags\":[", "\"tags\":[\"video\",", CPC_EMALFORMED, "tags[1]");
  expect_json(json, "\"tags\":[", "\"tags\":[\"a\\u0001\",", CPC_EMALFORMED, "tags[0]");
  expect_json(json, "\"reader\":", "\"extra\":1,\"reader\":", CPC_EMALFORMED,
              "wrapped_keys[0]");
  expect_json(json, "\"sealed_key\":\"", "\"sealed_key\":\"AAAA", CPC_EMALFORMED,
              "wrapped_keys[0].sealed_key");
  expect_json(json, "\"wrapped_keys\":[", "\"wrapped_keys\":{", CPC_EMALFORMED, "JSON");
  expect_json(json, "\"content_id\":", "\"owner\":\"a\",\"content_id\":", CPC_EMALFORMED,
              "duplicate");
  /* A clear key on non-public content is refused (it would leak it). */
  expect_json(json, "\"size\":",
              "\"content_key\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\",\"size\":",
              CPC_EMALFORMED, "content_key");
  /* Missing required field. */
  expect_json(json, "\"owner\":", "\"ownr\":", CPC_EMALFORMED, "owner");
  free(json);
  cpc_content_metadata_clear(&md);
  /* Public without its key. */
  make(&md, CPC_ACCESS_PUBLIC, 0);
  assert_int_equal(cpc_content_metadata_to_json(&md, 0, &json), 0);
  char *at = strstr(json, ",\"content_key\"");
  assert_non_null(at);
  strcpy(at, "}");
  char err[200];
  cpc_content_metadata back;
  assert_int_equal(cpc_content_metadata_from_json(json, strlen(json), &back, err, sizeof err),
                   CPC_EMALFORMED);
  assert_non_null(strstr(err, "content_key"));
  cpc_content_metadata_clear(&back);
  free(json);
  assert_int_equal(cpc_content_metadata_from_json("[1,", 3, &back, err, sizeof err),
                   CPC_EMALFORMED);
  cpc_content_metadata_clear(&back);
  cpc_content_metadata_clear(&md);
}

static void test_caps(void **state) {
  (void)state;
  cpc_content_metadata md;
  char tag[CPC_CONTENT_TAG_MAX + 2];
  make(&md, CPC_ACCESS_PRIVATE, 0);
  memset(tag, 'a', sizeof tag - 1);
  tag[sizeof tag - 1] = '\0';
  assert_int_equal(cpc_content_metadata_add_tag(&md, tag), CPC_ETOOBIG);
  tag[CPC_CONTENT_TAG_MAX] = '\0';
  assert_int_equal(cpc_content_metadata_add_tag(&md, tag), 0);
  assert_int_equal(cpc_content_metadata_add_tag(&md, tag), CPC_EEXIST);
  assert_int_equal(cpc_content_metadata_add_tag(&md, ""), CPC_EINVAL);
  assert_int_equal(cpc_content_metadata_add_tag(&md, "\xff"), CPC_EINVAL);
  assert_int_equal(cpc_content_metadata_add_tag(&md, "\xc0\xaf"), CPC_EINVAL); /* overlong */
  assert_int_equal(cpc_content_metadata_add_tag(&md, "\xed\xa0\x80"), CPC_EINVAL); /* surrogate */
  while (md.n_tags < CPC_CONTENT_TAGS_MAX) {
    snprintf(tag, sizeof tag, "t%zu", md.n_tags);
    assert_int_equal(cpc_content_metadata_add_tag(&md, tag), 0);
  }
  assert_int_equal(cpc_content_metadata_add_tag(&md, "one-more"), CPC_ETOOBIG);
  /* Readers: duplicates refused, cap enforced. */
  cpc_peer_id r;
  uint8_t sealed[CPC_SEALED_KEY_LEN] = {0};
  new_peer(CPC_KEY_ED25519, &r);
  assert_int_equal(cpc_content_metadata_add_wrapped_key(&md, &r, sealed), 0);
  assert_int_equal(cpc_content_metadata_add_wrapped_key(&md, &r, sealed), CPC_EEXIST);
  assert_non_null(cpc_content_metadata_find_wrapped_key(&md, &r));
  /* Fill to the cap with distinct readers (varying bytes of an id). */
  while (md.n_wrapped_keys < CPC_CONTENT_READERS_MAX) {
    cpc_peer_id x;
    new_peer(CPC_KEY_ED25519, &x);
    assert_int_equal(cpc_content_metadata_add_wrapped_key(&md, &x, sealed), 0);
  }
  cpc_peer_id x;
  new_peer(CPC_KEY_ED25519, &x);
  assert_int_equal(cpc_content_metadata_add_wrapped_key(&md, &x, sealed), CPC_ETOOBIG);
  /* The full record still round-trips through protobuf and JSON. */
  uint8_t *pb = NULL;
  size_t len = 0;
  char *json = NULL, err[200];
  cpc_content_metadata back;
  assert_int_equal(cpc_content_metadata_encode(&md, &pb, &len), 0);
  assert_int_equal(cpc_content_metadata_decode(pb, len, &back), 0);
  assert_same(&md, &back);
  cpc_content_metadata_clear(&back);
  assert_int_equal(cpc_content_metadata_to_json(&md, 0, &json), 0);
  assert_int_equal(cpc_content_metadata_from_json(json, strlen(json), &back, err, sizeof err), 0);
  assert_same(&md, &back);
  cpc_content_metadata_clear(&back);
  free(json);
  free(pb);
  /* A duplicated reader slipped in directly is caught by check and encode. */
  md.wrapped_keys[1].reader = md.wrapped_keys[0].reader;
  char msg[200];
  assert_int_equal(cpc_content_metadata_check(&md, msg, sizeof msg), CPC_EINVAL);
  assert_non_null(strstr(msg, "wrapped_keys"));
  assert_int_equal(cpc_content_metadata_encode(&md, &pb, &len), CPC_EINVAL);
  cpc_content_metadata_clear(&md);
  /* Over-long name, bad replicas, public without key. */
  make(&md, CPC_ACCESS_PRIVATE, 0);
  memset(md.name, 'n', sizeof md.name);
  assert_int_equal(cpc_content_metadata_check(&md, msg, sizeof msg), CPC_EINVAL);
  assert_non_null(strstr(msg, "name"));
  md.name[0] = '\0';
  md.replicas = 0;
  assert_int_equal(cpc_content_metadata_check(&md, msg, sizeof msg), CPC_EINVAL);
  assert_non_null(strstr(msg, "replicas"));
  md.replicas = 3;
  md.access = CPC_ACCESS_PUBLIC;
  assert_int_equal(cpc_content_metadata_check(&md, msg, sizeof msg), CPC_EINVAL);
  assert_non_null(strstr(msg, "content_key"));
  cpc_content_metadata_clear(&md);
}

static void test_protobuf_rejects(void **state) {
  (void)state;
  cpc_content_metadata md, back;
  uint8_t *pb = NULL;
  size_t len = 0;
  make(&md, CPC_ACCESS_PRIVATE, 2);
  assert_int_equal(cpc_content_metadata_encode(&md, &pb, &len), 0);
  /* Every truncation fails cleanly, or (cut at a field boundary, e.g.
   * between wrapped keys) gives a record that passes every rule. */
  size_t ok = 0;
  for (size_t cut = 0; cut < len; cut++) {
    int rc = cpc_content_metadata_decode(pb, cut, &back);
    if (rc == 0) {
      assert_int_equal(cpc_content_metadata_check(&back, NULL, 0), 0);
      ok++;
    }
    cpc_content_metadata_clear(&back);
  }
  assert_true(ok < len / 4);
  uint8_t junk[32];
  memset(junk, 0xff, sizeof junk);
  assert_int_equal(cpc_content_metadata_decode(junk, sizeof junk, &back), CPC_EMALFORMED);
  cpc_content_metadata_clear(&back);
  assert_int_equal(cpc_content_metadata_decode(pb, CPC_CONTENT_METADATA_MAX + 1, &back),
                   CPC_ETOOBIG);
  cpc_content_metadata_clear(&back);
  free(pb);
  cpc_content_metadata_clear(&md);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrips),
      cmocka_unit_test(test_minimal_json_defaults),
      cmocka_unit_test(test_strict_json),
      cmocka_unit_test(test_caps),
      cmocka_unit_test(test_protobuf_rejects),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
