/*
 * multiaddr_text.c: the text form of multiaddrs, "/ip4/1.2.3.4/tcp/4001".
 */
#include <string.h>

#include "cpc/cid.h"
#include "cpc/error.h"
#include "cpc/multiaddr.h"
#include "cpc/multibase.h"
#include "cpc/multihash.h"
#include "cpc/varint.h"
#include "net/net_int.h"

/* A write cursor over a bounded byte buffer. */
struct sink {
  uint8_t *buf;
  size_t cap, len;
};

static int sink_put(struct sink *s, const void *p, size_t n) {
  if (n > s->cap - s->len)
    return CPC_ETOOBIG;
  memcpy(s->buf + s->len, p, n);
  s->len += n;
  return 0;
}

static int sink_varint(struct sink *s, uint64_t v) {
  size_t w = 0;
  if (cpc_varint_encode(v, s->buf + s->len, s->cap - s->len, &w) != 0)
    return CPC_ETOOBIG;
  s->len += w;
  return 0;
}

static int parse_port(const char *v, size_t n, uint8_t out[2]) {
  unsigned port = 0;
  if (n == 0 || n > 5)
    return CPC_EMALFORMED;
  for (size_t i = 0; i < n; i++) {
    if (v[i] < '0' || v[i] > '9')
      return CPC_EMALFORMED;
    port = port * 10 + (unsigned)(v[i] - '0');
  }
  if (port > 65535)
    return CPC_EMALFORMED;
  out[0] = (uint8_t)(port >> 8);
  out[1] = (uint8_t)port;
  return 0;
}

/* PeerId text: base58btc multihash, or a CIDv1 with codec libp2p-key. */
static int parse_peer_id(const char *v, size_t n, uint8_t *out, size_t cap,
                         size_t *len) {
  if (n == 0)
    return CPC_EMALFORMED;
  if (v[0] == '1' || v[0] == 'Q') {
    if (n > CPC_MB_MAX_TEXT || cpc_base58btc_decode(v, n, out, cap, len) != 0)
      return CPC_EMALFORMED;
  } else {
    char text[CPC_CID_MAX_TEXT];
    cpc_cid cid;
    if (n >= sizeof text)
      return CPC_EMALFORMED;
    memcpy(text, v, n);
    text[n] = '\0';
    if (cpc_cid_parse(text, &cid) != 0 || cid.version != 1 ||
        cid.codec != CPC_CODEC_LIBP2P_KEY ||
        cpc_multihash_encode(&cid.mh, out, cap, len) != 0)
      return CPC_EMALFORMED;
  }
  return cpc__ma_check_varlen(CPC_MA_P2P, out, *len);
}

/* Encode the value text v[0..n) of protocol p into s. */
static int put_value(struct sink *s, const struct cpc__ma_proto *p,
                     const char *v, size_t n) {
  uint8_t buf[CPC_MULTIADDR_MAX_BYTES];
  size_t len = 0;
  int rc;
  switch (p->code) {
  case CPC_MA_IP4:
    rc = cpc__ip4_parse(v, n, buf);
    len = 4;
    break;
  case CPC_MA_IP6:
    rc = cpc__ip6_parse(v, n, buf);
    len = 16;
    break;
  case CPC_MA_TCP:
  case CPC_MA_UDP:
    rc = parse_port(v, n, buf);
    len = 2;
    break;
  case CPC_MA_P2P: rc = parse_peer_id(v, n, buf, sizeof buf, &len); break;
  default: /* dns, dns4, dns6, dnsaddr */
    if (n > CPC_MULTIADDR_MAX_DNS)
      return CPC_EMALFORMED;
    rc = cpc__ma_check_varlen(p->code, (const uint8_t *)v, n);
    memcpy(buf, v, n);
    len = n;
    break;
  }
  if (rc != 0)
    return rc;
  if (p->kind == CPC__MA_VARLEN && (rc = sink_varint(s, len)) != 0)
    return rc;
  return sink_put(s, buf, len);
}

