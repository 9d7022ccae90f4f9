/*
 * fuzz_varint.c: unsigned varint decoding. A decoded varint re-encodes to
 * exactly the bytes it came from (minimal encoding only), and every value
 * read is below 2^63.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/varint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t out[CPC_VARINT_MAX_LEN];
  size_t off = 0;

  /* Read a sequence of varints, as protocol framing does. */
  while (off < size) {
    uint64_t v;
    size_t used, n;
    if (cpc_varint_decode(data + off, size - off, &v, &used) != 0)
      break;
    if (used == 0 || used > CPC_VARINT_MAX_LEN || v >> 63 ||
        cpc_varint_len(v) != used ||
        cpc_varint_encode(v, out, sizeof out, &n) != 0 || n != used ||
        memcmp(out, data + off, used) != 0)
      abort();
    off += used;
  }
  return 0;
}
