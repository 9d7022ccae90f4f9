/*
 * base58.c: bare base58btc (the Bitcoin alphabet), as used by CIDv0 and
 * PeerIds and, behind the 'z' prefix, by multibase. Each leading zero byte
 * is one leading '1'; the rest is the big-endian number written in base 58.
 *
 * The conversion is the schoolbook one, quadratic in the length, which the
 * CPC_MB_MAX_TEXT cap keeps to a few million steps at most.
 */
#include <string.h>

#include "cpc/error.h"
#include "cpc/multibase.h"

static const char b58_alphabet[] =
    "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/* log(58) / log(256) < 0.733: bytes of the number for a text of n digits. */
#define B58_DECODE_WORK (CPC_MB_MAX_TEXT * 733 / 1000 + 1)
/* log(256) / log(58) < 1.38: digits for a number of n bytes. */
#define B58_ENCODE_WORK (CPC_MB_MAX_TEXT * 138 / 100 + 1)

/* Digit value of c, or -1 when c is not in the alphabet. */
static int b58_value(unsigned char c) {
  if (c >= '1' && c <= '9')
    return c - '1';
  if (c >= 'A' && c <= 'H')
    return c - 'A' + 9;
  if (c >= 'J' && c <= 'N')
    return c - 'J' + 17;
  if (c >= 'P' && c <= 'Z')
    return c - 'P' + 22;
  if (c >= 'a' && c <= 'k')
    return c - 'a' + 33;
  if (c >= 'm' && c <= 'z')
    return c - 'm' + 44;
  return -1;
}

int cpc_base58btc_encode(const uint8_t *in, size_t len, char *out, size_t cap,
                         size_t *written) {
  uint8_t digits[B58_ENCODE_WORK]; /* little-endian base-58 digits */
  size_t ndigits = 0, zeros = 0;

  if (len > CPC_MB_MAX_TEXT)
    return CPC_ETOOBIG;
  if ((in == NULL && len > 0) || out == NULL)
    return CPC_EINVAL;
  while (zeros < len && in[zeros] == 0)
    zeros++;
  for (size_t i = zeros; i < len; i++) {
    uint32_t carry = in[i];
    for (size_t j = 0; j < ndigits; j++) {
      carry += (uint32_t)digits[j] << 8;
      digits[j] = (uint8_t)(carry % 58);
      carry /= 58;
    }
    while (carry > 0) {
      if (ndigits == sizeof digits)
        return CPC_ETOOBIG; /* cannot happen with the bound above */
      digits[ndigits++] = (uint8_t)(carry % 58);
      carry /= 58;
    }
  }
  if (cap < zeros + ndigits + 1)
    return CPC_ETOOBIG;
  memset(out, '1', zeros);
  for (size_t j = 0; j < ndigits; j++)
    out[zeros + j] = b58_alphabet[digits[ndigits - 1 - j]];
  out[zeros + ndigits] = '\0';
  if (written)
    *written = zeros + ndigits;
  return 0;
}

int cpc_base58btc_decode(const char *text, size_t text_len, uint8_t *out,
                         size_t cap, size_t *written) {
  uint8_t num[B58_DECODE_WORK]; /* little-endian bytes of the number */
  size_t nbytes = 0, zeros = 0;

  if (text_len > CPC_MB_MAX_TEXT)
    return CPC_ETOOBIG;
  if ((text == NULL && text_len > 0) || (out == NULL && cap > 0))
    return CPC_EINVAL;
  while (zeros < text_len && text[zeros] == '1')
    zeros++;
  for (size_t i = zeros; i < text_len; i++) {
    int d = b58_value((unsigned char)text[i]);
    if (d < 0)
      return CPC_EMALFORMED;
    uint32_t carry = (uint32_t)d;
    for (size_t j = 0; j < nbytes; j++) {
      carry += (uint32_t)num[j] * 58;
      num[j] = (uint8_t)(carry & 0xff);
      carry >>= 8;
    }
    while (carry > 0) {
      if (nbytes == sizeof num)
        return CPC_ETOOBIG; /* cannot happen with the bound above */
      num[nbytes++] = (uint8_t)(carry & 0xff);
      carry >>= 8;
    }
  }
  if (cap < zeros + nbytes)
    return CPC_ETOOBIG;
  if (zeros > 0)
    memset(out, 0, zeros);
  for (size_t j = 0; j < nbytes; j++)
    out[zeros + j] = num[nbytes - 1 - j];
  if (written)
    *written = zeros + nbytes;
  return 0;
}
