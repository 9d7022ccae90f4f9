/*
 * message_scan.c: a walk over the protobuf wire format of a Bitswap message
 * that checks its framing and counts what decoding it would allocate
 * (fields at every depth, entries, blocks, presences) before protobuf-c
 * allocates anything.
 */
#include "bitswap/bitswap_int.h"
#include "cpc/error.h"

enum level { L_MESSAGE, L_WANTLIST, L_ENTRY, L_BLOCK, L_PRESENCE };

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

int cpc__pb_varint(const uint8_t *in, size_t len, size_t *off, uint64_t *v) {
  uint64_t x = 0;
  for (unsigned i = 0; i < 10; i++) {
    if (*off >= len)
      return CPC_ETRUNC;
    uint8_t b = in[(*off)++];
    if (i == 9 && b > 1)
      return CPC_EMALFORMED; /* over 64 bits */
    x |= (uint64_t)(b & 0x7f) << (7 * i);
    if (!(b & 0x80)) {
      *v = x;
      return 0;
    }
  }
  return CPC_EMALFORMED;
}

/* The level of length-delimited field f inside level lv, or -1 if its
 * bytes are not a sub-message we walk into. Counts it. */
static int sub_level(int lv, uint64_t f, struct cpc__scan_counts *c) {
  switch (lv) {
  case L_MESSAGE:
    if (f == 1)
      return L_WANTLIST;
    if (f == 2)
      c->blocks++;
    if (f == 3) {
      c->blocks++;
      return L_BLOCK;
    }
    if (f == 4) {
      c->presences++;
      return L_PRESENCE;
    }
    return -1;
  case L_WANTLIST:
    if (f == 1) {
      c->entries++;
      return L_ENTRY;
    }
    return -1;
  default: return -1;
  }
}

static int walk(const uint8_t *in, size_t len, int lv,
                struct cpc__scan_counts *c) {
  size_t off = 0;
  while (off < len) {
    uint64_t key, v;
    int rc = cpc__pb_varint(in, len, &off, &key);
    if (rc != 0)
      return CPC_EMALFORMED;
    uint64_t f = key >> 3;
    if (f == 0 || f > 536870911u)
      return CPC_EMALFORMED;
    if (++c->fields > CPC_BITSWAP_MAX_FIELDS)
      return CPC_ETOOBIG;
    switch (key & 7) {
    case WT_VARINT:
      if (cpc__pb_varint(in, len, &off, &v) != 0)
        return CPC_EMALFORMED;
      break;
    case WT_I64:
    case WT_I32: {
      size_t n = (key & 7) == WT_I64 ? 8 : 4;
      if (len - off < n)
        return CPC_EMALFORMED;
      off += n;
      break;
    }
    case WT_LEN: {
      if (cpc__pb_varint(in, len, &off, &v) != 0 || v > len - off)
        return CPC_EMALFORMED;
      int sub = sub_level(lv, f, c);
      if (sub >= 0) {
        rc = walk(in + off, (size_t)v, sub, c);
        if (rc != 0)
          return rc;
      }
      off += (size_t)v;
      break;
    }
    default: /* groups (3, 4) and unused types */ return CPC_EMALFORMED;
    }
  }
  if (c->entries > CPC_BITSWAP_MAX_ENTRIES ||
      c->blocks > CPC_BITSWAP_MAX_BLOCKS ||
      c->presences > CPC_BITSWAP_MAX_PRESENCES)
    return CPC_ETOOBIG;
  return 0;
}

int cpc__message_scan(const uint8_t *in, size_t len,
                      struct cpc__scan_counts *c) {
  c->fields = c->entries = c->blocks = c->presences = 0;
  return walk(in, len, L_MESSAGE, c);
}
