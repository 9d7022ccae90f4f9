/*
 * compress.c: zstd for chunks, kept only where it pays.
 *
 * A chunk is compressed at level 3 and the result kept only if it saves at
 * least 1/8 of the chunk. Before that, a probe compresses three 4 KiB
 * samples (start, middle, end) in zstd's fast mode (level -3); if none of
 * them saves 1/16, the chunk is taken as incompressible (media, archives,
 * ciphertext) and the full attempt is skipped. Measured on a 256 KiB
 * random chunk: the probe costs about 1.5% of encrypting it (level 1 would
 * cost 4%), a full level-3 attempt 13%. (With the AVX-512 cipher the probe
 * is about 7% of encrypting, so the encryptor runs it on the hash worker,
 * one chunk ahead.)
 */
#include <zstd.h>
#include <zstd_errors.h>

#include "content/content_int.h"
#include "cpc/error.h"

#define PROBE_SAMPLE 4096
#define PROBE_LEVEL (-3) /* zstd fast mode: about 3x cheaper than level 1 */
#define CHUNK_LEVEL 3

size_t cpc__compress_probe_scratch_len(void) {
  return ZSTD_compressBound(PROBE_SAMPLE);
}

int cpc__compress_probe(ZSTD_CCtx *cctx, const uint8_t *data, size_t len,
                        uint8_t *scratch, size_t scratch_cap) {
  if (len == 0)
    return 0;
  if (len <= 3 * PROBE_SAMPLE)
    return 1;
  size_t offs[3] = {0, len / 2 - PROBE_SAMPLE / 2, len - PROBE_SAMPLE};
  for (int i = 0; i < 3; i++) {
    size_t r = ZSTD_compressCCtx(cctx, scratch, scratch_cap, data + offs[i],
                                 PROBE_SAMPLE, PROBE_LEVEL);
    if (!ZSTD_isError(r) && r <= PROBE_SAMPLE - PROBE_SAMPLE / 16)
      return 1;
  }
  return 0;
}

size_t cpc__compress_bound(size_t len) { return ZSTD_compressBound(len); }

int cpc__compress_chunk(ZSTD_CCtx *cctx, const uint8_t *src, size_t len,
                        uint8_t *dst, size_t dst_cap, size_t *out_len) {
  *out_len = 0;
  if (len == 0)
    return 0;
  size_t r = ZSTD_compressCCtx(cctx, dst, dst_cap, src, len, CHUNK_LEVEL);
  if (ZSTD_isError(r)) {
    if (ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation)
      return CPC_ENOMEM;
    return 0; /* e.g. dst too small: store uncompressed */
  }
  if (r <= len - len / 8)
    *out_len = r;
  return 0;
}

int cpc__decompress_chunk(ZSTD_DCtx *dctx, const uint8_t *src, size_t len,
                          uint8_t *dst, size_t expect) {
  unsigned long long declared = ZSTD_getFrameContentSize(src, len);
  if (declared == ZSTD_CONTENTSIZE_ERROR || declared == ZSTD_CONTENTSIZE_UNKNOWN ||
      declared != expect)
    return CPC_EMALFORMED;
  size_t r = ZSTD_decompressDCtx(dctx, dst, expect, src, len);
  if (ZSTD_isError(r)) {
    if (ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation)
      return CPC_ENOMEM;
    return CPC_EMALFORMED;
  }
  return r == expect ? 0 : CPC_EMALFORMED;
}
