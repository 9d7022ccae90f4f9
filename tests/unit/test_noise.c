/*
 * test_noise.c: Noise_XX_25519_ChaChaPoly_SHA256 against the cacophony
 * vectors, and the libp2p Noise session (identity payload, framing).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "cpc/error.h"
#include "cpc/keys.h"
#include "cpc/noise.h"
#include "cpc/peer_id.h"
#include "net/noise_int.h"

/* ---- helpers -------------------------------------------------------- */

static size_t unhex(const char *hex, uint8_t *out, size_t cap) {
  size_t n = strlen(hex) / 2;
  assert_true(strlen(hex) % 2 == 0);
  assert_true(n <= cap);
  assert_int_equal(sodium_hex2bin(out, cap, hex, strlen(hex), NULL, NULL, NULL),
                   0);
  return n;
}

static json_t *load_vectors(void) {
  const char *dir = getenv("CPC_TESTDATA");
  char path[1024];
  json_error_t err;
  json_t *root;

  assert_non_null(dir);
  snprintf(path, sizeof path,
           "%s/noise/cacophony_xx_25519_chachapoly_sha256.json", dir);
  root = json_load_file(path, 0, &err);
  if (!root)
    fail_msg("cannot load %s: %s", path, err.text);
  return root;
}

static const char *jstr(json_t *obj, const char *key) {
  const char *s = json_string_value(json_object_get(obj, key));
  assert_non_null(s);
  return s;
}

/* ---- Noise core: cacophony vectors ---------------------------------- */

static void run_vector(json_t *v) {
  struct cpc__noise_handshake ini, res;
  struct cpc__noise_cipher ini_tx, ini_rx, res_tx, res_rx;
  uint8_t prologue[256], is[32], ie[32], rs[32], re[32], hh[32];
  uint8_t h_ini[32], h_res[32];
  uint8_t payload[1024], expect[1024], msg[1024], *pp;
  size_t plen, prologue_len, elen, mlen, olen;
  json_t *msgs = json_object_get(v, "messages");
  size_t i;

  assert_string_equal(jstr(v, "protocol_name"),
                      "Noise_XX_25519_ChaChaPoly_SHA256");
  prologue_len = unhex(jstr(v, "init_prologue"), prologue, sizeof prologue);
  unhex(jstr(v, "init_static"), is, sizeof is);
  unhex(jstr(v, "init_ephemeral"), ie, sizeof ie);
  unhex(jstr(v, "resp_static"), rs, sizeof rs);
  unhex(jstr(v, "resp_ephemeral"), re, sizeof re);
  unhex(jstr(v, "handshake_hash"), hh, sizeof hh);

  assert_int_equal(cpc__noise_hs_init(&ini, 1, prologue, prologue_len, is, ie),
                   0);
  assert_int_equal(cpc__noise_hs_init(&res, 0, prologue, prologue_len, rs, re),
                   0);
  assert_true(json_array_size(msgs) > 3);
  for (i = 0; i < json_array_size(msgs); i++) {
    json_t *m = json_array_get(msgs, i);
    int from_ini = (i % 2) == 0;
    plen = unhex(jstr(m, "payload"), payload, sizeof payload);
    elen = unhex(jstr(m, "ciphertext"), expect, sizeof expect);
    if (i < 3) {
      struct cpc__noise_handshake *w = from_ini ? &ini : &res;
      struct cpc__noise_handshake *r = from_ini ? &res : &ini;
      assert_int_equal(
          cpc__noise_hs_write(w, payload, plen, msg, sizeof msg, &mlen), 0);
      assert_int_equal(mlen, elen);
      assert_memory_equal(msg, expect, elen);
      assert_int_equal(cpc__noise_hs_read(r, msg, mlen, &pp, &olen), 0);
      assert_int_equal(olen, plen);
      assert_memory_equal(pp, payload, plen);
      if (i == 2) {
        assert_int_equal(cpc__noise_hs_split(&ini, &ini_tx, &ini_rx, h_ini), 0);
        assert_int_equal(cpc__noise_hs_split(&res, &res_tx, &res_rx, h_res), 0);
        assert_memory_equal(h_ini, hh, 32);
        assert_memory_equal(h_res, hh, 32);
      }
    } else {
      struct cpc__noise_cipher *tx = from_ini ? &ini_tx : &res_tx;
      struct cpc__noise_cipher *rx = from_ini ? &res_rx : &ini_rx;
      assert_int_equal(
          cpc__noise_cipher_encrypt(tx, NULL, 0, payload, plen, msg, &mlen), 0);
      assert_int_equal(mlen, elen);
      assert_memory_equal(msg, expect, elen);
      /* decrypt in place */
      assert_int_equal(
          cpc__noise_cipher_decrypt(rx, NULL, 0, msg, mlen, msg, &olen), 0);
      assert_int_equal(olen, plen);
      assert_memory_equal(msg, payload, plen);
    }
  }
  /* Counters advanced once per transport message in each direction:
   * messages 3, 5, ... come from the responder, 4, 6, ... from the
   * initiator. */
  {
    uint64_t from_res = 0, from_ini = 0;
    for (i = 3; i < json_array_size(msgs); i++)
      (i % 2 == 0) ? from_ini++ : from_res++;
    assert_true(from_ini > 0 && from_res > 0);
    assert_int_equal(ini_tx.n, from_ini);
    assert_int_equal(res_rx.n, from_ini);
    assert_int_equal(res_tx.n, from_res);
    assert_int_equal(ini_rx.n, from_res);
  }
  cpc__noise_hs_wipe(&ini);
  cpc__noise_hs_wipe(&res);
}

