/*
 * multibase.c: the multibase prefix dispatch plus the RFC 4648 codecs it
 * needs: base16 (hex) and base32 (lower case, no padding). Both are case
 * insensitive on input, as the multibase spec's test vectors ask; otherwise
 * decoding is strict: no padding, no whitespace, and the unused low bits of
 * a base32 tail must be zero, so re-encoding a decoded all-lower-case text
 * gives it back.
 */
#include <stdint.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/multibase.h"

static const char hex_lower[] = "0123456789abcdef";
static const char b32_lower[] = "abcdefghijklmnopqrstuvwxyz234567";

const char *cpc_multibase_name(enum cpc_multibase base) {
  switch (base) {
  case CPC_MB_BASE16: return "base16";
  case CPC_MB_BASE32: return "base32";
  case CPC_MB_BASE58BTC: return "base58btc";
  }
  return NULL;
}

int cpc_multibase_from_name(const char *name, enum cpc_multibase *base) {
  static const enum cpc_multibase all[] = {CPC_MB_BASE16, CPC_MB_BASE32,
                                           CPC_MB_BASE58BTC};
  if (name == NULL || base == NULL)
    return CPC_EINVAL;
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    if (strcmp(cpc_multibase_name(all[i]), name) == 0) {
      *base = all[i];
      return 0;
    }
  return CPC_EUNSUPPORTED;
}

size_t cpc_multibase_encoded_cap(enum cpc_multibase base, size_t n) {
  /* Guard the arithmetic below; no real input comes near this. */
  if (n > SIZE_MAX / 8 - 4)
    return SIZE_MAX;
  switch (base) {
  case CPC_MB_BASE16: return 2 + 2 * n;
  case CPC_MB_BASE32: return 2 + (8 * n + 4) / 5;
  case CPC_MB_BASE58BTC: return 3 + n * 138 / 100;
  }
  return SIZE_MAX;
}

static int base16_encode(const uint8_t *in, size_t len, char *out, size_t cap,
                         size_t *written) {
  if (cap == 0 || len > (cap - 1) / 2)
    return CPC_ETOOBIG;
  for (size_t i = 0; i < len; i++) {
    out[2 * i] = hex_lower[in[i] >> 4];
    out[2 * i + 1] = hex_lower[in[i] & 0x0f];
  }
  out[2 * len] = '\0';
  *written = 2 * len;
  return 0;
}

/* Value of the hex digit c, either case, or -1. */
static int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Value of the RFC 4648 base32 digit c, either case, or -1. */
static int b32_value(char c) {
  if (c >= 'a' && c <= 'z')
    return c - 'a';
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= '2' && c <= '7')
    return c - '2' + 26;
  return -1;
}

static int base16_decode(const char *text, size_t len, uint8_t *out,
                         size_t cap, size_t *written) {
  if (len % 2 != 0)
    return CPC_EMALFORMED;
  for (size_t i = 0; i < len; i++)
    if (hex_value(text[i]) < 0)
      return CPC_EMALFORMED;
  if (len / 2 > cap)
    return CPC_ETOOBIG;
  for (size_t i = 0; i < len / 2; i++) {
    out[i] = (uint8_t)(hex_value(text[2 * i]) << 4 | hex_value(text[2 * i + 1]));
  }
  *written = len / 2;
  return 0;
}

static int base32_encode(const uint8_t *in, size_t len, char *out, size_t cap,
                         size_t *written) {
  size_t need = (8 * len + 4) / 5;
  uint32_t acc = 0;
  unsigned bits = 0;
  size_t n = 0;

  if (cap == 0 || need > cap - 1)
    return CPC_ETOOBIG;
  for (size_t i = 0; i < len; i++) {
    acc = (acc << 8 | in[i]) & 0xfff; /* never more than 12 live bits */
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out[n++] = b32_lower[(acc >> bits) & 0x1f];
    }
  }
  if (bits > 0)
    out[n++] = b32_lower[(acc << (5 - bits)) & 0x1f];
  out[n] = '\0';
  *written = n;
  return 0;
}

static int base32_decode(const char *text, size_t len, uint8_t *out,
                         size_t cap, size_t *written) {
  uint32_t acc = 0;
  unsigned bits = 0;
  size_t n = 0;

  /* Validate everything before writing, so a failed call leaves out alone. */
  for (size_t i = 0; i < len; i++)
    if (b32_value(text[i]) < 0)
      return CPC_EMALFORMED;
  /* 1, 3 or 6 characters past a full group cannot end a byte string. */
  switch (len % 8) {
  case 1: case 3: case 6: return CPC_EMALFORMED;
  default: break;
  }
  /* The unused low bits of the last character must be zero. */
  unsigned spare = (unsigned)(len * 5 % 8);
  if (spare > 0 &&
      (b32_value(text[len - 1]) & ((1 << spare) - 1)) != 0)
    return CPC_EMALFORMED;
  if (len * 5 / 8 > cap)
    return CPC_ETOOBIG;
  for (size_t i = 0; i < len; i++) {
    acc = (acc << 5 | (uint32_t)b32_value(text[i])) & 0x1fff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (uint8_t)(acc >> bits);
    }
  }
  *written = n;
  return 0;
}

int cpc_multibase_encode(enum cpc_multibase base, const uint8_t *in, size_t len,
                         char *out, size_t cap, size_t *written) {
  size_t n = 0;
  int rc;

  if ((in == NULL && len > 0) || out == NULL)
    return CPC_EINVAL;
  if (base != CPC_MB_BASE16 && base != CPC_MB_BASE32 &&
      base != CPC_MB_BASE58BTC)
    return CPC_EUNSUPPORTED;
  if (cap < 2)
    return CPC_ETOOBIG;
  out[0] = (char)base;
  switch (base) {
  case CPC_MB_BASE16: rc = base16_encode(in, len, out + 1, cap - 1, &n); break;
  case CPC_MB_BASE32: rc = base32_encode(in, len, out + 1, cap - 1, &n); break;
  default: rc = cpc_base58btc_encode(in, len, out + 1, cap - 1, &n); break;
  }
  if (rc != 0) {
    out[0] = '\0';
    return rc;
  }
  if (written)
    *written = n + 1;
  return 0;
}

int cpc_multibase_decode(const char *text, size_t text_len, uint8_t *out,
                         size_t cap, enum cpc_multibase *base, size_t *written) {
  size_t n = 0;
  int rc;

  if (text_len > CPC_MB_MAX_TEXT)
    return CPC_ETOOBIG;
  if ((text == NULL && text_len > 0) || (out == NULL && cap > 0))
    return CPC_EINVAL;
  if (text_len == 0)
    return CPC_EMALFORMED; /* not even a prefix */
  const char *body = text + 1;
  size_t body_len = text_len - 1;
  enum cpc_multibase which;
  switch (text[0]) {
  case 'f':
  case 'F':
    which = CPC_MB_BASE16;
    rc = base16_decode(body, body_len, out, cap, &n);
    break;
  case 'b':
  case 'B':
    which = CPC_MB_BASE32;
    rc = base32_decode(body, body_len, out, cap, &n);
    break;
  case 'z':
    which = CPC_MB_BASE58BTC;
    rc = cpc_base58btc_decode(body, body_len, out, cap, &n);
    break;
  default:
    return CPC_EUNSUPPORTED;
  }
  if (rc != 0)
    return rc;
  if (base)
    *base = which;
  if (written)
    *written = n;
  return 0;
}
