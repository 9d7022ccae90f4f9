/*
 * test_identity.c: user identities: binding signature, social graph,
 * protobuf and JSON forms, key files.
 */
#include <dirent.h>
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
#include <sodium.h>

#include "cpc/error.h"
#include "cpc/identity.h"
#include "cpc/key_file.h"

/* A random valid PeerId of type. */
static cpc_peer_id random_peer(enum cpc_key_type type) {
  cpc_privkey k;
  cpc_peer_id id;
  assert_int_equal(cpc_privkey_generate(type, &k), 0);
  assert_int_equal(cpc_peer_id_from_pubkey(&k.pub, &id), 0);
  cpc_privkey_wipe(&k);
  return id;
}

/* An identity following n random peers of both types. */
static void make_identity(cpc_user_identity *id, size_t n) {
  cpc_user_identity_init(id);
  assert_int_equal(cpc_user_identity_generate(id), 0);
  for (size_t i = 0; i < n; i++) {
    cpc_peer_id p = random_peer(i % 2 ? CPC_KEY_ED25519 : CPC_KEY_SECP256K1);
    assert_int_equal(cpc_social_graph_add(&id->social_graph, &p), 0);
  }
}

static void assert_same_public(const cpc_user_identity *a,
                               const cpc_user_identity *b) {
  assert_true(cpc_peer_id_equal(&a->peer_id, &b->peer_id));
  assert_true(cpc_pubkey_equal(&a->signing_public, &b->signing_public));
  assert_memory_equal(a->encryption_public, b->encryption_public, 32);
  assert_int_equal(a->binding_sig_len, b->binding_sig_len);
  assert_memory_equal(a->binding_sig, b->binding_sig, a->binding_sig_len);
  assert_int_equal(a->social_graph.len, b->social_graph.len);
  for (size_t i = 0; i < a->social_graph.len; i++)
    assert_true(cpc_peer_id_equal(cpc_social_graph_at(&a->social_graph, i),
                                  cpc_social_graph_at(&b->social_graph, i)));
}

static void test_generate_and_binding(void **state) {
  (void)state;
  cpc_user_identity id;
  char text[CPC_PEER_ID_MAX_TEXT];
  uint8_t msg[CPC_IDENTITY_BINDING_MSG_LEN];

  make_identity(&id, 0);
  assert_int_equal(id.has_secrets, 1);
  assert_int_equal(id.signing_public.type, CPC_KEY_SECP256K1);
  assert_int_equal(cpc_peer_id_format(&id.peer_id, text, sizeof text), 0);
  assert_int_equal(strncmp(text, "16Uiu2", 6), 0);
  assert_int_equal(cpc_user_identity_verify(&id), 0);

  /* The binding is a plain libp2p signature over the documented message. */
  cpc_user_identity_binding_message(id.encryption_public, msg);
  assert_memory_equal(msg, "cpc-identity-x25519:", 20);
  assert_memory_equal(msg + 20, id.encryption_public, 32);
  assert_int_equal(cpc_pubkey_verify(&id.signing_public, msg, sizeof msg,
                                     id.binding_sig, id.binding_sig_len), 0);
  cpc_user_identity_free(&id);
  for (size_t i = 0; i < sizeof id; i++)
    assert_int_equal(((uint8_t *)&id)[i], 0);
}