static void test_cacophony_vectors(void **state) {
  json_t *root = load_vectors();
  json_t *vs = json_object_get(root, "vectors");
  (void)state;
  assert_true(json_array_size(vs) >= 1);
  for (size_t i = 0; i < json_array_size(vs); i++)
    run_vector(json_array_get(vs, i));
  json_decref(root);
}

/* A wrong prologue makes message 2 fail to authenticate. */
static void test_prologue_mismatch(void **state) {
  struct cpc__noise_handshake ini, res;
  uint8_t is[32], rs[32], msg[256], *pp;
  size_t mlen, olen;
  (void)state;
  randombytes_buf(is, sizeof is);
  randombytes_buf(rs, sizeof rs);
  assert_int_equal(
      cpc__noise_hs_init(&ini, 1, (const uint8_t *)"a", 1, is, NULL), 0);
  assert_int_equal(
      cpc__noise_hs_init(&res, 0, (const uint8_t *)"b", 1, rs, NULL), 0);
  assert_int_equal(cpc__noise_hs_write(&ini, NULL, 0, msg, sizeof msg, &mlen),
                   0);
  assert_int_equal(cpc__noise_hs_read(&res, msg, mlen, &pp, &olen), 0);
  assert_int_equal(cpc__noise_hs_write(&res, NULL, 0, msg, sizeof msg, &mlen),
                   0);
  assert_int_equal(cpc__noise_hs_read(&ini, msg, mlen, &pp, &olen), CPC_EAUTH);
  /* Out-of-turn calls are refused. */
  assert_int_equal(cpc__noise_hs_write(&res, NULL, 0, msg, sizeof msg, &mlen),
                   CPC_ESTATE);
  cpc__noise_hs_wipe(&ini);
  cpc__noise_hs_wipe(&res);
}

/* A low-order remote ephemeral (all-zero DH output) is rejected. */
static void test_zero_dh_rejected(void **state) {
  struct cpc__noise_handshake res;
  uint8_t rs[32], msg[32] = {0}, out[256], *pp;
  size_t mlen, olen;
  (void)state;
  randombytes_buf(rs, sizeof rs);
  assert_int_equal(cpc__noise_hs_init(&res, 0, NULL, 0, rs, NULL), 0);
  assert_int_equal(cpc__noise_hs_read(&res, msg, 32, &pp, &olen), 0);
  assert_int_equal(cpc__noise_hs_write(&res, NULL, 0, out, sizeof out, &mlen),
                   CPC_ECRYPTO);
  cpc__noise_hs_wipe(&res);
}

/* ---- libp2p Noise sessions back to back ---------------------------- */

struct buf {
  uint8_t *p;
  size_t len, cap;
};

static void buf_append(struct buf *b, const uint8_t *d, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n)
      cap *= 2;
    b->p = realloc(b->p, cap);
    assert_non_null(b->p);
    b->cap = cap;
  }
  if (n > 0)
    memcpy(b->p + b->len, d, n);
  b->len += n;
}

