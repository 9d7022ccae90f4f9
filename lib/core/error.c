/* error.c: messages for the CPC_E* codes (see cpc/error.h). */
#include "cpc/error.h"

const char *cpc_strerror(int rc) {
  switch (rc) {
  case CPC_OK: return "success";
  case CPC_EINVAL: return "invalid argument";
  case CPC_ENOMEM: return "out of memory";
  case CPC_EIO: return "input/output error";
  case CPC_ENOENT: return "not found";
  case CPC_EEXIST: return "already exists";
  case CPC_ETRUNC: return "input is truncated";
  case CPC_ETOOBIG: return "value exceeds its size limit";
  case CPC_EMALFORMED: return "malformed input";
  case CPC_EUNSUPPORTED: return "unsupported value";
  case CPC_EBADSIG: return "signature does not verify";
  case CPC_EAUTH: return "decryption failed: data tampered or wrong key";
  case CPC_EMISMATCH: return "data does not match its hash";
  case CPC_ECRYPTO: return "cryptographic operation failed";
  case CPC_ENOSPC: return "no space left (quota or disk full)";
  case CPC_EPERM: return "operation not permitted";
  case CPC_EAGAIN: return "resource temporarily unavailable";
  case CPC_ETIMEDOUT: return "operation timed out";
  case CPC_ECLOSED: return "connection or stream closed";
  case CPC_EPROTO: return "protocol error";
  case CPC_ESTATE: return "operation not valid in this state";
  default: return "unknown error";
  }
}
