/* sodium_ready.c: start libsodium once for every crypto file that needs it. */
#include <sodium.h>

#include "cpc/error.h"
#include "crypto/crypto_int.h"

int cpc__sodium_ready(void) {
  /* sodium_init() is thread-safe and returns 1 when already initialised. */
  return sodium_init() < 0 ? CPC_ECRYPTO : 0;
}