struct side {
  cpc_noise_session *s;
  cpc_privkey key;
  cpc_peer_id id;
  uint8_t static_pub[32]; /* our Noise static key */
  struct buf out;         /* wire bytes for the other side */
  struct buf in;          /* plaintext received */
  int done_calls;
  size_t plain_calls, max_plain;
  const cpc_noise_remote *remote;
  int fail_plaintext; /* make the plaintext callback fail */
  int reply;          /* encrypt a reply from inside the plaintext callback */
  int reply_rc;
};

static int on_send(void *user, const uint8_t *data, size_t len) {
  struct side *sd = user;
  assert_true(len >= 2 && len <= 65537);
  buf_append(&sd->out, data, len);
  return 0;
}

static int on_done(void *user, const cpc_noise_remote *remote) {
  struct side *sd = user;
  sd->done_calls++;
  sd->remote = remote;
  assert_ptr_equal(remote, cpc_noise_session_remote(sd->s));
  return 0;
}

static int on_plaintext(void *user, uint8_t *data, size_t len) {
  struct side *sd = user;
  if (sd->fail_plaintext)
    return CPC_ECLOSED;
  assert_true(len > 0 && len <= CPC_NOISE_MAX_PLAINTEXT);
  buf_append(&sd->in, data, len);
  if (sd->reply) {
    uint8_t out[64];
    size_t w;
    sd->reply_rc =
        cpc_noise_session_encrypt(sd->s, data, 1, out, sizeof out, &w);
    if (sd->reply_rc == 0)
      buf_append(&sd->out, out, w);
  }
  sd->plain_calls++;
  if (len > sd->max_plain)
    sd->max_plain = len;
  return 0;
}

static const cpc_noise_callbacks callbacks = {on_send, on_done, on_plaintext};

static const char *const ini_muxers[] = {"/yamux/1.0.0"};
static const char *const res_muxers[] = {"/yamux/1.0.0", "/mplex/6.7.0"};

static void side_init(struct side *sd, enum cpc_key_type type, int initiator,
                      const cpc_peer_id *expect) {
  cpc_noise_config cfg = {0};
  memset(sd, 0, sizeof *sd);
  assert_int_equal(cpc_privkey_generate(type, &sd->key), 0);
  assert_int_equal(cpc_peer_id_from_pubkey(&sd->key.pub, &sd->id), 0);
  cfg.initiator = initiator;
  cfg.identity = &sd->key;
  cfg.expected_peer = expect;
  cfg.stream_muxers = initiator ? ini_muxers : res_muxers;
  cfg.n_stream_muxers = initiator ? 1 : 2;
  assert_int_equal(cpc_noise_session_new(&cfg, &callbacks, sd, &sd->s), 0);
  memcpy(sd->static_pub, sd->s->hs.s_pk, 32);
}

static void side_free(struct side *sd) {
  cpc_noise_session_free(sd->s);
  cpc_privkey_wipe(&sd->key);
  free(sd->out.p);
  free(sd->in.p);
}

enum split { SPLIT_WHOLE, SPLIT_BYTES, SPLIT_RANDOM };

static uint32_t rng_state = 0x9e3779b9u;
static uint32_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

/* Deliver everything from->out has to to->s, split as asked; the first
 * error of to's recv is returned. */
static int deliver(struct side *from, struct side *to, enum split split) {
  struct buf wire = from->out;
  size_t pos = 0;
  int rc = 0;
  memset(&from->out, 0, sizeof from->out);
  while (pos < wire.len && rc == 0) {
    size_t n = wire.len - pos;
    if (split == SPLIT_BYTES)
      n = 1;
    else if (split == SPLIT_RANDOM && n > 1)
      n = 1 + rng() % (n < 70000 ? n : 70000);
    rc = cpc_noise_session_recv(to->s, wire.p + pos, n);
    pos += n;
  }
  free(wire.p);
  return rc;
}

/* Run the handshake to completion (or the first error, returned). */
static int handshake(struct side *ini, struct side *res, enum split split) {
  int rc;
  assert_int_equal(cpc_noise_session_start(res->s), 0);
  assert_int_equal(cpc_noise_session_start(ini->s), 0);
  assert_int_equal(cpc_noise_session_start(ini->s), CPC_ESTATE);
  while (ini->out.len > 0 || res->out.len > 0) {
    if ((rc = deliver(ini, res, split)) != 0)
      return rc;
    if ((rc = deliver(res, ini, split)) != 0)
      return rc;
  }
  return 0;
}

