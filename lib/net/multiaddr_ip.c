/*
 * multiaddr_ip.c: IPv4 and IPv6 text for multiaddrs. Parsing is strict
 * (dotted quads without leading zeros, RFC 4291 IPv6 text, no zone);
 * IPv6 output follows RFC 5952 (lower case, longest zero run compressed,
 * ::ffff:a.b.c.d for IPv4-mapped addresses).
 */
#include <stdio.h>
#include <string.h>

#include "cpc/error.h"
#include "net/net_int.h"

int cpc__ip4_parse(const char *s, size_t n, uint8_t out[4]) {
  size_t i = 0;
  if (n > CPC__IP4_TEXT - 1)
    return CPC_EMALFORMED;
  for (int part = 0; part < 4; part++) {
    unsigned v = 0;
    size_t start = i;
    if (part > 0) {
      if (i >= n || s[i] != '.')
        return CPC_EMALFORMED;
      start = ++i;
    }
    while (i < n && s[i] >= '0' && s[i] <= '9' && i - start < 3)
      v = v * 10 + (unsigned)(s[i++] - '0');
    if (i == start || v > 255 || (i - start > 1 && s[start] == '0'))
      return CPC_EMALFORMED;
    out[part] = (uint8_t)v;
  }
  return i == n ? 0 : CPC_EMALFORMED;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int cpc__ip6_parse(const char *s, size_t n, uint8_t out[16]) {
  uint16_t groups[8];
  int count = 0, gap = -1;
  size_t i = 0;

  if (n < 2 || n > CPC__IP6_TEXT - 1)
    return CPC_EMALFORMED;
  if (s[0] == ':') {
    if (s[1] != ':')
      return CPC_EMALFORMED;
    gap = 0;
    i = 2;
  }
  while (i < n) {
    size_t start = i;
    while (i < n && s[i] != ':' && s[i] != '.')
      i++;
    if (i < n && s[i] == '.') {
      /* Trailing dotted quad: the rest of the text, two groups. */
      uint8_t v4[4];
      if (count > 6 || cpc__ip4_parse(s + start, n - start, v4) != 0)
        return CPC_EMALFORMED;
      groups[count++] = (uint16_t)(v4[0] << 8 | v4[1]);
      groups[count++] = (uint16_t)(v4[2] << 8 | v4[3]);
      i = n;
      break;
    }
    if (i == start || i - start > 4 || count == 8)
      return CPC_EMALFORMED;
    unsigned v = 0;
    for (size_t k = start; k < i; k++) {
      int h = hexval(s[k]);
      if (h < 0)
        return CPC_EMALFORMED;
      v = v << 4 | (unsigned)h;
    }
    groups[count++] = (uint16_t)v;
    if (i == n)
      break;
    i++; /* ':' */
    if (i < n && s[i] == ':') {
      if (gap >= 0)
        return CPC_EMALFORMED;
      gap = count;
      i++;
    } else if (i == n) {
      return CPC_EMALFORMED; /* trailing single ':' */
    }
  }
  if (gap >= 0) {
    if (count > 7)
      return CPC_EMALFORMED;
    int zeros = 8 - count;
    memmove(groups + gap + zeros, groups + gap,
            (size_t)(count - gap) * sizeof groups[0]);
    for (int k = 0; k < zeros; k++)
      groups[gap + k] = 0;
  } else if (count != 8) {
    return CPC_EMALFORMED;
  }
  for (int k = 0; k < 8; k++) {
    out[2 * k] = (uint8_t)(groups[k] >> 8);
    out[2 * k + 1] = (uint8_t)groups[k];
  }
  return 0;
}

void cpc__ip4_format(const uint8_t ip[4], char out[CPC__IP4_TEXT]) {
  snprintf(out, CPC__IP4_TEXT, "%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
}

void cpc__ip6_format(const uint8_t ip[16], char out[CPC__IP6_TEXT]) {
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  unsigned g[8];
  int best = -1, best_len = 0;
  size_t o = 0;

  if (memcmp(ip, mapped, sizeof mapped) == 0) {
    char v4[CPC__IP4_TEXT];
    cpc__ip4_format(ip + 12, v4);
    snprintf(out, CPC__IP6_TEXT, "::ffff:%s", v4);
    return;
  }
  for (int k = 0; k < 8; k++)
    g[k] = (unsigned)ip[2 * k] << 8 | ip[2 * k + 1];
  for (int k = 0; k < 8;) {
    if (g[k] != 0) {
      k++;
      continue;
    }
    int run = k;
    while (run < 8 && g[run] == 0)
      run++;
    if (run - k > best_len && run - k >= 2) {
      best = k;
      best_len = run - k;
    }
    k = run;
  }
  for (int k = 0; k < 8; k++) {
    if (k == best) {
      out[o++] = ':';
      out[o++] = ':';
      k += best_len - 1;
      continue;
    }
    if (k > 0 && k != best + best_len)
      out[o++] = ':';
    o += (size_t)snprintf(out + o, CPC__IP6_TEXT - o, "%x", g[k]);
  }
  out[o] = '\0';
}
