/*
 * message.c: the DHT's Message protobuf (proto/libp2p/kad.proto) to and
 * from cpc_kad_message, and the uvarint length framing of a stream.
 */
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/varint.h"
#include "kad/kad_int.h"
#include "libp2p/kad.pb-c.h"

#define MAX_TIME_TEXT 64 /* an RFC 3339 time is about 30 characters */

static int copy_bytes(const ProtobufCBinaryData *b, uint8_t **out,
                      size_t *out_len) {
  *out = NULL;
  *out_len = 0;
  if (b->len == 0)
    return 0;
  *out = malloc(b->len);
  if (!*out)
    return CPC_ENOMEM;
  memcpy(*out, b->data, b->len);
  *out_len = b->len;
  return 0;
}

/* Convert wire peers, skipping the ones we cannot read. */
static int convert_peers(Libp2p__Kad__Message__Peer **in, size_t n_in,
                         cpc_kad_peer **out, size_t *n_out) {
  size_t n = n_in < CPC_KAD_MAX_PEERS ? n_in : CPC_KAD_MAX_PEERS;

  *out = NULL;
  *n_out = 0;
  if (n == 0)
    return 0;
  *out = calloc(n, sizeof **out);
  if (!*out)
    return CPC_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    cpc_kad_peer *p = &(*out)[*n_out];
    if (cpc_peer_id_from_bytes(in[i]->id.data, in[i]->id.len, &p->id) != 0)
      continue;
    for (size_t j = 0; j < in[i]->n_addrs; j++) {
      int rc =
          cpc__kad_peer_add_addr(p, in[i]->addrs[j].data, in[i]->addrs[j].len);
      if (rc == CPC_ENOMEM) {
        cpc_kad_peer_clear(p); /* not counted yet */
        return rc;
      }
      if (rc == CPC_ENOSPC)
        break;
    }
    p->connection = (int)in[i]->connection;
    (*n_out)++;
  }
  return 0;
}

int cpc_kad_message_decode(const uint8_t *in, size_t len,
                           cpc_kad_message *msg) {
  static const uint8_t empty[1];
  Libp2p__Kad__Message *m = NULL;
  int rc;

  memset(msg, 0, sizeof *msg);
  if (len > CPC_KAD_MAX_MESSAGE)
    return CPC_ETOOBIG;
  m = libp2p__kad__message__unpack(NULL, len, len ? in : empty);
  if (!m)
    return CPC_EMALFORMED;
  if ((int)m->type < CPC_KAD_PUT_VALUE || (int)m->type > CPC_KAD_PING) {
    rc = CPC_EUNSUPPORTED;
    goto out;
  }
  msg->type = (enum cpc_kad_msg_type)m->type;
  msg->cluster_level = m->clusterlevelraw;
  if (m->key.len > CPC_KAD_MAX_KEY) {
    rc = CPC_ETOOBIG;
    goto out;
  }
  rc = copy_bytes(&m->key, &msg->key, &msg->key_len);
  if (rc != 0)
    goto out;
  if (m->record) {
    Libp2p__Kad__Record *r = m->record;
    msg->has_record = 1;
    if (r->key.len > CPC_KAD_MAX_KEY || r->value.len > CPC_KAD_MAX_VALUE) {
      rc = CPC_ETOOBIG;
      goto out;
    }
    rc = copy_bytes(&r->key, &msg->rec_key, &msg->rec_key_len);
    if (rc == 0)
      rc = copy_bytes(&r->value, &msg->rec_value, &msg->rec_value_len);
    if (rc != 0)
      goto out;
    if (r->timereceived && r->timereceived[0] &&
        strlen(r->timereceived) <= MAX_TIME_TEXT) {
      msg->rec_time = strdup(r->timereceived);
      if (!msg->rec_time) {
        rc = CPC_ENOMEM;
        goto out;
      }
    }
  }
  rc = convert_peers(m->closerpeers, m->n_closerpeers, &msg->closer,
                     &msg->n_closer);
  if (rc == 0)
    rc = convert_peers(m->providerpeers, m->n_providerpeers, &msg->providers,
                       &msg->n_providers);
out:
  libp2p__kad__message__free_unpacked(m, NULL);
  if (rc != 0)
    cpc_kad_message_clear(msg);
  return rc;
}

static void free_list(Libp2p__Kad__Message__Peer **list, size_t n) {
  if (!list)
    return;
  for (size_t i = 0; i < n; i++)
    if (list[i])
      free(list[i]->addrs);
  free(list);
}

/* Wire views of peers[0..n): one allocation for the structs, one per
 * peer for its address array; the bytes are borrowed. */
