/*
 * multiaddr.c: the protocol table, binary multiaddrs, iteration and the
 * helpers a transport needs (host/port, trailing PeerId, building).
 * Text lives in multiaddr_text.c, IP text in multiaddr_ip.c.
 */
#include <string.h>

#include "cpc/error.h"
#include "cpc/multiaddr.h"
#include "cpc/multihash.h"
#include "cpc/varint.h"
#include "net/net_int.h"

static const struct cpc__ma_proto protos[] = {
    {CPC_MA_IP4, "ip4", CPC__MA_FIXED, 4},
    {CPC_MA_TCP, "tcp", CPC__MA_FIXED, 2},
    {CPC_MA_IP6, "ip6", CPC__MA_FIXED, 16},
    {CPC_MA_DNS, "dns", CPC__MA_VARLEN, 0},
    {CPC_MA_DNS4, "dns4", CPC__MA_VARLEN, 0},
    {CPC_MA_DNS6, "dns6", CPC__MA_VARLEN, 0},
    {CPC_MA_DNSADDR, "dnsaddr", CPC__MA_VARLEN, 0},
    {CPC_MA_UDP, "udp", CPC__MA_FIXED, 2},
    {CPC_MA_P2P_CIRCUIT, "p2p-circuit", CPC__MA_NONE, 0},
    {CPC_MA_P2P, "p2p", CPC__MA_VARLEN, 0},
    {CPC_MA_TLS, "tls", CPC__MA_NONE, 0},
    {CPC_MA_NOISE, "noise", CPC__MA_NONE, 0},
    {CPC_MA_QUIC, "quic", CPC__MA_NONE, 0},
    {CPC_MA_QUIC_V1, "quic-v1", CPC__MA_NONE, 0},
    {CPC_MA_WS, "ws", CPC__MA_NONE, 0},
    {CPC_MA_WSS, "wss", CPC__MA_NONE, 0},
};

const struct cpc__ma_proto *cpc__ma_proto_by_code(uint64_t code) {
  for (size_t i = 0; i < sizeof protos / sizeof protos[0]; i++)
    if (protos[i].code == code)
      return &protos[i];
  return NULL;
}

const struct cpc__ma_proto *cpc__ma_proto_by_name(const char *name,
                                                  size_t len) {
  if (len == 4 && memcmp(name, "ipfs", 4) == 0)
    return cpc__ma_proto_by_code(CPC_MA_P2P);
  for (size_t i = 0; i < sizeof protos / sizeof protos[0]; i++)
    if (strlen(protos[i].name) == len && memcmp(protos[i].name, name, len) == 0)
      return &protos[i];
  return NULL;
}

const char *cpc_multiaddr_code_name(uint64_t code) {
  const struct cpc__ma_proto *p = cpc__ma_proto_by_code(code);
  return p ? p->name : NULL;
}

/* Well-formed UTF-8 (no overlongs, no surrogates), no controls, no '/'. */
static int check_dns_name(const uint8_t *v, size_t len) {
  if (len == 0 || len > CPC_MULTIADDR_MAX_DNS)
    return CPC_EMALFORMED;
  for (size_t i = 0; i < len;) {
    uint8_t c = v[i];
    size_t extra;
    uint32_t cp;
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f || c == '/')
        return CPC_EMALFORMED;
      i++;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) {
      extra = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      extra = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return CPC_EMALFORMED;
    }
    if (len - i - 1 < extra)
      return CPC_EMALFORMED;
    for (size_t k = 1; k <= extra; k++) {
      if ((v[i + k] & 0xc0) != 0x80)
        return CPC_EMALFORMED;
      cp = cp << 6 | (v[i + k] & 0x3f);
    }
    if ((extra == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (extra == 3 && (cp < 0x10000 || cp > 0x10ffff)))
      return CPC_EMALFORMED;
    i += extra + 1;
  }
  return 0;
}

int cpc__ma_check_varlen(uint64_t code, const uint8_t *v, size_t len) {
  if (code == CPC_MA_P2P) {
    cpc_multihash mh;
    size_t used = 0;
    if (len == 0 || cpc_multihash_decode(v, len, &mh, &used) != 0 ||
        used != len)
      return CPC_EMALFORMED;
    return 0;
  }
  return check_dns_name(v, len);
}