static void test_forged_binding(void **state) {
  (void)state;
  cpc_user_identity a, b, pub;
  cpc_x25519_keypair x;

  make_identity(&a, 0);
  make_identity(&b, 0);
  cpc_user_identity_init(&pub);
  assert_int_equal(cpc_user_identity_copy_public(&pub, &a), 0);
  assert_int_equal(pub.has_secrets, 0);
  assert_int_equal(cpc_user_identity_verify(&pub), 0);

  /* Someone else's X25519 key under a's PeerId. */
  assert_int_equal(cpc_x25519_generate(&x), 0);
  memcpy(pub.encryption_public, x.pub, 32);
  assert_int_equal(cpc_user_identity_verify(&pub), CPC_EBADSIG);
  /* b's key and binding, a's PeerId: the signature is not a's. */
  memcpy(pub.encryption_public, b.encryption_public, 32);
  memcpy(pub.binding_sig, b.binding_sig, b.binding_sig_len);
  pub.binding_sig_len = b.binding_sig_len;
  assert_int_equal(cpc_user_identity_verify(&pub), CPC_EBADSIG);
  /* A PeerId that is not the signing key's. */
  assert_int_equal(cpc_user_identity_copy_public(&pub, &a), 0);
  pub.peer_id = b.peer_id;
  assert_int_equal(cpc_user_identity_verify(&pub), CPC_EMISMATCH);
  /* Tampered signature byte, empty signature. */
  assert_int_equal(cpc_user_identity_copy_public(&pub, &a), 0);
  pub.binding_sig[pub.binding_sig_len - 3] ^= 1;
  assert_int_equal(cpc_user_identity_verify(&pub), CPC_EBADSIG);
  pub.binding_sig_len = 0;
  assert_int_equal(cpc_user_identity_verify(&pub), CPC_EBADSIG);
  /* Secret X25519 key that does not match the public one. */
  a.encryption_key = x;
  assert_int_equal(cpc_user_identity_verify(&a), CPC_EMISMATCH);

  cpc_x25519_wipe(&x);
  cpc_user_identity_free(&a);
  cpc_user_identity_free(&b);
  cpc_user_identity_free(&pub);
}

static void test_social_graph(void **state) {
  (void)state;
  cpc_social_graph g = {0};
  cpc_peer_id ids[20];

  for (size_t i = 0; i < 20; i++) {
    ids[i] = random_peer(i % 3 ? CPC_KEY_ED25519 : CPC_KEY_SECP256K1);
    assert_int_equal(cpc_social_graph_add(&g, &ids[i]), 0);
  }
  assert_int_equal(cpc_social_graph_count(&g), 20);
  assert_int_equal(cpc_social_graph_add(&g, &ids[5]), CPC_EEXIST);
  assert_int_equal(cpc_social_graph_count(&g), 20);
  for (size_t i = 0; i < 20; i++)
    assert_true(cpc_social_graph_contains(&g, &ids[i]));
  for (size_t i = 1; i < 20; i++)
    assert_true(cpc_peer_id_compare(cpc_social_graph_at(&g, i - 1),
                                    cpc_social_graph_at(&g, i)) < 0);
  assert_null(cpc_social_graph_at(&g, 20));
  assert_int_equal(cpc_social_graph_remove(&g, &ids[7]), 0);
  assert_false(cpc_social_graph_contains(&g, &ids[7]));
  assert_int_equal(cpc_social_graph_remove(&g, &ids[7]), CPC_ENOENT);
  assert_int_equal(cpc_social_graph_count(&g), 19);
  assert_int_equal(cpc_social_graph_add(&g, &ids[7]), 0);
  cpc_peer_id empty = {0};
  assert_int_equal(cpc_social_graph_add(&g, &empty), CPC_EINVAL);
  cpc_social_graph_free(&g);
  assert_int_equal(cpc_social_graph_count(&g), 0);
  assert_false(cpc_social_graph_contains(&g, &ids[0]));
}

static void test_social_graph_cap(void **state) {
  (void)state;
  cpc_social_graph g = {0};
  cpc_peer_id id = random_peer(CPC_KEY_ED25519);

  /* Ascending ids (big-endian counter in the key bytes): appends only. */
  for (uint32_t i = 0; i < CPC_SOCIAL_GRAPH_MAX; i++) {
    id.bytes[id.len - 4] = (uint8_t)(i >> 24);
    id.bytes[id.len - 3] = (uint8_t)(i >> 16);
    id.bytes[id.len - 2] = (uint8_t)(i >> 8);
    id.bytes[id.len - 1] = (uint8_t)i;
    assert_int_equal(cpc_social_graph_add(&g, &id), 0);
  }
  id.bytes[6] ^= 0xff;
  assert_int_equal(cpc_social_graph_add(&g, &id), CPC_ETOOBIG);
  assert_int_equal(cpc_social_graph_count(&g), CPC_SOCIAL_GRAPH_MAX);
  cpc_social_graph_free(&g);
}