static int build_list(const cpc_kad_peer *peers, size_t n,
                      Libp2p__Kad__Message__Peer ***out,
                      Libp2p__Kad__Message__Peer **store) {
  *out = NULL;
  *store = NULL;
  if (n == 0)
    return 0;
  if (n > CPC_KAD_MAX_PEERS)
    return CPC_ETOOBIG;
  *out = calloc(n, sizeof **out);
  *store = calloc(n, sizeof **store);
  if (!*out || !*store)
    return CPC_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    Libp2p__Kad__Message__Peer *w = &(*store)[i];
    const cpc_kad_peer *p = &peers[i];
    size_t off = 0;
    libp2p__kad__message__peer__init(w);
    (*out)[i] = w;
    w->id.data = (uint8_t *)p->id.bytes;
    w->id.len = p->id.len;
    w->connection = (Libp2p__Kad__Message__ConnectionType)p->connection;
    if (p->n_addrs == 0)
      continue;
    if (p->n_addrs > CPC_KAD_MAX_ADDRS)
      return CPC_ETOOBIG;
    w->addrs = calloc(p->n_addrs, sizeof *w->addrs);
    if (!w->addrs)
      return CPC_ENOMEM;
    w->n_addrs = p->n_addrs;
    for (size_t j = 0; j < p->n_addrs; j++) {
      w->addrs[j].data = p->addr_bytes + off;
      w->addrs[j].len = p->addr_len[j];
      off += p->addr_len[j];
    }
  }
  return 0;
}

int cpc_kad_message_encode(const cpc_kad_message *msg, uint8_t **out,
                           size_t *out_len) {
  Libp2p__Kad__Message m = LIBP2P__KAD__MESSAGE__INIT;
  Libp2p__Kad__Record r = LIBP2P__KAD__RECORD__INIT;
  Libp2p__Kad__Message__Peer *closer_store = NULL, *prov_store = NULL;
  size_t size, hdr;
  uint8_t *buf = NULL;
  int rc;

  *out = NULL;
  *out_len = 0;
  if ((int)msg->type < CPC_KAD_PUT_VALUE || (int)msg->type > CPC_KAD_PING)
    return CPC_EINVAL;
  if (msg->key_len > CPC_KAD_MAX_KEY || msg->rec_key_len > CPC_KAD_MAX_KEY ||
      msg->rec_value_len > CPC_KAD_MAX_VALUE)
    return CPC_ETOOBIG;
  m.type = (Libp2p__Kad__Message__MessageType)msg->type;
  m.clusterlevelraw = msg->cluster_level;
  m.key.data = msg->key;
  m.key.len = msg->key_len;
  if (msg->has_record) {
    r.key.data = msg->rec_key;
    r.key.len = msg->rec_key_len;
    r.value.data = msg->rec_value;
    r.value.len = msg->rec_value_len;
    if (msg->rec_time)
      r.timereceived = msg->rec_time;
    m.record = &r;
  }
  rc = build_list(msg->closer, msg->n_closer, &m.closerpeers, &closer_store);
  if (rc != 0)
    goto out;
  m.n_closerpeers = msg->n_closer;
  rc = build_list(msg->providers, msg->n_providers, &m.providerpeers,
                  &prov_store);
  if (rc != 0)
    goto out;
  m.n_providerpeers = msg->n_providers;
  size = libp2p__kad__message__get_packed_size(&m);
  if (size > CPC_KAD_MAX_MESSAGE) {
    rc = CPC_ETOOBIG;
    goto out;
  }
  hdr = cpc_varint_len(size);
  buf = malloc(hdr + size);
  if (!buf) {
    rc = CPC_ENOMEM;
    goto out;
  }
  (void)cpc_varint_encode(size, buf, hdr, NULL);
  libp2p__kad__message__pack(&m, buf + hdr);
  *out = buf;
  *out_len = hdr + size;
out:
  free_list(m.closerpeers, msg->n_closer);
  free_list(m.providerpeers, msg->n_providers);
  free(closer_store);
  free(prov_store);
  return rc;
}

static void clear_peers(cpc_kad_peer *p, size_t n) {
  if (!p)
    return;
  for (size_t i = 0; i < n; i++)
    cpc_kad_peer_clear(&p[i]);
  free(p);
}

void cpc_kad_message_clear(cpc_kad_message *msg) {
  if (!msg)
    return;
  free(msg->key);
  free(msg->rec_key);
  free(msg->rec_value);
  free(msg->rec_time);
  clear_peers(msg->closer, msg->n_closer);
  clear_peers(msg->providers, msg->n_providers);
  memset(msg, 0, sizeof *msg);
}

int cpc_kad_frame_parse(const uint8_t *in, size_t len, size_t max,
                        const uint8_t **msg, size_t *msg_len, size_t *used) {
  uint64_t n;
  size_t hdr;
  int rc;

  if (max == 0)
    max = CPC_KAD_MAX_MESSAGE;
  rc = cpc_varint_decode(in, len, &n, &hdr);
  if (rc != 0)
    return rc; /* CPC_ETRUNC or CPC_EMALFORMED */
  if (n > max)
    return CPC_ETOOBIG;
  if (len - hdr < n)
    return CPC_ETRUNC;
  *msg = in + hdr;
  *msg_len = (size_t)n;
  *used = hdr + (size_t)n;
  return 0;
}
