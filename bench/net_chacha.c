/*
 * net_chacha.c: the cipher references of bench/net.sh: ChaCha20-Poly1305
 * (IETF, the Noise cipher) on one core, encrypting 65519-byte messages (the
 * largest Noise transport plaintext) in a loop, with libcpc's own
 * implementation (what the transport uses) and with libsodium's.
 * Prints "chacha20poly1305 <cpc MB/s> <libsodium MB/s>" (best of 3 one-second
 * runs each).
 */
#include <sodium.h>
#include <stdio.h>
#include <time.h>

#include "cpc/chachapoly.h"

#define MSG 65519u

static unsigned char m[MSG], c[MSG + 16], k[32];

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Best MB/s of three one-second runs of encrypt(). */
static double measure(void (*encrypt)(const unsigned char n[12])) {
  unsigned char n[12] = {0};
  double best = 0;
  for (int run = 0; run < 3; run++) {
    double t0 = now(), t;
    unsigned long long done = 0;
    do {
      for (int i = 0; i < 64; i++) {
        n[0] = (unsigned char)i; /* a fresh nonce per message, as Noise */
        encrypt(n);
        done += MSG;
      }
      t = now() - t0;
    } while (t < 1.0);
    if ((double)done / t > best)
      best = (double)done / t;
  }
  return best / 1e6;
}

static void with_cpc(const unsigned char n[12]) {
  cpc_chachapoly_encrypt(k, n, NULL, 0, m, MSG, c);
}

static void with_sodium(const unsigned char n[12]) {
  unsigned long long clen;
  crypto_aead_chacha20poly1305_ietf_encrypt(c, &clen, m, MSG, NULL, 0, NULL, n,
                                            k);
}

int main(void) {
  if (sodium_init() < 0)
    return 1;
  randombytes_buf(m, sizeof m);
  randombytes_buf(k, sizeof k);
  double ours = measure(with_cpc);
  double sodium = measure(with_sodium);
  printf("chacha20poly1305 %.0f %.0f\n", ours, sodium);
  return 0;
}