static void test_protobuf_round_trips(void **state) {
  (void)state;
  cpc_user_identity id, back;
  uint8_t *buf;
  size_t len;

  make_identity(&id, 7);
  cpc_user_identity_init(&back);

  assert_int_equal(cpc_user_identity_encode_public(&id, &buf, &len), 0);
  assert_int_equal(cpc_user_identity_decode_public(buf, len, &back), 0);
  assert_int_equal(back.has_secrets, 0);
  assert_same_public(&id, &back);
  assert_int_equal(cpc_user_identity_verify(&back), 0);
  /* A public form has nothing private to encode. */
  uint8_t *priv;
  size_t priv_len;
  assert_int_equal(cpc_user_identity_encode_private(&back, &priv, &priv_len),
                   CPC_EINVAL);
  free(buf);

  assert_int_equal(cpc_user_identity_encode_private(&id, &buf, &len), 0);
  assert_int_equal(cpc_user_identity_decode_private(buf, len, &back), 0);
  assert_int_equal(back.has_secrets, 1);
  assert_same_public(&id, &back);
  assert_memory_equal(back.signing_key.data, id.signing_key.data, 32);
  assert_memory_equal(back.encryption_key.secret, id.encryption_key.secret, 32);
  assert_int_equal(cpc_user_identity_verify(&back), 0);
  cpc_secret_free(buf, len);

  cpc_user_identity_free(&id);
  cpc_user_identity_free(&back);
}

static void test_protobuf_rejects(void **state) {
  (void)state;
  cpc_user_identity id, other, back;
  uint8_t *buf, *bad;
  size_t len;

  make_identity(&id, 2);
  make_identity(&other, 0);
  cpc_user_identity_init(&back);

  assert_int_equal(cpc_user_identity_encode_public(&id, &buf, &len), 0);
  bad = malloc(len + 64);
  assert_non_null(bad);
  /* Unknown field 15 (varint 1). */
  memcpy(bad, buf, len);
  bad[len] = 0x78;
  bad[len + 1] = 0x01;
  assert_int_equal(cpc_user_identity_decode_public(bad, len + 2, &back),
                   CPC_EMALFORMED);
  /* A followed PeerId repeated (field 5 once more). */
  const cpc_peer_id *f = cpc_social_graph_at(&id.social_graph, 0);
  memcpy(bad, buf, len);
  bad[len] = 0x2a;
  bad[len + 1] = (uint8_t)f->len;
  memcpy(bad + len + 2, f->bytes, f->len);
  assert_int_equal(cpc_user_identity_decode_public(bad, len + 2 + f->len,
                                                   &back), CPC_EMALFORMED);
  /* A followed "PeerId" that is not one. */
  memcpy(bad, buf, len);
  memcpy(bad + len, "\x2a\x03\x00\x01\x00", 5);
  assert_int_not_equal(cpc_user_identity_decode_public(bad, len + 5, &back),
                       0);
  /* back untouched by all the failures. */
  assert_int_equal(back.peer_id.len, 0);
  /*
   * Truncations (never read past the end: ASan). Protobuf is not
   * self-delimiting, so a cut between two "following" entries is a valid
   * identity following fewer peers; every other cut fails.
   */
  for (size_t i = 0; i < len; i++) {
    uint8_t *t = malloc(i ? i : 1);
    memcpy(t, buf, i);
    if (cpc_user_identity_decode_public(t, i, &back) == 0)
      assert_true(cpc_social_graph_count(&back.social_graph) <
                  cpc_social_graph_count(&id.social_graph));
    free(t);
  }
  free(buf);

  /* peer_id of another key. */
  cpc_peer_id saved = id.peer_id;
  id.peer_id = other.peer_id;
  assert_int_equal(cpc_user_identity_encode_public(&id, &buf, &len), 0);
  assert_int_equal(cpc_user_identity_decode_public(buf, len, &back),
                   CPC_EMISMATCH);
  free(buf);
  id.peer_id = saved;

  /* A key file whose binding signature was tampered with. */
  id.binding_sig[10] ^= 1;
  assert_int_equal(cpc_user_identity_encode_private(&id, &buf, &len), 0);
  assert_int_equal(cpc_user_identity_decode_private(buf, len, &back),
                   CPC_EBADSIG);
  cpc_secret_free(buf, len);
  id.binding_sig[10] ^= 1;

  free(bad);
  cpc_user_identity_free(&id);
  cpc_user_identity_free(&other);
  cpc_user_identity_free(&back);
}

