/*
 * units.c: sizes and rates in human units ("500G", "1.5T", "100Mbit",
 * "10MB/s") for cpc-node's command line and config file.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cpc/error.h"
#include "cpc/node.h"

#define MAX_TEXT 64
#define LIMIT ((uint64_t)1 << 63)

/* The number at the start of s: integer part and up to 18 fraction digits
 * as num / den. *end gets the first byte after it. */
static int parse_number(const char *s, uint64_t *num, uint64_t *den,
                        const char **end) {
  uint64_t n = 0, d = 1;
  int digits = 0, frac = 0;
  for (; isdigit((unsigned char)*s); s++, digits++) {
    if (n > (UINT64_MAX - 9) / 10)
      return CPC_ETOOBIG;
    n = n * 10 + (uint64_t)(*s - '0');
  }
  if (*s == '.') {
    s++;
    for (; isdigit((unsigned char)*s); s++, frac++) {
      if (frac >= 18)
        continue; /* beyond what matters */
      if (n > (UINT64_MAX - 9) / 10)
        return CPC_ETOOBIG;
      n = n * 10 + (uint64_t)(*s - '0');
      d *= 10;
    }
    if (frac == 0)
      return CPC_EINVAL;
  }
  if (digits == 0 && frac == 0)
    return CPC_EINVAL;
  *num = n;
  *den = d;
  *end = s;
  return 0;
}

/* num / den * mult, checked against LIMIT. */
static int scale(uint64_t num, uint64_t den, uint64_t mult, uint64_t *out) {
  unsigned __int128 v = (unsigned __int128)num * mult / den;
  if (v > LIMIT)
    return CPC_ETOOBIG;
  *out = (uint64_t)v;
  return 0;
}

/* The multiplier of a size prefix letter (k m g t p), 0 if none. */
static uint64_t prefix_mult(char c, int binary) {
  uint64_t base = binary ? 1024 : 1000, m = 1;
  const char *order = "kmgtp", *p = strchr(order, tolower((unsigned char)c));
  if (!c || !p)
    return 0;
  for (long i = 0; i <= p - order; i++)
    m *= base;
  return m;
}

/* Multiplier of a size unit u (whole string): "", b, k, kb, ki, kib... */
static int size_unit(const char *u, uint64_t *mult) {
  size_t len = strlen(u);
  if (len == 0 || strcasecmp(u, "b") == 0 || strcasecmp(u, "byte") == 0 ||
      strcasecmp(u, "bytes") == 0) {
    *mult = 1;
    return 0;
  }
  if (len == 1 || (len == 2 && tolower((unsigned char)u[1]) == 'b')) {
    *mult = prefix_mult(u[0], 0);
    return *mult ? 0 : CPC_EINVAL;
  }
  if ((len == 2 && tolower((unsigned char)u[1]) == 'i') ||
      (len == 3 && tolower((unsigned char)u[1]) == 'i' &&
       tolower((unsigned char)u[2]) == 'b')) {
    *mult = prefix_mult(u[0], 1);
    return *mult ? 0 : CPC_EINVAL;
  }
  return CPC_EINVAL;
}

static int split(const char *text, uint64_t *num, uint64_t *den,
                 char unit[MAX_TEXT]) {
  const char *end;
  size_t len;
  int rc;
  if (!text)
    return CPC_EINVAL;
  while (isspace((unsigned char)*text))
    text++;
  if (strlen(text) >= MAX_TEXT)
    return CPC_EINVAL;
  if ((rc = parse_number(text, num, den, &end)) != 0)
    return rc;
  while (*end == ' ')
    end++;
  len = strlen(end);
  while (len > 0 && isspace((unsigned char)end[len - 1]))
    len--;
  memcpy(unit, end, len);
  unit[len] = '\0';
  return 0;
}

int cpc_node_parse_size(const char *text, uint64_t *bytes) {
  char unit[MAX_TEXT];
  uint64_t num, den, mult;
  int rc;
  if (!bytes)
    return CPC_EINVAL;
  if ((rc = split(text, &num, &den, unit)) != 0)
    return rc;
  if ((rc = size_unit(unit, &mult)) != 0)
    return rc;
  return scale(num, den, mult, bytes);
}

/* Remove suffix suf (case-insensitive) from u; 1 if it was there. */
static int strip(char *u, const char *suf) {
  size_t l = strlen(u), s = strlen(suf);
  if (l < s || strcasecmp(u + l - s, suf) != 0)
    return 0;
  u[l - s] = '\0';
  return 1;
}

int cpc_node_parse_rate(const char *text, uint64_t *bytes_per_s) {
  char unit[MAX_TEXT];
  uint64_t num, den, mult, v;
  size_t l;
  int rc, bits = 0, per_s;
  if (!bytes_per_s)
    return CPC_EINVAL;
  if ((rc = split(text, &num, &den, unit)) != 0)
    return rc;
  /* "/s" or "ps" ("Mbps", "MBps") mark a rate; the rest is a size unit in
   * which a lower-case final 'b' means bits ("Mb", "kb"), an upper-case
   * 'B' bytes, and "bit"/"bits" bits. */
  per_s = strip(unit, "/s");
  l = strlen(unit);
  if (!per_s && l >= 3 && strcasecmp(unit + l - 2, "ps") == 0 &&
      (unit[l - 3] == 'b' || unit[l - 3] == 'B')) {
    unit[l - 2] = '\0';
    per_s = 1;
  }
  l = strlen(unit);
  if (strip(unit, "bits") || strip(unit, "bit")) {
    bits = 1;
  } else if (l >= 1 && unit[l - 1] == 'b' &&
             (l == 1 ? per_s : (l == 2 && unit[0] != 'i' && unit[0] != 'I'))) {
    bits = 1;
    unit[l - 1] = '\0';
  }
  if ((rc = size_unit(unit, &mult)) != 0)
    return rc;
  if ((rc = scale(num, den, mult, &v)) != 0)
    return rc;
  *bytes_per_s = bits ? v / 8 : v;
  return 0;
}

void cpc_node_format_size(uint64_t bytes, char *out, size_t cap) {
  static const char *units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  double v = (double)bytes;
  size_t u = 0;
  if (!out || cap == 0)
    return;
  while (v >= 1000.0 && u + 1 < sizeof units / sizeof units[0]) {
    v /= 1000.0;
    u++;
  }
  if (u == 0)
    snprintf(out, cap, "%llu B", (unsigned long long)bytes);
  else
    snprintf(out, cap, "%.3g %s", v, units[u]);
}
