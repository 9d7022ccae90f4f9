/*
 * identify_msg.c: the identify protobuf (cpc/identify.h): decode with caps
 * and text checks, encode, merge, and the length-prefixed stream form.
 */
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/identify.h"
#include "cpc/varint.h"
#include "libp2p/identify.pb-c.h"

typedef Libp2p__Identify__Identify pb_identify;

void cpc_identify_msg_free(cpc_identify_msg *m) {
  if (!m)
    return;
  free(m->protocol_version);
  free(m->agent_version);
  free(m->listen_addrs);
  for (size_t i = 0; i < m->n_protocols; i++)
    free(m->protocols[i]);
  free(m->protocols);
  free(m);
}

/* A NUL-terminated copy of text bytes: at most max bytes, no control
 * characters (UTF-8 itself is passed through). Empty text gives NULL, as
 * if the field were absent. */
static int copy_text(const ProtobufCBinaryData *b, size_t max, char **out) {
  *out = NULL;
  if (b->len == 0)
    return 0;
  if (b->len > max)
    return CPC_ETOOBIG;
  for (size_t i = 0; i < b->len; i++)
    if (b->data[i] < 0x20 || b->data[i] == 0x7f)
      return CPC_EMALFORMED;
  *out = malloc(b->len + 1);
  if (!*out)
    return CPC_ENOMEM;
  memcpy(*out, b->data, b->len);
  (*out)[b->len] = '\0';
  return 0;
}

static int decode_fields(const pb_identify *pb, cpc_identify_msg *m) {
  int rc;
  if (pb->has_protocolversion &&
      (rc = copy_text(&pb->protocolversion, CPC_IDENTIFY_MAX_VERSION_LEN,
                      &m->protocol_version)) != 0)
    return rc;
  if (pb->has_agentversion &&
      (rc = copy_text(&pb->agentversion, CPC_IDENTIFY_MAX_VERSION_LEN,
                      &m->agent_version)) != 0)
    return rc;
  if (pb->has_publickey) {
    rc = cpc_pubkey_decode(pb->publickey.data, pb->publickey.len,
                           &m->public_key);
    if (rc != 0)
      return rc;
    m->has_public_key = 1;
  }
  if (pb->has_observedaddr && pb->observedaddr.len > 0) {
    /* an address we cannot parse is not worth failing identify over */
    if (cpc_multiaddr_from_bytes(&m->observed_addr, pb->observedaddr.data,
                                 pb->observedaddr.len) == 0)
      m->has_observed_addr = 1;
  }
  if (pb->n_listenaddrs > CPC_IDENTIFY_MAX_ADDRS ||
      pb->n_protocols > CPC_IDENTIFY_MAX_PROTOCOLS)
    return CPC_ETOOBIG;
  if (pb->n_listenaddrs > 0) {
    m->listen_addrs = calloc(pb->n_listenaddrs, sizeof *m->listen_addrs);
    if (!m->listen_addrs)
      return CPC_ENOMEM;
    for (size_t i = 0; i < pb->n_listenaddrs; i++)
      if (cpc_multiaddr_from_bytes(&m->listen_addrs[m->n_listen_addrs],
                                   pb->listenaddrs[i].data,
                                   pb->listenaddrs[i].len) == 0)
        m->n_listen_addrs++;
  }
  if (pb->n_protocols > 0) {
    m->protocols = calloc(pb->n_protocols, sizeof *m->protocols);
    if (!m->protocols)
      return CPC_ENOMEM;
    for (size_t i = 0; i < pb->n_protocols; i++) {
      rc = copy_text(&pb->protocols[i], CPC_IDENTIFY_MAX_PROTOCOL_LEN,
                     &m->protocols[m->n_protocols]);
      if (rc != 0)
        return rc;
      if (m->protocols[m->n_protocols]) /* empty ids are skipped */
        m->n_protocols++;
    }
  }
  m->had_signed_peer_record = pb->has_signedpeerrecord;
  return 0;
}

int cpc_identify_decode(const uint8_t *in, size_t len, cpc_identify_msg **out) {
  pb_identify *pb = NULL;
  cpc_identify_msg *m = NULL;
  int rc;

  *out = NULL;
  if (len > CPC_IDENTIFY_MAX_MSG)
    return CPC_ETOOBIG;
  pb = libp2p__identify__identify__unpack(NULL, len, in);
  if (!pb)
    return CPC_EMALFORMED;
  m = calloc(1, sizeof *m);
  if (!m) {
    rc = CPC_ENOMEM;
    goto out;
  }
  rc = decode_fields(pb, m);
  if (rc != 0)
    goto out;
  *out = m;
  m = NULL;
out:
  cpc_identify_msg_free(m);
  libp2p__identify__identify__free_unpacked(pb, NULL);
  return rc;
}

static ProtobufCBinaryData text_field(const char *s) {
  ProtobufCBinaryData b;
  b.data = (uint8_t *)(uintptr_t)s;
  b.len = strlen(s);
  return b;
}