static void test_json_round_trip(void **state) {
  (void)state;
  cpc_user_identity id, back;
  char *json, err[256];

  make_identity(&id, 5);
  cpc_user_identity_init(&back);
  for (int pretty = 0; pretty < 2; pretty++) {
    assert_int_equal(cpc_user_identity_to_json(&id, pretty, &json), 0);
    assert_non_null(strstr(json, "\"peer_id\""));
    assert_int_equal(cpc_user_identity_from_json(json, strlen(json), &back,
                                                 err, sizeof err), 0);
    assert_same_public(&id, &back);
    assert_int_equal(cpc_user_identity_verify(&back), 0);
    /* No secret in the public form. */
    char *b64 = malloc(100);
    sodium_bin2base64(b64, 100, id.encryption_key.secret, 32,
                      sodium_base64_VARIANT_ORIGINAL);
    assert_null(strstr(json, b64));
    free(b64);
    free(json);
  }
  /* "following" may be left out. */
  cpc_social_graph_free(&id.social_graph);
  assert_int_equal(cpc_user_identity_to_json(&id, 0, &json), 0);
  char *cut = strstr(json, ",\"following\":[]");
  assert_non_null(cut);
  strcpy(cut, "}");
  assert_int_equal(cpc_user_identity_from_json(json, strlen(json), &back, err,
                                               sizeof err), 0);
  assert_int_equal(cpc_social_graph_count(&back.social_graph), 0);
  free(json);
  cpc_user_identity_free(&id);
  cpc_user_identity_free(&back);
}

/* Replace the first occurrence of from in src by to; malloc'd result. */
static char *replace(const char *src, const char *from, const char *to) {
  const char *at = strstr(src, from);
  assert_non_null(at);
  size_t n = strlen(src) - strlen(from) + strlen(to) + 1;
  char *out = malloc(n);
  snprintf(out, n, "%.*s%s%s", (int)(at - src), src, to, at + strlen(from));
  return out;
}

static void expect_json_error(const char *json, int want_rc,
                              const char *want_in_msg) {
  cpc_user_identity back;
  char err[256];
  cpc_user_identity_init(&back);
  int rc = cpc_user_identity_from_json(json, strlen(json), &back, err,
                                       sizeof err);
  if (rc != want_rc || !strstr(err, want_in_msg))
    fail_msg("rc %d (%s), message \"%s\"; wanted rc %d and \"%s\"", rc,
             cpc_strerror(rc), err, want_rc, want_in_msg);
  assert_int_equal(back.peer_id.len, 0);
  cpc_user_identity_free(&back);
}

