/*
 * fuzz_noise.c: libFuzzer target for the libp2p Noise session.
 *
 * The first input byte picks a mode; the rest is the attacker's bytes.
 *   0: the responder's view of a handshake: raw bytes from the "dialer",
 *      delivered in pieces whose sizes come from the input.
 *   1: transport frames after a completed handshake (fixed keys): raw
 *      bytes straight into the deframer.
 *   2: valid frames from the real peer, then attacker edits: a byte is
 *      flipped at a chosen offset and the stream is cut into chosen
 *      pieces; must authenticate or fail with CPC_EAUTH / CPC_EPROTO.
 *   3: the handshake payload decoder and signature check directly (it
 *      sits behind AEAD, so modes 0-2 cannot reach it with forged bytes).
 * Nothing may crash, leak or read out of bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/keys.h"
#include "cpc/noise.h"
#include "net/noise_int.h"

struct side {
  cpc_noise_session *s;
  uint8_t *out;
  size_t out_len;
  size_t plain;
};

static int on_send(void *user, const uint8_t *data, size_t len) {
  struct side *sd = user;
  uint8_t *p = realloc(sd->out, sd->out_len + len);
  if (!p)
    return CPC_ENOMEM;
  memcpy(p + sd->out_len, data, len);
  sd->out = p;
  sd->out_len += len;
  return 0;
}

static int on_plaintext(void *user, uint8_t *data, size_t len) {
  struct side *sd = user;
  /* Touch every byte so ASan sees any out-of-bounds plaintext. */
  for (size_t i = 0; i < len; i++)
    sd->plain += data[i];
  return 0;
}

static const cpc_noise_callbacks callbacks = {on_send, NULL, on_plaintext};

static cpc_privkey ini_key, res_key;
static const uint8_t ini_static[32] = {1}, ini_eph[32] = {2};
static const uint8_t res_static[32] = {3}, res_eph[32] = {4};

static void init_keys(void) {
  static int ready;
  uint8_t seed[32];
  if (ready)
    return;
  memset(seed, 0x11, sizeof seed);
  if (cpc_privkey_from_raw(CPC_KEY_ED25519, seed, sizeof seed, &ini_key) != 0)
    abort();
  memset(seed, 0x22, sizeof seed);
  if (cpc_privkey_from_raw(CPC_KEY_SECP256K1, seed, sizeof seed, &res_key) != 0)
    abort();
  ready = 1;
}

static void side_new(struct side *sd, int initiator) {
  cpc_noise_config cfg = {0};
  memset(sd, 0, sizeof *sd);
  cfg.initiator = initiator;
  cfg.identity = initiator ? &ini_key : &res_key;
  cfg.static_secret = initiator ? ini_static : res_static;
  cfg.ephemeral_secret = initiator ? ini_eph : res_eph;
  if (cpc_noise_session_new(&cfg, &callbacks, sd, &sd->s) != 0 ||
      cpc_noise_session_start(sd->s) != 0)
    abort();
}

static void side_free(struct side *sd) {
  cpc_noise_session_free(sd->s);
  free(sd->out);
}

/* Move from's pending output into to. */
static int pass(struct side *from, struct side *to) {
  uint8_t *p = from->out;
  size_t n = from->out_len;
  int rc;
  from->out = NULL;
  from->out_len = 0;
  rc = cpc_noise_session_recv(to->s, p, n);
  free(p);
  return rc;
}

/* Feed data to s in pieces sized by the bytes of sizes (cycled). */
static void feed_split(cpc_noise_session *s, uint8_t *data, size_t len,
                       const uint8_t *sizes, size_t n_sizes) {
  size_t pos = 0, i = 0;
  while (pos < len) {
    size_t n = n_sizes ? (size_t)sizes[i++ % n_sizes] * 7 + 1 : len;
    if (n > len - pos)
      n = len - pos;
    if (cpc_noise_session_recv(s, data + pos, n) != 0)
      return;
    pos += n;
  }
}

static void established(struct side *ini, struct side *res) {
  side_new(res, 0);
  side_new(ini, 1);
  if (pass(ini, res) != 0 || pass(res, ini) != 0 || pass(ini, res) != 0 ||
      !cpc_noise_session_established(ini->s) ||
      !cpc_noise_session_established(res->s))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct side ini, res;
  uint8_t *buf;
  if (size < 2 || size > 200000)
    return 0;
  init_keys();
  buf = malloc(size);
  if (!buf)
    return 0;
  memcpy(buf, data, size);
  switch (data[0] % 4) {
  case 0: {
    size_t nsz = data[1] % 8;
    if (nsz > size - 2)
      nsz = size - 2;
    side_new(&res, 0);
    feed_split(res.s, buf + 2 + nsz, size - 2 - nsz, data + 2, nsz);
    side_free(&res);
    break;
  }
  case 1:
    established(&ini, &res);
    feed_split(res.s, buf + 1, size - 1, NULL, 0);
    side_free(&ini);
    side_free(&res);
    break;
  case 2: {
    /* data[1]: piece count; piece sizes; 3 bytes offset and 1 byte mask
     * of the flip (0: none); then the plaintext */
    size_t nsz = data[1] % 8, w;
    uint8_t *wire;
    established(&ini, &res);
    if (size >= 6 + nsz) {
      const uint8_t *plain = data + 6 + nsz;
      size_t plen = size - 6 - nsz;
      size_t need = cpc_noise_encrypted_size(plen);
      size_t off = ((size_t)data[2 + nsz] << 16 | (size_t)data[3 + nsz] << 8 |
                    data[4 + nsz]);
      wire = malloc(need ? need : 1);
      if (wire &&
          cpc_noise_session_encrypt(ini.s, plain, plen, wire, need, &w) == 0) {
        if (w > 0 && data[5 + nsz] != 0)
          wire[off % w] ^= data[5 + nsz];
        feed_split(res.s, wire, w, data + 2, nsz);
        if (data[5 + nsz] == 0 && !cpc_noise_session_established(res.s))
          abort(); /* untouched frames must authenticate */
      }
      free(wire);
    }
    side_free(&ini);
    side_free(&res);
    break;
  }
  default: {
    cpc_noise_remote remote;
    struct cpc__noise_remote_store store;
    const char *detail;
    if (cpc__noise_payload_verify(buf + 1, size - 1, res_static, &remote,
                                  &store, &detail) == 0)
      cpc__noise_remote_store_free(&store);
    break;
  }
  }
  free(buf);
  return 0;
}
