/*
 * chachapoly_bench.c: ChaCha20-Poly1305 IETF speed of cpc (each back end
 * this CPU has, then the automatic choice) against libsodium, encryption and
 * decryption of messages of one size, best of several rounds with cpc and
 * libsodium alternating so that both see the same machine load.
 * usage: chachapoly_bench [MSG_KIB] [TOTAL_MIB]   (defaults 64 and 512)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <sodium.h>

#include "cpc/chachapoly.h"

enum { ROUNDS = 7 };

static const uint8_t ad[8] = {1, 2, 3, 4, 5, 6, 7, 8};
static uint8_t key[32], nonce[12];

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* GB/s of total bytes in msg-sized pieces once. which: 0 libsodium
 * encrypt, 1 cpc encrypt, 2 libsodium decrypt, 3 cpc decrypt (of ct). */
static double once(int which, const uint8_t *buf, const uint8_t *ct,
                   uint8_t *out, size_t msg, size_t total) {
  double t = now();
  for (size_t done = 0; done < total; done += msg) {
    int rc = 0;
    switch (which) {
    case 0:
      rc = crypto_aead_chacha20poly1305_ietf_encrypt(
          out, NULL, buf, msg, ad, sizeof ad, NULL, nonce, key);
      break;
    case 1:
      rc = cpc_chachapoly_encrypt(key, nonce, ad, sizeof ad, buf, msg, out);
      break;
    case 2:
      rc = crypto_aead_chacha20poly1305_ietf_decrypt(
          out, NULL, NULL, ct, msg + 16, ad, sizeof ad, nonce, key);
      break;
    default:
      rc = cpc_chachapoly_decrypt(key, nonce, ad, sizeof ad, ct, msg + 16, out);
    }
    if (rc != 0) {
      fprintf(stderr, "chachapoly_bench: case %d failed\n", which);
      exit(1);
    }
  }
  return (double)total / (now() - t) / 1e9;
}

/* best[i] = best of ROUNDS of once(i), i = 0..3 */
static void best_of(const uint8_t *buf, const uint8_t *ct, uint8_t *out,
                    size_t msg, size_t total, double best[4]) {
  for (int i = 0; i < 4; i++)
    best[i] = 0;
  for (int r = 0; r < ROUNDS; r++)
    for (int i = 0; i < 4; i++) {
      double s = once(i, buf, ct, out, msg, total);
      best[i] = s > best[i] ? s : best[i];
    }
}

int main(int argc, char **argv) {
  size_t kib = argc > 1 ? (size_t)atol(argv[1]) : 64;
  size_t mib = argc > 2 ? (size_t)atol(argv[2]) : 512;
  if (sodium_init() < 0 || kib == 0 || mib == 0)
    return 1;
  size_t msg = kib << 10, total = (mib << 20) / msg * msg;
  uint8_t *buf = malloc(msg), *ct = malloc(msg + 16), *out = malloc(msg + 16);
  if (buf == NULL || ct == NULL || out == NULL)
    return 1;
  randombytes_buf(buf, msg);
  randombytes_buf(key, sizeof key);
  randombytes_buf(nonce, sizeof nonce);
  crypto_aead_chacha20poly1305_ietf_encrypt(ct, NULL, buf, msg, ad, sizeof ad,
                                            NULL, nonce, key);
  double b[4];
  for (int be = CPC_CHACHA_PORTABLE; be <= CPC_CHACHA_AVX512; be++) {
    if (cpc_chacha_set_backend(be) != 0)
      continue;
    best_of(buf, ct, out, msg, total / 4, b);
    printf("  back end %-8s encrypt: cpc %.2f GB/s, libsodium %.2f GB/s; "
           "decrypt: cpc %.2f GB/s, libsodium %.2f GB/s\n",
           cpc_chacha_backend_name(be), b[1], b[0], b[3], b[2]);
  }
  cpc_chacha_set_backend(CPC_CHACHA_AUTO);
  best_of(buf, ct, out, msg, total, b);
  printf("chacha20poly1305 %zu KiB messages: cpc %.2f GB/s, libsodium %.2f "
         "GB/s, ratio %.2f\n",
         kib, b[1], b[0], b[1] / b[0]);
  printf("chacha20poly1305 %zu KiB messages, decrypt: cpc %.2f GB/s, "
         "libsodium %.2f GB/s, ratio %.2f (cpc back end %s)\n",
         kib, b[3], b[2], b[3] / b[2],
         cpc_chacha_backend_name(cpc_chacha_backend()));
  free(buf);
  free(ct);
  free(out);
  return 0;
}