static void send_plain(struct side *from, const uint8_t *p, size_t len) {
  size_t need = cpc_noise_encrypted_size(len), w;
  uint8_t *out = malloc(need ? need : 1);
  assert_non_null(out);
  assert_int_equal(cpc_noise_session_encrypt(from->s, p, len, out, need, &w),
                   0);
  assert_int_equal(w, need);
  buf_append(&from->out, out, w);
  free(out);
}

static void check_established(struct side *ini, struct side *res) {
  const cpc_noise_remote *r;
  assert_int_equal(ini->done_calls, 1);
  assert_int_equal(res->done_calls, 1);
  assert_true(cpc_noise_session_established(ini->s));
  assert_true(cpc_noise_session_established(res->s));
  assert_null(cpc_noise_session_error_detail(ini->s));
  /* Each side authenticated the other's identity. */
  r = ini->remote;
  assert_true(cpc_peer_id_equal(&r->peer_id, &res->id));
  assert_true(cpc_pubkey_equal(&r->identity, &res->key.pub));
  assert_int_equal(r->n_stream_muxers, 2);
  assert_string_equal(r->stream_muxers[0], "/yamux/1.0.0");
  assert_string_equal(r->stream_muxers[1], "/mplex/6.7.0");
  assert_int_equal(r->n_webtransport_certhashes, 0);
  r = res->remote;
  assert_true(cpc_peer_id_equal(&r->peer_id, &ini->id));
  assert_true(cpc_pubkey_equal(&r->identity, &ini->key.pub));
  assert_int_equal(r->n_stream_muxers, 1);
  assert_string_equal(r->stream_muxers[0], "/yamux/1.0.0");
  /* The static keys each side saw are the other's. */
  assert_memory_equal(ini->remote->static_key, res->static_pub, 32);
  assert_memory_equal(res->remote->static_key, ini->static_pub, 32);
}

static void exchange(struct side *ini, struct side *res, enum split split) {
  static const uint8_t hello[] = "hello from the dialer";
  static const uint8_t world[] = "and hello back from the listener";
  send_plain(ini, hello, sizeof hello);
  send_plain(res, world, sizeof world);
  send_plain(ini, hello, 5);
  assert_int_equal(deliver(ini, res, split), 0);
  assert_int_equal(deliver(res, ini, split), 0);
  assert_int_equal(res->in.len, sizeof hello + 5);
  assert_memory_equal(res->in.p, hello, sizeof hello);
  assert_memory_equal(res->in.p + sizeof hello, hello, 5);
  assert_int_equal(ini->in.len, sizeof world);
  assert_memory_equal(ini->in.p, world, sizeof world);
  /* Two frames one way, one the other: the nonces moved as much. */
  assert_int_equal(ini->s->tx.n, 2);
  assert_int_equal(res->s->rx.n, 2);
  assert_int_equal(res->s->tx.n, 1);
  assert_int_equal(ini->s->rx.n, 1);
}

static void test_session_key_types(void **state) {
  static const enum cpc_key_type types[] = {CPC_KEY_ED25519, CPC_KEY_SECP256K1};
  static const enum split splits[] = {SPLIT_WHOLE, SPLIT_BYTES, SPLIT_RANDOM};
  (void)state;
  for (size_t a = 0; a < 2; a++)
    for (size_t b = 0; b < 2; b++)
      for (size_t sp = 0; sp < 3; sp++) {
        struct side ini, res;
        cpc_peer_id expect;
        side_init(&res, types[b], 0, NULL);
        expect = res.id; /* dial with the listener's /p2p/ id */
        side_init(&ini, types[a], 1, &expect);
        assert_null(cpc_noise_session_remote(ini.s));
        assert_int_equal(handshake(&ini, &res, splits[sp]), 0);
        check_established(&ini, &res);
        exchange(&ini, &res, splits[sp]);
        side_free(&ini);
        side_free(&res);
      }
}

/* Bytes of the responder's first transport frame right behind the
 * initiator's message 3 arrive in one read. */
