/* x25519.c: X25519 encryption key pairs (crypto_box keys) on libsodium. */
#include <string.h>

#include <sodium.h>

#include "cpc/error.h"
#include "cpc/keys.h"
#include "crypto/crypto_int.h"

int cpc_x25519_generate(cpc_x25519_keypair *kp) {
  if (cpc__sodium_ready() != 0)
    return CPC_ECRYPTO;
  if (crypto_box_keypair(kp->pub, kp->secret) != 0) {
    cpc_x25519_wipe(kp);
    return CPC_ECRYPTO;
  }
  return 0;
}

int cpc_x25519_from_secret(const uint8_t secret[CPC_X25519_KEY_LEN],
                           cpc_x25519_keypair *kp) {
  if (cpc__sodium_ready() != 0)
    return CPC_ECRYPTO;
  if (kp->secret != secret)
    memmove(kp->secret, secret, CPC_X25519_KEY_LEN);
  if (crypto_scalarmult_base(kp->pub, kp->secret) != 0) {
    cpc_x25519_wipe(kp);
    return CPC_ECRYPTO;
  }
  return 0;
}

int cpc_x25519_dh(const cpc_x25519_keypair *kp,
                  const uint8_t peer_pub[CPC_X25519_KEY_LEN],
                  uint8_t shared[CPC_X25519_KEY_LEN]) {
  if (cpc__sodium_ready() != 0)
    return CPC_ECRYPTO;
  /* libsodium returns -1 when the result is all zeros (low-order point). */
  if (crypto_scalarmult(shared, kp->secret, peer_pub) != 0) {
    sodium_memzero(shared, CPC_X25519_KEY_LEN);
    return CPC_ECRYPTO;
  }
  return 0;
}

void cpc_x25519_wipe(cpc_x25519_keypair *kp) {
  if (kp)
    sodium_memzero(kp, sizeof *kp);
}
