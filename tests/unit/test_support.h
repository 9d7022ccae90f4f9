/*
 * test_support.h: small helpers the unit tests share. Include it after
 * <cmocka.h> (it asserts with cmocka).
 */
#ifndef CPC_TEST_SUPPORT_H
#define CPC_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/*
 * Decode the hex string (either case) into out (cap bytes) and return the
 * number of bytes. Fails the test on anything but whole hex pairs that fit.
 */
static inline size_t test_unhex(const char *hex, uint8_t *out, size_t cap) {
  size_t n = 0;
  assert_int_equal(sodium_hex2bin(out, cap, hex, strlen(hex), NULL, &n, NULL),
                   0);
  return n;
}

/* splitmix64 over *state: tests seed it with a constant so failures
 * reproduce. */
static inline uint64_t test_splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

/*
 * A heap copy of in[0..len) in a block of exactly len bytes (1 when len is
 * 0), so AddressSanitizer catches a parser reading past the end. free() it.
 */
static inline void *test_copy(const void *in, size_t len) {
  void *copy = malloc(len ? len : 1);
  assert_non_null(copy);
  if (len)
    memcpy(copy, in, len);
  return copy;
}

#endif /* CPC_TEST_SUPPORT_H */