static void test_data_right_after_handshake(void **state) {
  struct side ini, res;
  (void)state;
  side_init(&res, CPC_KEY_ED25519, 0, NULL);
  side_init(&ini, CPC_KEY_ED25519, 1, NULL);
  assert_int_equal(cpc_noise_session_start(ini.s), 0);
  assert_int_equal(cpc_noise_session_start(res.s), 0);
  assert_int_equal(deliver(&ini, &res, SPLIT_WHOLE), 0);
  assert_int_equal(deliver(&res, &ini, SPLIT_WHOLE), 0);
  assert_int_equal(ini.done_calls, 1); /* initiator done after writing msg 3 */
  assert_int_equal(res.done_calls, 0);
  send_plain(&ini, (const uint8_t *)"early", 5);
  assert_int_equal(deliver(&ini, &res, SPLIT_WHOLE), 0);
  assert_int_equal(res.done_calls, 1);
  assert_int_equal(res.in.len, 5);
  assert_memory_equal(res.in.p, "early", 5);
  side_free(&ini);
  side_free(&res);
}

static void test_wrong_expected_peer(void **state) {
  struct side ini, res, other;
  cpc_peer_id expect;
  (void)state;
  side_init(&other, CPC_KEY_ED25519, 0, NULL);
  expect = other.id;
  side_init(&res, CPC_KEY_ED25519, 0, NULL);
  side_init(&ini, CPC_KEY_SECP256K1, 1, &expect);
  assert_int_equal(handshake(&ini, &res, SPLIT_WHOLE), CPC_EMISMATCH);
  assert_non_null(strstr(cpc_noise_session_error_detail(ini.s), "PeerId"));
  /* The dialer stopped before message 3: it did not reveal itself. */
  assert_int_equal(ini.out.len, 0);
  assert_int_equal(ini.done_calls, 0);
  assert_null(cpc_noise_session_remote(ini.s));
  assert_false(cpc_noise_session_established(ini.s));
  /* Sticky: later calls give the same error. */
  assert_int_equal(cpc_noise_session_recv(ini.s, (uint8_t *)"x", 1),
                   CPC_EMISMATCH);
  side_free(&ini);
  side_free(&res);
  side_free(&other);
}

/* Replace s's pending payload with one signed over another static key. */
static void forge_payload_static(struct side *sd) {
  uint8_t fake[32];
  randombytes_buf(fake, sizeof fake);
  free(sd->s->payload);
  assert_int_equal(cpc__noise_payload_build(&sd->key, fake, NULL, 0,
                                            &sd->s->payload,
                                            &sd->s->payload_len),
                   0);
}

/* Replace s's pending payload with one naming thief's identity key but
 * carrying sd's (valid for sd) signature. */
static void forge_payload_identity(struct side *sd, const cpc_privkey *thief) {
  Libp2p__Noise__NoiseHandshakePayload *m;
  uint8_t key[CPC_PUBKEY_PROTO_MAX];
  size_t key_len;
  ProtobufCBinaryData orig;
  m = libp2p__noise__noise_handshake_payload__unpack(NULL, sd->s->payload_len,
                                                     sd->s->payload);
  assert_non_null(m);
  assert_int_equal(cpc_pubkey_encode(&thief->pub, key, sizeof key, &key_len),
                   0);
  orig = m->identity_key; /* restored before freeing the unpacked copy */
  m->identity_key.data = key;
  m->identity_key.len = key_len;
  sd->s->payload =
      realloc(sd->s->payload,
              libp2p__noise__noise_handshake_payload__get_packed_size(m));
  assert_non_null(sd->s->payload);
  sd->s->payload_len =
      libp2p__noise__noise_handshake_payload__pack(m, sd->s->payload);
  m->identity_key = orig;
  libp2p__noise__noise_handshake_payload__free_unpacked(m, NULL);
}

static void test_forged_signature(void **state) {
  (void)state;
  for (int forger_is_initiator = 0; forger_is_initiator < 2;
       forger_is_initiator++)
    for (int how = 0; how < 2; how++) {
      struct side ini, res, thief;
      struct side *forger, *victim;
      side_init(&res, CPC_KEY_SECP256K1, 0, NULL);
      side_init(&ini, CPC_KEY_ED25519, 1, NULL);
      side_init(&thief, how ? CPC_KEY_SECP256K1 : CPC_KEY_ED25519, 0, NULL);
      forger = forger_is_initiator ? &ini : &res;
      victim = forger_is_initiator ? &res : &ini;
      if (how == 0)
        forge_payload_static(forger);
      else
        forge_payload_identity(forger, &thief.key);
      assert_int_equal(handshake(&ini, &res, SPLIT_RANDOM), CPC_EBADSIG);
      assert_non_null(
          strstr(cpc_noise_session_error_detail(victim->s), "signature"));
      assert_int_equal(victim->done_calls, 0);
      side_free(&ini);
      side_free(&res);
      side_free(&thief);
    }
}

