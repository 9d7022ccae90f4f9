/*
 * chachapoly_bench.c: ChaCha20-Poly1305 IETF encryption speed of cpc (each
 * back end this CPU has, then the automatic choice) against libsodium, on
 * messages of one size, best of several alternating rounds.
 * usage: chachapoly_bench [MSG_KIB] [TOTAL_MIB]   (defaults 64 and 512)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <sodium.h>

#include "cpc/chachapoly.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

enum { ROUNDS = 7 };

/* GB/s of encrypting total bytes in msg-sized pieces once (which = 0:
 * libsodium, 1: cpc). */
static double once(int which, const uint8_t *buf, uint8_t *out, size_t msg,
                   size_t total) {
  static const uint8_t ad[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  uint8_t key[32], nonce[12] = {0};
  randombytes_buf(key, sizeof key);
  double t = now();
  for (size_t done = 0; done < total; done += msg) {
    nonce[0]++;
    if (which == 0)
      crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, buf, msg, ad,
                                                sizeof ad, NULL, nonce, key);
    else
      cpc_chachapoly_encrypt(key, nonce, ad, sizeof ad, buf, msg, out);
  }
  return (double)total / (now() - t) / 1e9;
}

/* Best of ROUNDS for each, the two alternating so that both see the same
 * machine load. */
static void best_of(const uint8_t *buf, uint8_t *out, size_t msg, size_t total,
                    double *sod, double *cpc) {
  *sod = *cpc = 0;
  for (int r = 0; r < ROUNDS; r++) {
    double s = once(0, buf, out, msg, total), c = once(1, buf, out, msg, total);
    *sod = s > *sod ? s : *sod;
    *cpc = c > *cpc ? c : *cpc;
  }
}

int main(int argc, char **argv) {
  size_t kib = argc > 1 ? (size_t)atol(argv[1]) : 64;
  size_t mib = argc > 2 ? (size_t)atol(argv[2]) : 512;
  if (sodium_init() < 0 || kib == 0 || mib == 0)
    return 1;
  size_t msg = kib << 10, total = (mib << 20) / msg * msg;
  uint8_t *buf = malloc(msg + 16), *out = malloc(msg + 16);
  if (buf == NULL || out == NULL)
    return 1;
  randombytes_buf(buf, msg);
  for (int b = CPC_CHACHA_PORTABLE; b <= CPC_CHACHA_AVX512; b++) {
    if (cpc_chacha_set_backend(b) != 0)
      continue;
    double sod, cpc;
    best_of(buf, out, msg, total / 4, &sod, &cpc);
    printf("  cpc %-8s %.2f GB/s (libsodium %.2f GB/s)\n",
           cpc_chacha_backend_name(b), cpc, sod);
  }
  cpc_chacha_set_backend(CPC_CHACHA_AUTO);
  double sod, cpc;
  best_of(buf, out, msg, total, &sod, &cpc);
  printf("chacha20poly1305 %zu KiB messages: cpc %.2f GB/s, libsodium %.2f "
         "GB/s, ratio %.2f (cpc back end %s)\n",
         kib, cpc, sod, cpc / sod,
         cpc_chacha_backend_name(cpc_chacha_backend()));
  free(buf);
  free(out);
  return 0;
}
