/*
 * varint.c: unsigned LEB128 varints with the multiformats restrictions
 * (see cpc/varint.h): 7 bits per byte, least significant group first, high
 * bit set on every byte but the last, at most 9 bytes, minimal encoding.
 */
#include "cpc/varint.h"

#include "cpc/error.h"

#define VARINT_LIMIT (UINT64_C(1) << 63)

size_t cpc_varint_len(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

int cpc_varint_encode(uint64_t v, uint8_t *out, size_t cap, size_t *written) {
  if (v >= VARINT_LIMIT)
    return CPC_ETOOBIG;
  size_t n = cpc_varint_len(v);
  if (out == NULL || cap < n)
    return CPC_ETOOBIG;
  for (size_t i = 0; i + 1 < n; i++) {
    out[i] = (uint8_t)(0x80 | (v & 0x7f));
    v >>= 7;
  }
  out[n - 1] = (uint8_t)v;
  if (written)
    *written = n;
  return 0;
}

int cpc_varint_decode(const uint8_t *in, size_t len, uint64_t *v, size_t *used) {
  uint64_t acc = 0;
  for (size_t i = 0; i < CPC_VARINT_MAX_LEN; i++) {
    if (i >= len)
      return CPC_ETRUNC;
    uint8_t b = in[i];
    acc |= (uint64_t)(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      /* A zero last byte after others means a shorter form existed. */
      if (b == 0 && i > 0)
        return CPC_EMALFORMED;
      *v = acc;
      if (used)
        *used = i + 1;
      return 0;
    }
  }
  /* The ninth byte still had its continuation bit set. */
  return CPC_EMALFORMED;
}