int cpc__ma_component_decode(const uint8_t *in, size_t len,
                             cpc_multiaddr_component *c) {
  uint64_t code, vlen;
  size_t used, lused;
  const struct cpc__ma_proto *p;
  int rc = cpc_varint_decode(in, len, &code, &used);
  if (rc != 0)
    return rc;
  p = cpc__ma_proto_by_code(code);
  if (!p)
    return CPC_EUNSUPPORTED;
  c->code = code;
  c->name = p->name;
  switch (p->kind) {
  case CPC__MA_NONE:
    c->value = in + used;
    c->value_len = 0;
    c->size = used;
    return 0;
  case CPC__MA_FIXED:
    if (len - used < p->size)
      return CPC_ETRUNC;
    c->value = in + used;
    c->value_len = p->size;
    c->size = used + p->size;
    return 0;
  case CPC__MA_VARLEN:
    rc = cpc_varint_decode(in + used, len - used, &vlen, &lused);
    if (rc != 0)
      return rc;
    used += lused;
    if (vlen > len - used)
      return vlen > CPC_MULTIADDR_MAX_BYTES ? CPC_ETOOBIG : CPC_ETRUNC;
    rc = cpc__ma_check_varlen(code, in + used, (size_t)vlen);
    if (rc != 0)
      return rc;
    c->value = in + used;
    c->value_len = (size_t)vlen;
    c->size = used + (size_t)vlen;
    return 0;
  }
  return CPC_EUNSUPPORTED;
}

int cpc_multiaddr_from_bytes(cpc_multiaddr *ma, const uint8_t *in, size_t len) {
  size_t off = 0, n = 0;
  int rc = 0;
  ma->len = 0;
  if (len == 0)
    return CPC_EMALFORMED;
  if (len > CPC_MULTIADDR_MAX_BYTES)
    return CPC_ETOOBIG;
  while (off < len) {
    cpc_multiaddr_component c;
    if (n == CPC_MULTIADDR_MAX_COMPONENTS)
      return CPC_ETOOBIG;
    rc = cpc__ma_component_decode(in + off, len - off, &c);
    if (rc != 0)
      return rc;
    off += c.size;
    n++;
  }
  memcpy(ma->bytes, in, len);
  ma->len = len;
  return 0;
}

void cpc_multiaddr_iter_init(cpc_multiaddr_iter *it, const cpc_multiaddr *ma) {
  it->ma = ma;
  it->off = 0;
}

int cpc_multiaddr_iter_next(cpc_multiaddr_iter *it,
                            cpc_multiaddr_component *c) {
  const cpc_multiaddr *ma = it->ma;
  if (it->off >= ma->len)
    return CPC_ENOENT;
  int rc = cpc__ma_component_decode(ma->bytes + it->off, ma->len - it->off, c);
  if (rc != 0)
    return rc; /* only if the caller edited ma->bytes by hand */
  c->offset = it->off;
  it->off += c->size;
  return 0;
}

size_t cpc_multiaddr_count(const cpc_multiaddr *ma) {
  cpc_multiaddr_iter it;
  cpc_multiaddr_component c;
  size_t n = 0;
  cpc_multiaddr_iter_init(&it, ma);
  while (cpc_multiaddr_iter_next(&it, &c) == 0)
    n++;
  return n;
}

int cpc_multiaddr_host_port(const cpc_multiaddr *ma, cpc_multiaddr_host *out) {
  cpc_multiaddr_iter it;
  cpc_multiaddr_component h, t;
  memset(out, 0, sizeof *out);
  cpc_multiaddr_iter_init(&it, ma);
  if (cpc_multiaddr_iter_next(&it, &h) != 0 ||
      cpc_multiaddr_iter_next(&it, &t) != 0)
    return CPC_EUNSUPPORTED;
  if (t.code != CPC_MA_TCP && t.code != CPC_MA_UDP)
    return CPC_EUNSUPPORTED;
  switch (h.code) {
  case CPC_MA_IP4:
    memcpy(out->ip, h.value, 4);
    cpc__ip4_format(h.value, out->host);
    break;
  case CPC_MA_IP6:
    memcpy(out->ip, h.value, 16);
    cpc__ip6_format(h.value, out->host);
    break;
  case CPC_MA_DNS:
  case CPC_MA_DNS4:
  case CPC_MA_DNS6:
    memcpy(out->host, h.value, h.value_len); /* <= CPC_MULTIADDR_MAX_DNS */
    out->host[h.value_len] = '\0';
    break;
  default: return CPC_EUNSUPPORTED;
  }
  out->host_code = h.code;
  out->transport_code = t.code;
  out->port = (uint16_t)(t.value[0] << 8 | t.value[1]);
  return 0;
}