static void established_pair(struct side *ini, struct side *res) {
  side_init(res, CPC_KEY_ED25519, 0, NULL);
  side_init(ini, CPC_KEY_SECP256K1, 1, NULL);
  assert_int_equal(handshake(ini, res, SPLIT_WHOLE), 0);
}

static void test_tampered_frame(void **state) {
  (void)state;
  /* Flip a bit in the ciphertext, in the tag, or swap two frames. */
  for (int where = 0; where < 3; where++) {
    struct side ini, res;
    uint8_t out[64];
    established_pair(&ini, &res);
    send_plain(&ini, (const uint8_t *)"first", 5);
    send_plain(&ini, (const uint8_t *)"other", 5);
    assert_int_equal(ini.out.len, 2 * (5 + 18));
    if (where == 0)
      ini.out.p[3] ^= 0x01;
    else if (where == 1)
      ini.out.p[2 + 5 + 15] ^= 0x80;
    else {
      memcpy(out, ini.out.p, 23);
      memmove(ini.out.p, ini.out.p + 23, 23);
      memcpy(ini.out.p + 23, out, 23);
    }
    assert_int_equal(deliver(&ini, &res, SPLIT_BYTES), CPC_EAUTH);
    assert_int_equal(res.in.len, 0); /* nothing unauthenticated delivered */
    assert_non_null(
        strstr(cpc_noise_session_error_detail(res.s), "authentication"));
    /* The session is dead both ways. */
    size_t w;
    assert_int_equal(cpc_noise_session_encrypt(res.s, out, 1, out + 8, 48, &w),
                     CPC_EAUTH);
    assert_int_equal(cpc_noise_session_recv(res.s, out, 1), CPC_EAUTH);
    side_free(&ini);
    side_free(&res);
  }
}

static void test_tampered_handshake(void **state) {
  (void)state;
  for (size_t msg = 0; msg < 2; msg++) {
    struct side ini, res;
    side_init(&res, CPC_KEY_ED25519, 0, NULL);
    side_init(&ini, CPC_KEY_ED25519, 1, NULL);
    assert_int_equal(cpc_noise_session_start(ini.s), 0);
    assert_int_equal(cpc_noise_session_start(res.s), 0);
    assert_int_equal(deliver(&ini, &res, SPLIT_WHOLE), 0);
    if (msg == 0) {
      res.out.p[res.out.len - 1] ^= 1; /* message 2, payload tag */
      assert_int_equal(deliver(&res, &ini, SPLIT_WHOLE), CPC_EAUTH);
    } else {
      assert_int_equal(deliver(&res, &ini, SPLIT_WHOLE), 0);
      ini.out.p[10] ^= 1; /* message 3, encrypted static key */
      assert_int_equal(deliver(&ini, &res, SPLIT_WHOLE), CPC_EAUTH);
    }
    side_free(&ini);
    side_free(&res);
  }
}