static void test_json_strict(void **state) {
  (void)state;
  cpc_user_identity id, other;
  char *json, *bad, peer[CPC_PEER_ID_MAX_TEXT], other_peer[CPC_PEER_ID_MAX_TEXT];

  make_identity(&id, 1);
  make_identity(&other, 0);
  assert_int_equal(cpc_user_identity_to_json(&id, 0, &json), 0);
  assert_int_equal(cpc_peer_id_format(&id.peer_id, peer, sizeof peer), 0);
  assert_int_equal(cpc_peer_id_format(&other.peer_id, other_peer,
                                      sizeof other_peer), 0);

  bad = replace(json, "{", "{\"extra\":1,");
  expect_json_error(bad, CPC_EMALFORMED, "extra");
  free(bad);
  bad = replace(json, "\"peer_id\"", "\"peer\"");
  expect_json_error(bad, CPC_EMALFORMED, "peer");
  free(bad);
  bad = replace(json, "\"binding_signature\"", "\"binding_sig\"");
  expect_json_error(bad, CPC_EMALFORMED, "binding_sig");
  free(bad);
  /* Ill-typed fields name the field. */
  char from[200], to[200];
  snprintf(from, sizeof from, "\"peer_id\":\"%s\"", peer);
  bad = replace(json, from, "\"peer_id\":42");
  expect_json_error(bad, CPC_EMALFORMED, "\"peer_id\": expected a PeerId string, got an integer");
  free(bad);
  char e64[64];
  sodium_bin2base64(e64, sizeof e64, id.encryption_public, 32,
                    sodium_base64_VARIANT_ORIGINAL);
  snprintf(from, sizeof from, "\"encryption_public_key\":\"%s\"", e64);
  bad = replace(json, from, "\"encryption_public_key\":null");
  expect_json_error(bad, CPC_EMALFORMED,
                    "\"encryption_public_key\": expected a base64 string, got null");
  free(bad);
  snprintf(from, sizeof from, "\"peer_id\":\"%s\"", peer);
  bad = replace(json, "\"following\":[", "\"following\":{\"a\":[");
  expect_json_error(bad, CPC_EMALFORMED, "bad JSON");
  free(bad);
  bad = replace(json, "\"following\":[", "\"following\":[7,");
  expect_json_error(bad, CPC_EMALFORMED, "\"following\"[0]: expected a PeerId string, got an integer");
  free(bad);
  bad = replace(json, "\"following\":[", "\"following\":[\"nope\",");
  expect_json_error(bad, CPC_EMALFORMED, "\"following\"[0]: not a valid PeerId");
  free(bad);
  /* Duplicate follow. */
  const cpc_peer_id *f = cpc_social_graph_at(&id.social_graph, 0);
  char ftext[CPC_PEER_ID_MAX_TEXT];
  assert_int_equal(cpc_peer_id_format(f, ftext, sizeof ftext), 0);
  snprintf(to, sizeof to, "\"following\":[\"%s\",", ftext);
  bad = replace(json, "\"following\":[", to);
  expect_json_error(bad, CPC_EMALFORMED, "repeats");
  free(bad);
  /* PeerId of someone else. */
  snprintf(to, sizeof to, "\"peer_id\":\"%s\"", other_peer);
  bad = replace(json, from, to);
  expect_json_error(bad, CPC_EMISMATCH, "peer_id");
  free(bad);
  /* Bad base64, wrong key length. */
  bad = replace(json, "\"encryption_public_key\":\"", "\"encryption_public_key\":\"*");
  expect_json_error(bad, CPC_EMALFORMED, "encryption_public_key");
  free(bad);
  bad = replace(json, "\"encryption_public_key\":\"", "\"encryption_public_key\":\"AAAA");
  expect_json_error(bad, CPC_EMALFORMED, "encryption_public_key");
  free(bad);
  bad = replace(json, "\"binding_signature\":\"", "\"binding_signature\":\"\",\"x\":\"");
  expect_json_error(bad, CPC_EMALFORMED, "x");
  free(bad);
  bad = replace(json, "\"signing_public_key\":\"", "\"signing_public_key\":\"AAAA");
  expect_json_error(bad, CPC_EMALFORMED, "signing_public_key");
  free(bad);
  /* Duplicate keys, trailing garbage, not an object. */
  bad = replace(json, "{", "{\"following\":[],");
  expect_json_error(bad, CPC_EMALFORMED, "bad JSON");
  free(bad);
  expect_json_error("[1,2]", CPC_EMALFORMED, "identity JSON");
  expect_json_error("{\"peer_id\":", CPC_EMALFORMED, "bad JSON");

  free(json);
  cpc_user_identity_free(&id);
  cpc_user_identity_free(&other);
}

/* --- key files ----------------------------------------------------------- */

static char tmpdir[64];