int cpc_identify_encode(const cpc_identify_msg *m, uint8_t **out, size_t *len) {
  pb_identify pb = LIBP2P__IDENTIFY__IDENTIFY__INIT;
  ProtobufCBinaryData *addrs = NULL, *protos = NULL;
  uint8_t key[CPC_PUBKEY_PROTO_MAX], *buf = NULL;
  size_t key_len = 0, n;
  int rc = 0;

  *out = NULL;
  *len = 0;
  if (m->protocol_version) {
    pb.has_protocolversion = 1;
    pb.protocolversion = text_field(m->protocol_version);
  }
  if (m->agent_version) {
    pb.has_agentversion = 1;
    pb.agentversion = text_field(m->agent_version);
  }
  if (m->has_public_key) {
    if ((rc = cpc_pubkey_encode(&m->public_key, key, sizeof key, &key_len)))
      goto out;
    pb.has_publickey = 1;
    pb.publickey.data = key;
    pb.publickey.len = key_len;
  }
  if (m->has_observed_addr) {
    pb.has_observedaddr = 1;
    pb.observedaddr.data = (uint8_t *)(uintptr_t)m->observed_addr.bytes;
    pb.observedaddr.len = m->observed_addr.len;
  }
  if (m->n_listen_addrs > 0) {
    addrs = calloc(m->n_listen_addrs, sizeof *addrs);
    if (!addrs) {
      rc = CPC_ENOMEM;
      goto out;
    }
    for (size_t i = 0; i < m->n_listen_addrs; i++) {
      addrs[i].data = (uint8_t *)(uintptr_t)m->listen_addrs[i].bytes;
      addrs[i].len = m->listen_addrs[i].len;
    }
    pb.n_listenaddrs = m->n_listen_addrs;
    pb.listenaddrs = addrs;
  }
  if (m->n_protocols > 0) {
    protos = calloc(m->n_protocols, sizeof *protos);
    if (!protos) {
      rc = CPC_ENOMEM;
      goto out;
    }
    for (size_t i = 0; i < m->n_protocols; i++)
      protos[i] = text_field(m->protocols[i]);
    pb.n_protocols = m->n_protocols;
    pb.protocols = protos;
  }
  n = libp2p__identify__identify__get_packed_size(&pb);
  if (n > CPC_IDENTIFY_MAX_MSG) {
    rc = CPC_ETOOBIG;
    goto out;
  }
  buf = malloc(n ? n : 1);
  if (!buf) {
    rc = CPC_ENOMEM;
    goto out;
  }
  libp2p__identify__identify__pack(&pb, buf);
  *out = buf;
  *len = n;
out:
  free(addrs);
  free(protos);
  return rc;
}

void cpc_identify_merge(cpc_identify_msg *dst, cpc_identify_msg *src) {
  if (src->protocol_version) {
    free(dst->protocol_version);
    dst->protocol_version = src->protocol_version;
    src->protocol_version = NULL;
  }
  if (src->agent_version) {
    free(dst->agent_version);
    dst->agent_version = src->agent_version;
    src->agent_version = NULL;
  }
  if (src->has_public_key) {
    dst->public_key = src->public_key;
    dst->has_public_key = 1;
  }
  if (src->has_observed_addr) {
    dst->observed_addr = src->observed_addr;
    dst->has_observed_addr = 1;
  }
  if (src->n_listen_addrs > 0) {
    free(dst->listen_addrs);
    dst->listen_addrs = src->listen_addrs;
    dst->n_listen_addrs = src->n_listen_addrs;
    src->listen_addrs = NULL;
    src->n_listen_addrs = 0;
  }
  if (src->n_protocols > 0) {
    for (size_t i = 0; i < dst->n_protocols; i++)
      free(dst->protocols[i]);
    free(dst->protocols);
    dst->protocols = src->protocols;
    dst->n_protocols = src->n_protocols;
    src->protocols = NULL;
    src->n_protocols = 0;
  }
}

int cpc_identify_decode_stream(const uint8_t *buf, size_t len,
                               cpc_identify_msg **out) {
  cpc_identify_msg *acc = NULL, *one = NULL;
  size_t off = 0, count = 0, used = 0;
  uint64_t n = 0;
  int rc = 0;

  *out = NULL;
  while (off < len) {
    if (++count > CPC_IDENTIFY_MAX_MESSAGES) {
      rc = CPC_ETOOBIG;
      goto out;
    }
    if ((rc = cpc_varint_decode(buf + off, len - off, &n, &used)) != 0)
      goto out;
    off += used;
    if (n > CPC_IDENTIFY_MAX_MSG) {
      rc = CPC_ETOOBIG;
      goto out;
    }
    if (n > len - off) {
      rc = CPC_ETRUNC;
      goto out;
    }
    if ((rc = cpc_identify_decode(buf + off, (size_t)n, &one)) != 0)
      goto out;
    off += (size_t)n;
    if (!acc) {
      acc = one;
    } else {
      cpc_identify_merge(acc, one);
      cpc_identify_msg_free(one);
    }
    one = NULL;
  }
  if (!acc) {
    rc = CPC_ETRUNC;
    goto out;
  }
  *out = acc;
  acc = NULL;
out:
  cpc_identify_msg_free(acc);
  return rc;
}