static void test_large_message_frames(void **state) {
  struct side ini, res;
  size_t n = (1u << 20) + 7, need, pos, frames = 0, w;
  uint8_t *big = malloc(n), *out;
  (void)state;
  assert_non_null(big);
  randombytes_buf(big, n);
  established_pair(&ini, &res);
  need = cpc_noise_encrypted_size(n);
  assert_int_equal(need, n + 18 * ((n + 65518) / 65519));
  assert_int_equal(cpc_noise_encrypted_size(0), 0);
  assert_int_equal(cpc_noise_encrypted_size(65519), 65537);
  assert_int_equal(cpc_noise_encrypted_size(65520), 65520 + 36);
  out = malloc(need);
  assert_non_null(out);
  /* Too small a buffer: refused, nothing consumed, still usable. */
  assert_int_equal(cpc_noise_session_encrypt(ini.s, big, n, out, need - 1, &w),
                   CPC_ETOOBIG);
  assert_int_equal(ini.s->tx.n, 0);
  assert_int_equal(cpc_noise_session_encrypt(ini.s, big, n, out, need, &w), 0);
  assert_int_equal(w, need);
  /* Walk the frames: every one within 65535 bytes. */
  for (pos = 0; pos < w; frames++) {
    size_t flen = ((size_t)out[pos] << 8) | out[pos + 1];
    assert_true(flen >= 17 && flen <= 65535);
    pos += 2 + flen;
  }
  assert_int_equal(pos, w);
  assert_int_equal(frames, (n + 65518) / 65519);
  assert_int_equal(ini.s->tx.n, frames);
  buf_append(&ini.out, out, w);
  assert_int_equal(deliver(&ini, &res, SPLIT_RANDOM), 0);
  assert_int_equal(res.in.len, n);
  assert_memory_equal(res.in.p, big, n);
  assert_int_equal(res.plain_calls, frames);
  assert_int_equal(res.max_plain, CPC_NOISE_MAX_PLAINTEXT);
  assert_int_equal(res.s->rx.n, frames);
  /* No frame buffer left behind once the last frame completed. */
  assert_null(res.s->frame);
  free(big);
  free(out);
  side_free(&ini);
  side_free(&res);
}

static void test_frame_limits(void **state) {
  struct cpc__noise_cipher cs;
  struct cpc__noise_handshake hs;
  uint8_t key[32] = {1}, *big = calloc(1, 65536 + 16), *pp;
  size_t len;
  (void)state;
  assert_non_null(big);
  /* A transport message over 65535 bytes is never produced. */
  cpc__noise_cipher_init(&cs, key);
  assert_int_equal(
      cpc__noise_cipher_encrypt(&cs, NULL, 0, big, 65520, big, &len),
      CPC_ETOOBIG);
  assert_int_equal(
      cpc__noise_cipher_encrypt(&cs, NULL, 0, big, 65519, big, &len), 0);
  assert_int_equal(len, 65535);
  assert_int_equal(cs.n, 1);
  /* Nor a handshake message read or written over it. */
  assert_int_equal(cpc__noise_hs_init(&hs, 0, NULL, 0, key, NULL), 0);
  assert_int_equal(cpc__noise_hs_read(&hs, big, 65536, &pp, &len), CPC_ETOOBIG);
  assert_int_equal(cpc__noise_hs_init(&hs, 1, NULL, 0, key, NULL), 0);
  assert_int_equal(cpc__noise_hs_write(&hs, big, 65504, big, 65536 + 16, &len),
                   CPC_ETOOBIG);
  assert_int_equal(cpc__noise_hs_write(&hs, big, 65503, big, 65536 + 16, &len),
                   0);
  assert_int_equal(len, 65535);
  /* Nonce exhaustion. */
  cs.n = UINT64_MAX;
  assert_int_equal(cpc__noise_cipher_encrypt(&cs, NULL, 0, big, 1, big, &len),
                   CPC_ESTATE);
  cpc__noise_cipher_wipe(&cs);
  cpc__noise_hs_wipe(&hs);
  free(big);
}

static void test_bad_frames(void **state) {
  (void)state;
  /* A transport frame shorter than a tag, and an empty one. */
  for (int empty = 0; empty < 2; empty++) {
    struct side ini, res;
    uint8_t frame[2 + 15] = {0, 15};
    established_pair(&ini, &res);
    if (empty)
      frame[1] = 0;
    assert_int_equal(cpc_noise_session_recv(res.s, frame, empty ? 2 : 17),
                     CPC_EPROTO);
    side_free(&ini);
    side_free(&res);
  }
  /* Garbage as handshake message 1: too short, then random 32+ bytes are
   * accepted as an ephemeral key but message 3 cannot be faked. */
  {
    struct side res;
    uint8_t garbage[2 + 40] = {0, 10};
    side_init(&res, CPC_KEY_ED25519, 0, NULL);
    assert_int_equal(cpc_noise_session_recv(res.s, garbage, 12), CPC_ESTATE);
    assert_int_equal(cpc_noise_session_start(res.s), 0);
    assert_int_equal(cpc_noise_session_recv(res.s, garbage, 12), CPC_EPROTO);
    side_free(&res);
    side_init(&res, CPC_KEY_ED25519, 0, NULL);
    assert_int_equal(cpc_noise_session_start(res.s), 0);
    randombytes_buf(garbage + 2, 40);
    garbage[0] = 0;
    garbage[1] = 40;
    assert_int_equal(cpc_noise_session_recv(res.s, garbage, 42), 0);
    assert_true(res.out.len > 2 + 96); /* message 2 went out */
    randombytes_buf(garbage + 2, 40);
    garbage[1] = 40;
    assert_int_equal(cpc_noise_session_recv(res.s, garbage, 42), CPC_EPROTO);
    side_free(&res);
  }
}