static int setup_dir(void **state) {
  (void)state;
  strcpy(tmpdir, "/tmp/cpc-test-identity-XXXXXX");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state) {
  (void)state;
  DIR *d = opendir(tmpdir);
  struct dirent *e;
  char path[512];
  while (d && (e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
    unlink(path);
  }
  if (d)
    closedir(d);
  return rmdir(tmpdir);
}

static size_t dir_entries(void) {
  DIR *d = opendir(tmpdir);
  struct dirent *e;
  size_t n = 0;
  assert_non_null(d);
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
      n++;
  closedir(d);
  return n;
}

static void test_key_file(void **state) {
  (void)state;
  cpc_user_identity id, id2, back;
  char path[256];
  struct stat st;
  ino_t first_inode;
  mode_t old_umask = umask(0); /* the file must be 0600 whatever the umask */

  snprintf(path, sizeof path, "%s/identity", tmpdir);
  make_identity(&id, 3);
  make_identity(&id2, 0);
  cpc_user_identity_init(&back);

  assert_int_equal(cpc_user_identity_save(&id, path, 0), 0);
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0600);
  first_inode = st.st_ino;
  assert_int_equal(dir_entries(), 1); /* no temporary left behind */

  assert_int_equal(cpc_user_identity_load(path, &back), 0);
  assert_same_public(&id, &back);
  assert_int_equal(back.has_secrets, 1);

  /* No overwrite without asking; the old file stays as it was. */
  assert_int_equal(cpc_user_identity_save(&id2, path, 0), CPC_EEXIST);
  assert_int_equal(cpc_user_identity_load(path, &back), 0);
  assert_true(cpc_peer_id_equal(&back.peer_id, &id.peer_id));
  assert_int_equal(dir_entries(), 1);

  /* Overwrite replaces the file by rename (a new inode), still 0600. */
  assert_int_equal(cpc_user_identity_save(&id2, path, 1), 0);
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0600);
  assert_int_not_equal(st.st_ino, first_inode);
  assert_int_equal(dir_entries(), 1);
  assert_int_equal(cpc_user_identity_load(path, &back), 0);
  assert_true(cpc_peer_id_equal(&back.peer_id, &id2.peer_id));

  /* A file others may read is refused, with its mode reported. */
  assert_int_equal(chmod(path, 0644), 0);
  assert_int_equal(cpc_user_identity_load(path, &back), CPC_EPERM);
  uint8_t *buf;
  size_t len;
  unsigned mode = 0;
  assert_int_equal(cpc_key_file_read(path, 1024, &buf, &len, &mode),
                   CPC_EPERM);
  assert_int_equal(mode, 0644);
  assert_int_equal(chmod(path, 0600), 0);
  /* Size cap. */
  assert_int_equal(cpc_key_file_read(path, 10, &buf, &len, NULL), CPC_ETOOBIG);

  /* Missing file, missing directory, garbage file. */
  char missing[300];
  snprintf(missing, sizeof missing, "%s/nope", tmpdir);
  assert_int_equal(cpc_user_identity_load(missing, &back), CPC_ENOENT);
  snprintf(missing, sizeof missing, "%s/no/dir/identity", tmpdir);
  assert_int_equal(cpc_user_identity_save(&id, missing, 0), CPC_EIO);
  snprintf(missing, sizeof missing, "%s/garbage", tmpdir);
  assert_int_equal(cpc_key_file_write(missing, "\xff\xff\xff", 3, 0), 0);
  assert_int_equal(cpc_user_identity_load(missing, &back), CPC_EMALFORMED);
  /* back still holds the last good identity. */
  assert_true(cpc_peer_id_equal(&back.peer_id, &id2.peer_id));

  umask(old_umask);
  cpc_user_identity_free(&id);
  cpc_user_identity_free(&id2);
  cpc_user_identity_free(&back);
}

static void test_default_path(void **state) {
  (void)state;
  char path[64];
  char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
  setenv("CPC_HOME", "/x/cpc", 1);
  assert_int_equal(cpc_user_identity_default_path(path, sizeof path), 0);
  assert_string_equal(path, "/x/cpc/identity");
  unsetenv("CPC_HOME");
  setenv("HOME", "/home/u", 1);
  assert_int_equal(cpc_user_identity_default_path(path, sizeof path), 0);
  assert_string_equal(path, "/home/u/.cpc/identity");
  assert_int_equal(cpc_user_identity_default_path(path, 8), CPC_ETOOBIG);
  unsetenv("HOME");
  assert_int_equal(cpc_user_identity_default_path(path, sizeof path),
                   CPC_ENOENT);
  if (old_home) {
    setenv("HOME", old_home, 1);
    free(old_home);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_generate_and_binding),
      cmocka_unit_test(test_forged_binding),
      cmocka_unit_test(test_social_graph),
      cmocka_unit_test(test_social_graph_cap),
      cmocka_unit_test(test_protobuf_round_trips),
      cmocka_unit_test(test_protobuf_rejects),
      cmocka_unit_test(test_json_round_trip),
      cmocka_unit_test(test_json_strict),
      cmocka_unit_test_setup_teardown(test_key_file, setup_dir, teardown_dir),
      cmocka_unit_test(test_default_path),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
