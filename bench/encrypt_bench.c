/*
 * encrypt_bench.c: throughput of the content pipeline (chunk + compression
 * probe + encrypt + BLAKE3 + manifest) against ChaCha20-Poly1305 alone
 * (libsodium, same chunk size, same data), in one run. Incompressible data,
 * fed from memory, blocks discarded. Built and run by bench/encrypt.sh.
 *
 * usage: encrypt_bench [MiB total, default 1024] [chunk KiB, default 256]
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cpc/content.h"

#define POOL (64u << 20)

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int discard(void *ctx, const cpc_cid *cid, const uint8_t *b, size_t len) {
  (void)cid;
  (void)b;
  *(size_t *)ctx += len;
  return 0;
}

static double run_pipeline(const uint8_t *pool, size_t total, uint32_t chunk,
                           unsigned threads) {
  cpc_content_options o;
  cpc_content_encryptor *e = NULL;
  uint8_t key[32];
  size_t out = 0;
  cpc_cid id;
  cpc_content_options_init(&o);
  o.chunk_size = chunk;
  o.threads = threads;
  cpc_aead_keygen(key);
  if (cpc_content_encryptor_new(&o, key, discard, &out, &e) != 0)
    exit(1);
  double t = now();
  for (size_t done = 0; done < total; done += POOL)
    if (cpc_content_encryptor_update(e, pool, POOL) != 0)
      exit(1);
  if (cpc_content_encryptor_final(e, &id, NULL) != 0)
    exit(1);
  t = now() - t;
  cpc_content_encryptor_free(e);
  return (double)total / t / 1e9;
}

/* ChaCha20-Poly1305 alone over the same chunks: libcpc's (the cipher the
 * pipeline uses) when sodium is 0, libsodium's when 1. */
static double run_chacha(const uint8_t *pool, size_t total, uint32_t chunk,
                         uint8_t *ct, int sodium) {
  uint8_t key[32], nonce[12];
  unsigned long long clen;
  size_t len;
  uint64_t index = 0;
  cpc_aead_keygen(key);
  double t = now();
  for (size_t done = 0; done < total; done += POOL)
    for (size_t off = 0; off < POOL; off += chunk) {
      cpc_aead_nonce(CPC_AEAD_DOMAIN_CHUNK, index++, nonce);
      if (sodium)
        crypto_aead_chacha20poly1305_ietf_encrypt(ct, &clen, pool + off, chunk,
                                                  NULL, 0, NULL, nonce, key);
      else
        cpc_aead_encrypt(key, nonce, NULL, 0, pool + off, chunk, ct,
                         chunk + 16, &len);
    }
  t = now() - t;
  return (double)total / t / 1e9;
}

int main(int argc, char **argv) {
  size_t total = (argc > 1 ? strtoull(argv[1], NULL, 10) : 1024) << 20;
  uint32_t chunk = (uint32_t)(argc > 2 ? strtoul(argv[2], NULL, 10) : 256) << 10;
  uint8_t *pool = malloc(POOL), *ct = malloc(chunk + 16);
  if (sodium_init() < 0 || !pool || !ct)
    return 1;
  total = (total + POOL - 1) / POOL * POOL;
  randombytes_buf(pool, POOL);
  double best_p = 0, best_c = 0, best_p0 = 0, best_s = 0;
  for (int rep = 0; rep < 3; rep++) { /* interleaved, best of three */
    double c = run_chacha(pool, total, chunk, ct, 0);
    double so = run_chacha(pool, total, chunk, ct, 1);
    best_s = so > best_s ? so : best_s;
    double p = run_pipeline(pool, total, chunk, 1);
    double p0 = run_pipeline(pool, total, chunk, 0);
    best_c = c > best_c ? c : best_c;
    best_p = p > best_p ? p : best_p;
    best_p0 = p0 > best_p0 ? p0 : best_p0;
  }
  printf("encrypt pipeline: %.2f GB/s, chacha20poly1305 alone: %.2f GB/s, "
         "ratio %.2f\n",
         best_p, best_c, best_p / best_c);
  printf("  (pipeline on one thread: %.2f GB/s, ratio %.2f; %zu MiB, %u KiB "
         "chunks, incompressible data)\n",
         best_p0, best_p0 / best_c, total >> 20, chunk >> 10);
  printf("  (cipher alone is libcpc's ChaCha20-Poly1305; libsodium's: %.2f "
         "GB/s, pipeline / libsodium = %.2f)\n",
         best_s, best_p / best_s);
  free(pool);
  free(ct);
  return 0;
}