static void test_state_and_callbacks(void **state) {
  struct side ini, res;
  uint8_t out[64];
  size_t w;
  cpc_noise_config cfg = {0};
  cpc_noise_session *s;
  static const char *const too_many[CPC_NOISE_MAX_MUXERS + 1] = {"/a"};
  (void)state;
  side_init(&res, CPC_KEY_ED25519, 0, NULL);
  side_init(&ini, CPC_KEY_ED25519, 1, NULL);
  /* Encrypting before the handshake is refused. */
  assert_int_equal(
      cpc_noise_session_encrypt(ini.s, out, 1, out, sizeof out, &w),
      CPC_ESTATE);
  assert_int_equal(handshake(&ini, &res, SPLIT_WHOLE), 0);
  /* A failing plaintext callback stops recv and fails the session. */
  res.fail_plaintext = 1;
  send_plain(&ini, (const uint8_t *)"abc", 3);
  assert_int_equal(deliver(&ini, &res, SPLIT_WHOLE), CPC_ECLOSED);
  assert_false(cpc_noise_session_established(res.s));
  side_free(&ini);
  side_free(&res);
  /* Replies encrypted inside the plaintext callback go out; when one
   * fails the session (send nonces exhausted), the frames behind it in
   * the same read are not delivered. */
  established_pair(&ini, &res);
  res.reply = 1;
  send_plain(&ini, (const uint8_t *)"1", 1);
  send_plain(&ini, (const uint8_t *)"2", 1);
  assert_int_equal(deliver(&ini, &res, SPLIT_WHOLE), 0);
  assert_int_equal(res.out.len, 2 * 19);
  assert_int_equal(deliver(&res, &ini, SPLIT_WHOLE), 0);
  assert_memory_equal(ini.in.p, "12", 2);
  res.s->tx.n = UINT64_MAX;
  send_plain(&ini, (const uint8_t *)"3", 1);
  send_plain(&ini, (const uint8_t *)"4", 1);
  assert_int_equal(deliver(&ini, &res, SPLIT_WHOLE), CPC_ESTATE);
  assert_int_equal(res.reply_rc, CPC_ESTATE);
  assert_int_equal(res.in.len, 3); /* "1", "2", "3": not "4" */
  side_free(&ini);
  side_free(&res);
  /* Bad configurations. */
  cfg.identity = NULL;
  assert_int_equal(cpc_noise_session_new(&cfg, &callbacks, NULL, &s),
                   CPC_EINVAL);
  side_init(&res, CPC_KEY_ED25519, 0, NULL);
  cfg.identity = &res.key;
  cfg.stream_muxers = too_many;
  cfg.n_stream_muxers = CPC_NOISE_MAX_MUXERS + 1;
  assert_int_equal(cpc_noise_session_new(&cfg, &callbacks, NULL, &s),
                   CPC_EINVAL);
  assert_null(s);
  side_free(&res);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cacophony_vectors),
      cmocka_unit_test(test_prologue_mismatch),
      cmocka_unit_test(test_zero_dh_rejected),
      cmocka_unit_test(test_session_key_types),
      cmocka_unit_test(test_data_right_after_handshake),
      cmocka_unit_test(test_wrong_expected_peer),
      cmocka_unit_test(test_forged_signature),
      cmocka_unit_test(test_tampered_frame),
      cmocka_unit_test(test_tampered_handshake),
      cmocka_unit_test(test_large_message_frames),
      cmocka_unit_test(test_frame_limits),
      cmocka_unit_test(test_bad_frames),
      cmocka_unit_test(test_state_and_callbacks),
  };
  if (sodium_init() < 0)
    return 1;
  return cmocka_run_group_tests(tests, NULL, NULL);
}
