/*
 * status.c: gRPC status names and the percent-encoding of grpc-message.
 */
#include <string.h>

#include "cpc/error.h"
#include "cpc/rpc.h"

static const char *const status_names[] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

const char *cpc_rpc_status_name(int status) {
  if (status < 0 || status > CPC_RPC_UNAUTHENTICATED)
    return "UNKNOWN";
  return status_names[status];
}

int cpc_rpc_percent_encode(const uint8_t *in, size_t len, char *out, size_t cap,
                           size_t *out_len) {
  static const char hex[] = "0123456789ABCDEF";
  size_t i, o = 0;
  for (i = 0; i < len; i++) {
    uint8_t b = in[i];
    if (b >= 0x20 && b <= 0x7e && b != '%') {
      if (cap - o < 2)
        return CPC_ETOOBIG;
      out[o++] = (char)b;
    } else {
      if (cap < 4 || cap - o < 4)
        return CPC_ETOOBIG;
      out[o++] = '%';
      out[o++] = hex[b >> 4];
      out[o++] = hex[b & 15];
    }
  }
  if (cap - o < 1)
    return CPC_ETOOBIG;
  out[o] = '\0';
  if (out_len)
    *out_len = o;
  return 0;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int cpc_rpc_percent_decode(const char *in, size_t len, uint8_t *out, size_t cap,
                           size_t *out_len) {
  size_t i = 0, o = 0;
  if (cap < len + 1 || len == SIZE_MAX)
    return CPC_ETOOBIG;
  while (i < len) {
    int hi, lo;
    if (in[i] == '%' && len - i >= 3 && (hi = hex_value(in[i + 1])) >= 0 &&
        (lo = hex_value(in[i + 2])) >= 0) {
      out[o++] = (uint8_t)(hi << 4 | lo);
      i += 3;
    } else {
      out[o++] = (uint8_t)in[i++];
    }
  }
  out[o] = 0;
  if (out_len)
    *out_len = o;
  return 0;
}
