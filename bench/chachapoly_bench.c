/*
 * chachapoly_bench.c: ChaCha20-Poly1305 IETF encryption speed of cpc (each
 * back end this CPU has, then the automatic choice) against libsodium, on
 * messages of one size, best of several rounds.
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

enum { ROUNDS = 5 };

/* Best-of-ROUNDS speed in GB/s of encrypting total bytes in msg-sized pieces
 * (which = 0: libsodium, 1: cpc). */
static double speed(int which, uint8_t *buf, uint8_t *out, size_t msg,
                    size_t total) {
  uint8_t key[32], nonce[12] = {0}, ad[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  randombytes_buf(key, sizeof key);
  double best = 0;
  for (int r = 0; r < ROUNDS; r++) {
    double t = now();
    for (size_t done = 0; done < total; done += msg) {
      nonce[0]++;
      if (which == 0) {
        crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, buf, msg, ad,
                                                  sizeof ad, NULL, nonce, key);
      } else {
        cpc_chachapoly_encrypt(key, nonce, ad, sizeof ad, buf, msg, out);
      }
    }
    t = now() - t;
    double gbs = (double)total / t / 1e9;
    if (gbs > best)
      best = gbs;
  }
  return best;
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
    printf("  cpc %-8s encrypt %.2f GB/s\n", cpc_chacha_backend_name(b),
           speed(1, buf, out, msg, total));
  }
  cpc_chacha_set_backend(CPC_CHACHA_AUTO);
  double sod = speed(0, buf, out, msg, total);
  double cpc = speed(1, buf, out, msg, total);
  printf("chacha20poly1305 %zu KiB messages: cpc %.2f GB/s, libsodium %.2f "
         "GB/s, ratio %.2f (cpc back end %s)\n",
         kib, cpc, sod, cpc / sod,
         cpc_chacha_backend_name(cpc_chacha_backend()));
  free(buf);
  free(out);
  return 0;
}
