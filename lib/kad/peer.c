/*
 * peer.c: cpc_kad_peer, a PeerId with a few binary multiaddrs kept back to
 * back in one heap block.
 */
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "kad/kad_int.h"

size_t cpc__kad_peer_addr_off(const cpc_kad_peer *p, size_t i) {
  size_t off = 0;
  for (size_t j = 0; j < i; j++)
    off += p->addr_len[j];
  return off;
}

static size_t total_len(const cpc_kad_peer *p) {
  return cpc__kad_peer_addr_off(p, p->n_addrs);
}

int cpc__kad_peer_has_addr(const cpc_kad_peer *p, const uint8_t *in,
                           size_t len) {
  size_t off = 0;
  for (size_t i = 0; i < p->n_addrs; i++) {
    if (p->addr_len[i] == len && memcmp(p->addr_bytes + off, in, len) == 0)
      return 1;
    off += p->addr_len[i];
  }
  return 0;
}

/* Append without validation (in is a validated multiaddr). */
static int append_raw(cpc_kad_peer *p, const uint8_t *in, size_t len) {
  size_t have = total_len(p);
  uint8_t *nb;

  if (p->n_addrs >= CPC_KAD_MAX_ADDRS)
    return CPC_ENOSPC;
  nb = realloc(p->addr_bytes, have + len);
  if (!nb)
    return CPC_ENOMEM;
  memcpy(nb + have, in, len);
  p->addr_bytes = nb;
  p->addr_len[p->n_addrs++] = (uint16_t)len;
  return 0;
}

int cpc__kad_peer_add_addr(cpc_kad_peer *p, const uint8_t *in, size_t len) {
  cpc_multiaddr ma;
  int rc;

  if (p->n_addrs >= CPC_KAD_MAX_ADDRS)
    return CPC_ENOSPC;
  rc = cpc_multiaddr_from_bytes(&ma, in, len);
  if (rc != 0)
    return rc;
  if (cpc__kad_peer_has_addr(p, ma.bytes, ma.len))
    return 0;
  return append_raw(p, ma.bytes, ma.len);
}

int cpc__kad_peer_merge_addrs(cpc_kad_peer *dst, const cpc_kad_peer *src) {
  size_t off = 0;
  for (size_t i = 0; i < src->n_addrs && dst->n_addrs < CPC_KAD_MAX_ADDRS;
       i++) {
    const uint8_t *a = src->addr_bytes + off;
    off += src->addr_len[i];
    if (cpc__kad_peer_has_addr(dst, a, src->addr_len[i]))
      continue;
    if (append_raw(dst, a, src->addr_len[i]) == CPC_ENOMEM)
      return CPC_ENOMEM;
  }
  return 0;
}

int cpc_kad_peer_set(cpc_kad_peer *p, const cpc_peer_id *id,
                     const cpc_multiaddr *addrs, size_t n) {
  int rc = 0;

  cpc_kad_peer_clear(p);
  p->id = *id;
  for (size_t i = 0; i < n && p->n_addrs < CPC_KAD_MAX_ADDRS; i++) {
    if (addrs[i].len == 0 || addrs[i].len > CPC_MULTIADDR_MAX_BYTES) {
      rc = CPC_EINVAL;
      goto out;
    }
    if (cpc__kad_peer_has_addr(p, addrs[i].bytes, addrs[i].len))
      continue;
    rc = append_raw(p, addrs[i].bytes, addrs[i].len);
    if (rc != 0)
      goto out;
  }
out:
  if (rc != 0)
    cpc_kad_peer_clear(p);
  return rc;
}

int cpc_kad_peer_addr(const cpc_kad_peer *p, size_t i, cpc_multiaddr *out) {
  size_t off;

  if (i >= p->n_addrs)
    return CPC_ENOENT;
  off = cpc__kad_peer_addr_off(p, i);
  /* Stored addresses were validated when they came in. */
  out->len = p->addr_len[i];
  memcpy(out->bytes, p->addr_bytes + off, out->len);
  return 0;
}

int cpc_kad_peer_copy(cpc_kad_peer *dst, const cpc_kad_peer *src) {
  size_t len = total_len(src);
  uint8_t *nb = NULL;

  if (dst == src)
    return 0;
  if (len > 0) {
    nb = malloc(len);
    if (!nb)
      return CPC_ENOMEM;
    memcpy(nb, src->addr_bytes, len);
  }
  cpc_kad_peer_clear(dst);
  *dst = *src;
  dst->addr_bytes = nb;
  return 0;
}

void cpc_kad_peer_clear(cpc_kad_peer *p) {
  if (!p)
    return;
  free(p->addr_bytes);
  memset(p, 0, sizeof *p);
}
