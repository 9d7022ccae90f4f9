/* base64.c: base64 text of bytes (libsodium's standard variant). */
#include <stdlib.h>

#include <sodium.h>

#include "base64.h"

char *cpc_app_base64(const uint8_t *in, size_t len) {
  size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
  char *s = malloc(cap);
  if (s)
    sodium_bin2base64(s, cap, in, len, sodium_base64_VARIANT_ORIGINAL);
  return s;
}