/* Offset of the last component, or ma->len if empty. */
static size_t last_component(const cpc_multiaddr *ma,
                             cpc_multiaddr_component *last) {
  cpc_multiaddr_iter it;
  cpc_multiaddr_component c;
  size_t off = ma->len;
  memset(last, 0, sizeof *last);
  cpc_multiaddr_iter_init(&it, ma);
  while (cpc_multiaddr_iter_next(&it, &c) == 0) {
    *last = c;
    off = c.offset;
  }
  return off;
}

int cpc_multiaddr_peer_id(const cpc_multiaddr *ma, uint8_t *out, size_t cap,
                          size_t *len) {
  cpc_multiaddr_component last;
  if (last_component(ma, &last) == ma->len || last.code != CPC_MA_P2P)
    return CPC_ENOENT;
  if (last.value_len > cap)
    return CPC_ETOOBIG;
  memcpy(out, last.value, last.value_len);
  *len = last.value_len;
  return 0;
}

void cpc_multiaddr_strip_p2p(cpc_multiaddr *ma) {
  cpc_multiaddr_component last;
  size_t off = last_component(ma, &last);
  if (off < ma->len && last.code == CPC_MA_P2P && off > 0) /* keep >= 1 */
    ma->len = off;
}

int cpc_multiaddr_from_ip(cpc_multiaddr *ma, const uint8_t *ip, size_t ip_len,
                          uint64_t transport_code, uint16_t port) {
  size_t o = 0;
  ma->len = 0;
  if ((ip_len != 4 && ip_len != 16) ||
      (transport_code != CPC_MA_TCP && transport_code != CPC_MA_UDP))
    return CPC_EINVAL;
  ma->bytes[o++] = ip_len == 4 ? CPC_MA_IP4 : CPC_MA_IP6;
  memcpy(ma->bytes + o, ip, ip_len);
  o += ip_len;
  if (transport_code == CPC_MA_TCP) {
    ma->bytes[o++] = CPC_MA_TCP;
  } else { /* 0x0111 as a varint */
    ma->bytes[o++] = 0x91;
    ma->bytes[o++] = 0x02;
  }
  ma->bytes[o++] = (uint8_t)(port >> 8);
  ma->bytes[o++] = (uint8_t)port;
  ma->len = o;
  return 0;
}

int cpc_multiaddr_encapsulate(cpc_multiaddr *ma, const cpc_multiaddr *tail) {
  if (tail->len > CPC_MULTIADDR_MAX_BYTES - ma->len ||
      cpc_multiaddr_count(ma) + cpc_multiaddr_count(tail) >
          CPC_MULTIADDR_MAX_COMPONENTS)
    return CPC_ETOOBIG;
  memmove(ma->bytes + ma->len, tail->bytes, tail->len);
  ma->len += tail->len;
  return 0;
}

int cpc_multiaddr_append_p2p(cpc_multiaddr *ma, const uint8_t *peer,
                             size_t peer_len) {
  cpc_multiaddr tail;
  size_t o = 0, w = 0;
  if (cpc__ma_check_varlen(CPC_MA_P2P, peer, peer_len) != 0)
    return CPC_EMALFORMED;
  if (peer_len > CPC_MULTIADDR_MAX_BYTES - 2 - CPC_VARINT_MAX_LEN)
    return CPC_ETOOBIG;
  tail.bytes[o++] = 0xa5; /* 0x01a5 as a varint */
  tail.bytes[o++] = 0x03;
  if (cpc_varint_encode(peer_len, tail.bytes + o, sizeof tail.bytes - o, &w))
    return CPC_ETOOBIG;
  o += w;
  memcpy(tail.bytes + o, peer, peer_len);
  tail.len = o + peer_len;
  return cpc_multiaddr_encapsulate(ma, &tail);
}

int cpc_multiaddr_equal(const cpc_multiaddr *a, const cpc_multiaddr *b) {
  return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}
