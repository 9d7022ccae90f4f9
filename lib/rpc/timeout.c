/*
 * timeout.c: the grpc-timeout header: TimeoutValue (1 to 8 ASCII digits)
 * followed by one TimeoutUnit (H M S m u n).
 */
#include "cpc/error.h"
#include "cpc/rpc.h"

#define TIMEOUT_MAX_DIGITS 8

int cpc_rpc_timeout_parse(const char *v, size_t len, uint64_t *out_ns) {
  uint64_t value = 0, unit_ns;
  size_t i;
  if (!v || len < 2 || len > TIMEOUT_MAX_DIGITS + 1)
    return CPC_EMALFORMED;
  for (i = 0; i + 1 < len; i++) {
    if (v[i] < '0' || v[i] > '9')
      return CPC_EMALFORMED;
    value = value * 10 + (uint64_t)(v[i] - '0');
  }
  switch (v[len - 1]) {
  case 'H': unit_ns = 3600ull * 1000000000ull; break;
  case 'M': unit_ns = 60ull * 1000000000ull; break;
  case 'S': unit_ns = 1000000000ull; break;
  case 'm': unit_ns = 1000000ull; break;
  case 'u': unit_ns = 1000ull; break;
  case 'n': unit_ns = 1ull; break;
  default: return CPC_EMALFORMED;
  }
  if (value != 0 && unit_ns > UINT64_MAX / value)
    *out_ns = UINT64_MAX;
  else
    *out_ns = value * unit_ns;
  return 0;
}