int cpc_multiaddr_parse(cpc_multiaddr *ma, const char *text, size_t text_len) {
  struct sink s = {ma->bytes, sizeof ma->bytes, 0};
  size_t i = 0, n = 0;
  int rc = 0;

  ma->len = 0;
  if (text_len >= CPC_MULTIADDR_MAX_TEXT)
    return CPC_ETOOBIG;
  if (text_len == 0 || text[0] != '/' || memchr(text, '\0', text_len))
    return CPC_EMALFORMED;
  if (text_len > 1 && text[text_len - 1] == '/')
    text_len--;
  while (i < text_len) {
    const struct cpc__ma_proto *p;
    const char *name = text + i + 1, *end = text + text_len, *slash;
    slash = memchr(name, '/', (size_t)(end - name));
    size_t name_len = (size_t)((slash ? slash : end) - name);
    if (name_len == 0) {
      rc = CPC_EMALFORMED;
      goto out;
    }
    if (n == CPC_MULTIADDR_MAX_COMPONENTS) {
      rc = CPC_ETOOBIG;
      goto out;
    }
    p = cpc__ma_proto_by_name(name, name_len);
    if (!p) {
      rc = CPC_EUNSUPPORTED;
      goto out;
    }
    if ((rc = sink_varint(&s, p->code)) != 0)
      goto out;
    i += 1 + name_len;
    if (p->kind != CPC__MA_NONE) {
      const char *v = text + i + 1, *vslash;
      if (i >= text_len) {
        rc = CPC_EMALFORMED; /* "/tcp" without a port */
        goto out;
      }
      vslash = memchr(v, '/', (size_t)(end - v));
      size_t v_len = (size_t)((vslash ? vslash : end) - v);
      if ((rc = put_value(&s, p, v, v_len)) != 0)
        goto out;
      i += 1 + v_len;
    }
    n++;
  }
  if (s.len == 0)
    rc = CPC_EMALFORMED; /* "/" alone */
  else
    ma->len = s.len;
out:
  return rc;
}

/* Append the text of one component's value to out. */
static int format_value(const cpc_multiaddr_component *c, char *out, size_t cap,
                        size_t *o) {
  char tmp[CPC__IP6_TEXT];
  const char *v = tmp;
  size_t n;
  switch (c->code) {
  case CPC_MA_IP4: cpc__ip4_format(c->value, tmp); break;
  case CPC_MA_IP6: cpc__ip6_format(c->value, tmp); break;
  case CPC_MA_TCP:
  case CPC_MA_UDP: {
    unsigned port = (unsigned)c->value[0] << 8 | c->value[1];
    char *p = tmp + sizeof tmp - 1;
    *p = '\0';
    do {
      *--p = (char)('0' + port % 10);
      port /= 10;
    } while (port);
    v = p;
    break;
  }
  case CPC_MA_P2P: {
    size_t w = 0;
    if (*o >= cap || cpc_base58btc_encode(c->value, c->value_len, out + *o,
                                          cap - *o, &w) != 0)
      return CPC_ETOOBIG;
    *o += w;
    return 0;
  }
  default: /* dns names, validated UTF-8 without '/' */
    if (c->value_len >= cap - *o)
      return CPC_ETOOBIG;
    memcpy(out + *o, c->value, c->value_len);
    *o += c->value_len;
    return 0;
  }
  n = strlen(v);
  if (n >= cap - *o)
    return CPC_ETOOBIG;
  memcpy(out + *o, v, n);
  *o += n;
  return 0;
}

int cpc_multiaddr_format(const cpc_multiaddr *ma, char *out, size_t cap,
                         size_t *written) {
  cpc_multiaddr_iter it;
  cpc_multiaddr_component c;
  size_t o = 0;
  int rc = 0;

  if (cap > 0)
    out[0] = '\0';
  if (ma->len == 0) {
    rc = CPC_EINVAL;
    goto out;
  }
  cpc_multiaddr_iter_init(&it, ma);
  while ((rc = cpc_multiaddr_iter_next(&it, &c)) == 0) {
    size_t nl = strlen(c.name);
    if (cap < 2 || nl + 1 >= cap - o) {
      rc = CPC_ETOOBIG;
      goto out;
    }
    out[o++] = '/';
    memcpy(out + o, c.name, nl);
    o += nl;
    if (c.value_len > 0) {
      if (1 >= cap - o) {
        rc = CPC_ETOOBIG;
        goto out;
      }
      out[o++] = '/';
      if ((rc = format_value(&c, out, cap, &o)) != 0)
        goto out;
    }
  }
  if (rc == CPC_ENOENT)
    rc = 0;
out:
  if (rc != 0) {
    if (cap > 0)
      out[0] = '\0';
  } else {
    out[o] = '\0';
    if (written)
      *written = o;
  }
  return rc;
}
