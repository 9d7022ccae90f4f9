/* frame.c: protocol ids and the length-prefixed framing of messages. */
#include <stdlib.h>
#include <string.h>

#include "bitswap/bitswap_int.h"
#include "cpc/error.h"
#include "cpc/varint.h"

int cpc__version_ok(enum cpc_bitswap_version v) {
  return v == CPC_BITSWAP_1_0_0 || v == CPC_BITSWAP_1_1_0 ||
         v == CPC_BITSWAP_1_2_0;
}

int cpc__peer_eq(const cpc_peer_id *a, const cpc_peer_id *b) {
  return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

const char *cpc_bitswap_protocol_id(enum cpc_bitswap_version v) {
  switch (v) {
  case CPC_BITSWAP_1_0_0: return CPC_BITSWAP_PROTOCOL_100;
  case CPC_BITSWAP_1_1_0: return CPC_BITSWAP_PROTOCOL_110;
  case CPC_BITSWAP_1_2_0: return CPC_BITSWAP_PROTOCOL_120;
  }
  return NULL;
}

int cpc_bitswap_version_from_id(const char *id, size_t len,
                                enum cpc_bitswap_version *v) {
  static const struct {
    const char *id;
    enum cpc_bitswap_version v;
  } ids[] = {{CPC_BITSWAP_PROTOCOL_120, CPC_BITSWAP_1_2_0},
             {CPC_BITSWAP_PROTOCOL_110, CPC_BITSWAP_1_1_0},
             {CPC_BITSWAP_PROTOCOL_100, CPC_BITSWAP_1_0_0},
             {CPC_BITSWAP_PROTOCOL_LEGACY, CPC_BITSWAP_1_0_0}};
  if (!id || !v)
    return CPC_EINVAL;
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
    if (strlen(ids[i].id) == len && memcmp(ids[i].id, id, len) == 0) {
      *v = ids[i].v;
      return 0;
    }
  return CPC_EUNSUPPORTED;
}

void cpc_bitswap_reader_init(cpc_bitswap_reader *r) {
  memset(r, 0, sizeof *r);
}

void cpc_bitswap_reader_free(cpc_bitswap_reader *r) {
  if (!r)
    return;
  free(r->buf);
  free(r->done);
  memset(r, 0, sizeof *r);
}

/*
 * Read the length prefix from in[*off..len) into r->hdr. Returns 1 with
 * r->need set once it is complete, 0 if in ran out first, or an error.
 */
static int read_header(cpc_bitswap_reader *r, const uint8_t *in, size_t len,
                       size_t *off) {
  while (*off < len) {
    uint8_t b = in[(*off)++];
    r->hdr[r->hdr_len++] = b;
    if (b & 0x80) {
      if (r->hdr_len >= CPC_VARINT_MAX_LEN)
        return CPC_EMALFORMED;
      continue;
    }
    uint64_t v = 0;
    if (cpc_varint_decode(r->hdr, r->hdr_len, &v, NULL) != 0)
      return CPC_EMALFORMED;
    if (v > CPC_BITSWAP_MAX_MESSAGE)
      return CPC_ETOOBIG;
    r->hdr_len = 0;
    r->need = (size_t)v;
    r->have = 0;
    return 1;
  }
  return 0;
}

int cpc_bitswap_reader_feed(cpc_bitswap_reader *r, const uint8_t *in,
                            size_t len, size_t *used, const uint8_t **msg,
                            size_t *msg_len) {
  size_t off = 0;
  if (!r || (!in && len) || !used || !msg || !msg_len)
    return CPC_EINVAL;
  *msg = NULL;
  *msg_len = 0;
  *used = 0;
  free(r->done); /* the message handed out by the previous call */
  r->done = NULL;
  if (r->err)
    return r->err;
  if (!r->in_body) {
    int rc = read_header(r, in, len, &off);
    if (rc < 0) {
      r->err = rc;
      return rc;
    }
    *used = off;
    if (rc == 0)
      return 0;
    if (len - off >= r->need) { /* all in the caller's buffer: no copy */
      *msg = in + off;
      *msg_len = r->need;
      *used = off + r->need;
      return 0;
    }
    r->in_body = 1;
    r->cap = 0;
  }
  size_t take = r->need - r->have;
  if (take > len - off)
    take = len - off;
  if (r->have + take > r->cap || !r->buf) {
    /* grow with what arrived, not with what the peer announced */
    size_t nc = r->cap ? r->cap : 4096;
    while (nc < r->have + take)
      nc *= 2;
    if (nc > r->need)
      nc = r->need ? r->need : 1;
    uint8_t *nb = realloc(r->buf, nc);
    if (!nb) {
      r->err = CPC_ENOMEM;
      return r->err;
    }
    r->buf = nb;
    r->cap = nc;
  }
  if (take)
    memcpy(r->buf + r->have, in + off, take);
  r->have += take;
  off += take;
  *used = off;
  if (r->have < r->need)
    return 0;
  *msg = r->buf;
  *msg_len = r->need;
  r->done = r->buf;
  r->buf = NULL;
  r->in_body = 0;
  return 0;
}
