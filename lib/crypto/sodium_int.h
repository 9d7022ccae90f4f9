/* sodium_int.h: libsodium start-up shared by the crypto files. */
#ifndef CPC_CRYPTO_SODIUM_INT_H
#define CPC_CRYPTO_SODIUM_INT_H

/*
 * Run sodium_init() once per process (thread-safe). Returns 0, or
 * CPC_ECRYPTO if libsodium could not start.
 */
int cpc__sodium_ready(void);

#endif
