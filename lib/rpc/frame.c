/*
 * frame.c: gRPC length-prefixed messages: the 5-byte prefix (compressed
 * flag, 4-byte big-endian length) and an incremental reader.
 */
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/rpc.h"

#define DEFRAMER_MIN_CAP 1024u
#define DEFRAMER_KEEP_CAP (256u * 1024u)

int cpc_rpc_frame_header(uint8_t out[CPC_RPC_FRAME_HEADER_LEN], int compressed,
                         size_t len) {
  if (len > UINT32_MAX)
    return CPC_ETOOBIG;
  out[0] = compressed ? 1 : 0;
  out[1] = (uint8_t)(len >> 24);
  out[2] = (uint8_t)(len >> 16);
  out[3] = (uint8_t)(len >> 8);
  out[4] = (uint8_t)len;
  return 0;
}

void cpc_rpc_deframer_init(cpc_rpc_deframer *d, size_t max_message) {
  memset(d, 0, sizeof *d);
  d->max_message = max_message ? max_message : CPC_RPC_DEFAULT_MAX_MESSAGE;
}

void cpc_rpc_deframer_free(cpc_rpc_deframer *d) {
  free(d->buf);
  d->buf = NULL;
  d->buf_cap = 0;
  d->buf_len = 0;
  d->hdr_len = 0;
}

int cpc_rpc_deframer_idle(const cpc_rpc_deframer *d) {
  return d->hdr_len == 0;
}

/* Make room for `want` message bytes: grow geometrically, but never past
 * the declared length, so memory follows what the peer actually sent. */
static int deframer_reserve(cpc_rpc_deframer *d, size_t want) {
  size_t cap = d->buf_cap ? d->buf_cap : DEFRAMER_MIN_CAP;
  uint8_t *p;
  if (want <= d->buf_cap)
    return 0;
  while (cap < want)
    cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
  if (cap > d->msg_len)
    cap = d->msg_len;
  p = realloc(d->buf, cap);
  if (!p)
    return CPC_ENOMEM;
  d->buf = p;
  d->buf_cap = cap;
  return 0;
}

int cpc_rpc_deframer_feed(cpc_rpc_deframer *d, const uint8_t *in, size_t len,
                          size_t *used, const uint8_t **msg, size_t *msg_len,
                          int *compressed) {
  size_t off = 0, take;
  int rc;
  *used = 0;
  *msg = NULL;
  *msg_len = 0;
  *compressed = 0;
  if (d->failed)
    return d->failed;
  while (d->hdr_len < CPC_RPC_FRAME_HEADER_LEN) {
    if (off == len)
      return 0;
    d->hdr[d->hdr_len++] = in[off++];
    *used = off;
    if (d->hdr_len < CPC_RPC_FRAME_HEADER_LEN)
      continue;
    if (d->hdr[0] > 1) {
      d->failed = CPC_EMALFORMED;
      return d->failed;
    }
    d->compressed = d->hdr[0];
    d->msg_len = (size_t)d->hdr[1] << 24 | (size_t)d->hdr[2] << 16 |
                 (size_t)d->hdr[3] << 8 | (size_t)d->hdr[4];
    if (d->msg_len > d->max_message) {
      d->failed = CPC_ETOOBIG;
      return d->failed;
    }
    d->buf_len = 0;
    if (d->buf_cap > DEFRAMER_KEEP_CAP) { /* do not keep a big buffer */
      free(d->buf);
      d->buf = NULL;
      d->buf_cap = 0;
    }
  }
  take = d->msg_len - d->buf_len;
  if (take > len - off)
    take = len - off;
  if (take > 0) {
    rc = deframer_reserve(d, d->buf_len + take);
    if (rc != 0) {
      d->failed = rc;
      return rc;
    }
    memcpy(d->buf + d->buf_len, in + off, take);
    d->buf_len += take;
    off += take;
    *used = off;
  }
  if (d->buf_len < d->msg_len)
    return 0;
  *msg = d->msg_len ? d->buf : NULL;
  *msg_len = d->msg_len;
  *compressed = d->compressed;
  d->hdr_len = 0;
  return 1;
}
