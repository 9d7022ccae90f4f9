/*
 * chunker.c: fixed-size and content-defined cut points (see cpc/chunker.h).
 *
 * CDC is a gear rolling hash, h = (h << 1) + gear[byte], so bit k of h
 * depends on the last k + 1 bytes only. Normalised chunking (FastCDC, level
 * 2): between min and avg a cut needs (h & mask_s) == 0 with log2(avg) + 2
 * mask bits, after avg (h & mask_l) == 0 with log2(avg) - 2 bits, and max
 * forces a cut. Mask bits are spread evenly over bits 16..63, so every cut
 * decision looks at a window of at least 17 bytes. Hashing starts 64 bytes
 * before min, so the hash at any candidate position is a function of the 64
 * bytes before it alone, independent of where the chunk began.
 *
 * The gear table is 256 outputs of SplitMix64 (Steele, Lea, Flood 2014:
 * state += 0x9e3779b97f4a7c15; z = state; z = (z ^ z >> 30) *
 * 0xbf58476d1ce4e5b9; z = (z ^ z >> 27) * 0x94d049bb133111eb; z ^ z >> 31)
 * seeded with 0x6370632d67656172 ("cpc-gear" in ASCII). Format-defining.
 */
#include <pthread.h>

#include "cpc/chunker.h"
#include "cpc/error.h"

#define GEAR_SEED 0x6370632d67656172ull

static uint64_t gear[256];
static pthread_once_t gear_once = PTHREAD_ONCE_INIT;

static void gear_init(void) {
  uint64_t state = GEAR_SEED;
  for (int i = 0; i < 256; i++) {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    gear[i] = z ^ (z >> 31);
  }
}

/* A mask of n bits spread evenly over bits 63 down to 16. */
static uint64_t spread_mask(unsigned n) {
  uint64_t m = 0;
  for (unsigned j = 0; j < n; j++)
    m |= 1ull << (63 - (j * 48) / n);
  return m;
}

static int is_pow2(uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

static unsigned log2u(uint32_t v) {
  unsigned n = 0;
  while (v > 1) {
    v >>= 1;
    n++;
  }
  return n;
}

int cpc_chunker_params_init(cpc_chunker_params *p, enum cpc_chunker_kind kind,
                            uint32_t size) {
  if (size == 0)
    size = CPC_CHUNK_DEFAULT;
  if (size < CPC_CHUNK_MIN_PARAM || size > CPC_CHUNK_MAX)
    return CPC_EINVAL;
  p->kind = kind;
  p->avg_size = size;
  switch (kind) {
  case CPC_CHUNKER_FIXED:
    p->min_size = p->max_size = size;
    return 0;
  case CPC_CHUNKER_CDC:
    if (!is_pow2(size))
      return CPC_EINVAL;
    p->min_size = size / 4;
    p->max_size = size <= CPC_CHUNK_MAX / 4 ? size * 4 : CPC_CHUNK_MAX;
    return 0;
  }
  return CPC_EINVAL;
}

int cpc_chunker_params_check(const cpc_chunker_params *p) {
  cpc_chunker_params want;
  if (cpc_chunker_params_init(&want, p->kind, p->avg_size) != 0)
    return CPC_EINVAL;
  if (p->min_size != want.min_size || p->max_size != want.max_size)
    return CPC_EINVAL;
  return 0;
}

/* First cut in data[0..len) at or after min, or 0 if none. len <= max. */
static size_t cdc_scan(const cpc_chunker_params *p, const uint8_t *data,
                       size_t len) {
  unsigned bits = log2u(p->avg_size);
  uint64_t mask_s = spread_mask(bits + 2), mask_l = spread_mask(bits - 2);
  size_t min = p->min_size, avg = p->avg_size;
  size_t i = min > 64 ? min - 64 : 0;
  uint64_t h = 0;
  if (len <= min)
    return 0;
  for (; i < min; i++)
    h = (h << 1) + gear[data[i]];
  size_t normal_end = avg < len ? avg : len;
  for (; i < normal_end; i++) {
    h = (h << 1) + gear[data[i]];
    if ((h & mask_s) == 0)
      return i + 1;
  }
  for (; i < len; i++) {
    h = (h << 1) + gear[data[i]];
    if ((h & mask_l) == 0)
      return i + 1;
  }
  return 0;
}

int cpc_chunker_next(const cpc_chunker_params *p, const uint8_t *data,
                     size_t len, int eof, size_t *cut) {
  size_t max = p->max_size, found;
  *cut = 0;
  if (p->kind != CPC_CHUNKER_FIXED && p->kind != CPC_CHUNKER_CDC)
    return CPC_EINVAL;
  if (len == 0)
    return 0;
  if (p->kind == CPC_CHUNKER_FIXED || len <= p->min_size) {
    if (len >= max || eof)
      *cut = len < max ? len : max;
    return 0;
  }
  pthread_once(&gear_once, gear_init);
  found = cdc_scan(p, data, len < max ? len : max);
  if (found != 0)
    *cut = found;
  else if (len >= max)
    *cut = max;
  else if (eof)
    *cut = len;
  return 0;
}
