/*
 * fuzz_rpc_frames.c: the gRPC message deframer fed arbitrary bytes in
 * chunks whose sizes come from the input, with a small cap. Checks the
 * contract: never more used than given, messages within the cap, errors
 * sticky. Any crash, leak or sanitizer report is a bug.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cpc_rpc_deframer d;
  const uint8_t *msg;
  size_t off = 2, used, mlen, step, cap;
  int rc = 0, comp, failed = 0;
  if (size < 2)
    return 0;
  step = (size_t)data[0] % 64 + 1;
  cap = (size_t)data[1] * 16; /* 0 means the 4 MiB default */
  cpc_rpc_deframer_init(&d, cap);
  while (off < size) {
    size_t chunk = size - off < step ? size - off : step;
    rc =
        cpc_rpc_deframer_feed(&d, data + off, chunk, &used, &msg, &mlen, &comp);
    if (used > chunk)
      abort();
    if (failed && rc != failed)
      abort(); /* errors are sticky */
    if (rc < 0) {
      failed = rc;
      if (rc != CPC_ETOOBIG && rc != CPC_EMALFORMED)
        abort();
      off += chunk; /* keep feeding: must stay failed */
      continue;
    }
    if (rc == 1) {
      if (mlen > d.max_message || comp < 0 || comp > 1 || (mlen > 0 && !msg))
        abort();
      if (mlen) /* touch every byte */
        (void)(volatile uint8_t)msg[mlen - 1];
    } else if (used != chunk) {
      abort(); /* 0 only once the chunk is used up */
    }
    off += used;
  }
  cpc_rpc_deframer_free(&d);
  return 0;
}
