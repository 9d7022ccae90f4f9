/*
 * net_chacha.c: the reference of bench/net.sh: libsodium
 * ChaCha20-Poly1305 (IETF, the Noise cipher) on one core, encrypting
 * 65519-byte messages (the largest Noise transport plaintext) in a loop.
 * Prints "chacha20poly1305 <MB/s> MB/s" (best of 3 one-second runs).
 */
#include <sodium.h>
#include <stdio.h>
#include <time.h>

#define MSG 65519u

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(void) {
  static unsigned char m[MSG], c[MSG], tag[16], k[32], n[12];
  double best = 0;
  if (sodium_init() < 0)
    return 1;
  randombytes_buf(m, sizeof m);
  randombytes_buf(k, sizeof k);
  for (int run = 0; run < 3; run++) {
    double t0 = now(), t;
    unsigned long long done = 0, clen;
    do {
      for (int i = 0; i < 64; i++) {
        n[0] = (unsigned char)i; /* a fresh nonce per message, as Noise */
        crypto_aead_chacha20poly1305_ietf_encrypt_detached(c, tag, &clen, m,
                                                           MSG, NULL, 0, NULL,
                                                           n, k);
        done += MSG;
      }
      t = now() - t0;
    } while (t < 1.0);
    if ((double)done / t > best)
      best = (double)done / t;
  }
  printf("chacha20poly1305 %.0f MB/s\n", best / 1e6);
  return 0;
}
