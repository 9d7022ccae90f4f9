/*
 * fuzz_multistream.c: a dialer and a listener fed arbitrary peer bytes in
 * arbitrary chunks. Checks the invariants of cpc/multistream.h: feed never
 * consumes more than given, never consumes after the end of negotiation,
 * and failures are sticky.
 */
#include <stdint.h>
#include <stdlib.h>

#include "cpc/multistream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const protos[] = {"/noise", "/yamux/1.0.0",
                                     "/ipfs/id/1.0.0"};

static void drive(enum cpc_mss_role role, const uint8_t *data, size_t size) {
  static cpc_mss m;
  size_t off = 0, chunk;
  const uint8_t *out;
  if (size == 0)
    return;
  chunk = (size_t)(data[0] % 17) + 1;
  data++;
  size--;
  if (cpc_mss_init(&m, role, protos, 3) != 0)
    abort();
  while (off < size) {
    size_t n = size - off < chunk ? size - off : chunk, used = 0;
    int rc = cpc_mss_feed(&m, data + off, n, &used);
    if (used > n)
      abort();
    off += used;
    cpc_mss_output_done(&m, cpc_mss_output(&m, &out));
    if (rc != 0) {
      if (cpc_mss_state(&m) != CPC_MSS_FAILED || cpc_mss_error(&m) != rc)
        abort();
      break;
    }
    if (cpc_mss_state(&m) == CPC_MSS_NEGOTIATED) {
      if (cpc_mss_protocol(&m) == NULL ||
          cpc_mss_feed(&m, data + off, size - off, &used) != 0 || used != 0)
        abort();
      break;
    }
    if (used == 0)
      abort(); /* output was drained, so feed must make progress */
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  drive(CPC_MSS_LISTENER, data, size);
  drive(CPC_MSS_DIALER, data, size);
  return 0;
}
