/*
 * fuzz_multibase.c: multibase and bare base58btc decoding of arbitrary text,
 * and encoding of arbitrary bytes. Decoded text must re-encode to itself
 * (ignoring case for base16/base32), encoded bytes must decode to themselves.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cpc/multibase.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OUT (2 * CPC_MB_MAX_TEXT + 8)

static uint8_t bytes[MAX_OUT], bytes2[MAX_OUT];
static char text[MAX_OUT];

static void check_decode(const char *in, size_t len) {
  enum cpc_multibase base;
  size_t n, tn;

  if (cpc_multibase_decode(in, len, bytes, sizeof bytes, &base, &n) == 0) {
    if (cpc_multibase_encode(base, bytes, n, text, sizeof text, &tn) != 0 ||
        tn != len)
      abort();
    if (base == CPC_MB_BASE58BTC ? memcmp(text, in, len) != 0
                                 : strncasecmp(text, in, len) != 0)
      abort();
  }
  if (cpc_base58btc_decode(in, len, bytes, sizeof bytes, &n) == 0) {
    if (cpc_base58btc_encode(bytes, n, text, sizeof text, &tn) != 0 ||
        tn != len || memcmp(text, in, len) != 0)
      abort();
  }
}

static void check_encode(const uint8_t *in, size_t len) {
  static const enum cpc_multibase bases[] = {CPC_MB_BASE16, CPC_MB_BASE32,
                                             CPC_MB_BASE58BTC};
  for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
    size_t tn, n;
    int rc = cpc_multibase_encode(bases[i], in, len, text, sizeof text, &tn);
    if (rc != 0)
      abort();
    if (tn + 1 > cpc_multibase_encoded_cap(bases[i], len))
      abort();
    if (tn > CPC_MB_MAX_TEXT)
      continue; /* longer than decode accepts */
    if (cpc_multibase_decode(text, tn, bytes2, sizeof bytes2, NULL, &n) != 0 ||
        n != len || memcmp(bytes2, in, len) != 0)
      abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > CPC_MB_MAX_TEXT)
    return 0;
  check_decode((const char *)data, size);
  check_encode(data, size);
  return 0;
}
