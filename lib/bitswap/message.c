/* message.c: Bitswap messages to and from protobuf (ipfs/bitswap.proto). */
#include <stdlib.h>
#include <string.h>

#include "bitswap/bitswap_int.h"
#include "cpc/error.h"
#include "cpc/varint.h"
#include "ipfs/bitswap.pb-c.h"

typedef Ipfs__Bitswap__Message PbMessage;
typedef Ipfs__Bitswap__Message__Wantlist PbWantlist;
typedef Ipfs__Bitswap__Message__Wantlist__Entry PbEntry;
typedef Ipfs__Bitswap__Message__Block PbBlock;
typedef Ipfs__Bitswap__Message__BlockPresence PbPresence;

/* ---- sizes ----------------------------------------------------------------
 */

/* Bytes of a protobuf varint holding v (int32 negatives take 10). */
static size_t pb_varint_len(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

/* A length-delimited field (one-byte tag) with n bytes of content. */
static size_t ld(size_t n) {
  return 1 + pb_varint_len(n) + n;
}

static size_t cid_len(const cpc_cid *cid) {
  if (cid->version == 0)
    return 2 + cid->mh.digest_len;
  return 1 + pb_varint_len(cid->codec) + pb_varint_len(cid->mh.code) +
         pb_varint_len(cid->mh.digest_len) + cid->mh.digest_len;
}

static size_t prefix_len(const cpc_cid *cid) {
  return pb_varint_len(cid->version) + pb_varint_len(cid->codec) +
         pb_varint_len(cid->mh.code) + pb_varint_len(cid->mh.digest_len);
}

size_t cpc__entry_wire_size(const cpc_bitswap_entry *e,
                            enum cpc_bitswap_version v) {
  size_t n = ld(cid_len(&e->cid));
  if (e->priority != 0)
    n += 1 + pb_varint_len((uint64_t)(int64_t)e->priority);
  if (e->cancel)
    n += 2;
  if (v >= CPC_BITSWAP_1_2_0)
    n += (e->want_type ? 2 : 0) + (e->send_dont_have ? 2 : 0);
  return ld(n);
}

size_t cpc__block_wire_size(const cpc_cid *cid, size_t len,
                            enum cpc_bitswap_version v) {
  if (v == CPC_BITSWAP_1_0_0)
    return ld(len);
  return ld(ld(prefix_len(cid)) + ld(len));
}

size_t cpc__presence_wire_size(const cpc_cid *cid) {
  return ld(ld(cid_len(cid)) + 2);
}

/* ---- decode ---------------------------------------------------------------
 */

static int cid_whole(const ProtobufCBinaryData *b, cpc_cid *cid) {
  size_t used = 0;
  if (b->len == 0 || cpc_cid_decode(b->data, b->len, cid, &used) != 0 ||
      used != b->len)
    return CPC_EMALFORMED;
  return 0;
}

static void decode_entries(const PbWantlist *wl, cpc_bitswap_message *m) {
  for (size_t i = 0; i < wl->n_entries; i++) {
    const PbEntry *pe = wl->entries[i];
    cpc_bitswap_entry *e = &m->entries[m->n_entries];
    if (cid_whole(&pe->block, &e->cid) != 0) {
      m->n_dropped++;
      continue;
    }
    e->priority = pe->priority;
    e->cancel = pe->cancel ? 1 : 0;
    e->want_type =
        pe->wanttype == IPFS__BITSWAP__MESSAGE__WANTLIST__WANT_TYPE__Have
            ? CPC_BITSWAP_WANT_HAVE
            : CPC_BITSWAP_WANT_BLOCK;
    e->send_dont_have = pe->senddonthave ? 1 : 0;
    m->n_entries++;
  }
}

static void add_block(cpc_bitswap_message *m, const cpc_bitswap_prefix *p,
                      const ProtobufCBinaryData *data) {
  cpc_bitswap_block *b = &m->blocks[m->n_blocks];
  if (cpc_bitswap_prefix_cid(p, data->data, data->len, &b->cid) != 0) {
    m->n_dropped++;
    return;
  }
  b->data = data->data;
  b->len = data->len;
  m->n_blocks++;
}

static void decode_blocks(const PbMessage *pb, cpc_bitswap_message *m) {
  static const cpc_bitswap_prefix v0 = {0, CPC_CODEC_DAG_PB, CPC_MH_SHA2_256,
                                        CPC_MH_HASH_LEN};
  for (size_t i = 0; i < pb->n_blocks; i++)
    add_block(m, &v0, &pb->blocks[i]);
  for (size_t i = 0; i < pb->n_payload; i++) {
    cpc_bitswap_prefix p;
    const PbBlock *pbb = pb->payload[i];
    if (cpc_bitswap_prefix_decode(pbb->prefix.data, pbb->prefix.len, &p) != 0) {
      m->n_dropped++;
      continue;
    }
    add_block(m, &p, &pbb->data);
  }
}

static void decode_presences(const PbMessage *pb, cpc_bitswap_message *m) {
  for (size_t i = 0; i < pb->n_blockpresences; i++) {
    const PbPresence *pp = pb->blockpresences[i];
    cpc_bitswap_presence *p = &m->presences[m->n_presences];
    if (cid_whole(&pp->cid, &p->cid) != 0 ||
        (pp->type != IPFS__BITSWAP__MESSAGE__BLOCK_PRESENCE_TYPE__Have &&
         pp->type != IPFS__BITSWAP__MESSAGE__BLOCK_PRESENCE_TYPE__DontHave)) {
      m->n_dropped++;
      continue;
    }
    p->dont_have =
        pp->type == IPFS__BITSWAP__MESSAGE__BLOCK_PRESENCE_TYPE__DontHave;
    m->n_presences++;
  }
}

int cpc_bitswap_message_decode(const uint8_t *in, size_t len,
                               cpc_bitswap_message *m) {
  struct cpc__scan_counts c;
  PbMessage *pb = NULL;
  int rc;
  if (!m || (!in && len))
    return CPC_EINVAL;
  memset(m, 0, sizeof *m);
  if (len > CPC_BITSWAP_MAX_MESSAGE)
    return CPC_ETOOBIG;
  rc = cpc__message_scan(in, len, &c);
  if (rc != 0)
    return rc;
  pb = ipfs__bitswap__message__unpack(NULL, len, in);
  if (!pb)
    return CPC_EMALFORMED;
  size_t n_entries = pb->wantlist ? pb->wantlist->n_entries : 0;
  size_t n_blocks = pb->n_blocks + pb->n_payload;
  /* +1: never calloc(0), so NULL always means failure */
  m->entries = calloc(n_entries + 1, sizeof *m->entries);
  m->blocks = calloc(n_blocks + 1, sizeof *m->blocks);
  m->presences = calloc(pb->n_blockpresences + 1, sizeof *m->presences);
  if (!m->entries || !m->blocks || !m->presences) {
    rc = CPC_ENOMEM;
    goto out;
  }
  if (pb->wantlist) {
    m->full = pb->wantlist->full ? 1 : 0;
    decode_entries(pb->wantlist, m);
  }
  decode_blocks(pb, m);
  decode_presences(pb, m);
  m->pending_bytes = pb->pendingbytes;
  m->priv_ = pb;
  pb = NULL;
  rc = 0;
out:
  if (rc != 0) {
    free(m->entries);
    free(m->blocks);
    free(m->presences);
    memset(m, 0, sizeof *m);
  }
  if (pb)
    ipfs__bitswap__message__free_unpacked(pb, NULL);
  return rc;
}

void cpc_bitswap_message_free(cpc_bitswap_message *m) {
  if (!m || !m->priv_)
    return;
  ipfs__bitswap__message__free_unpacked(m->priv_, NULL);
  free(m->entries);
  free(m->blocks);
  free(m->presences);
  memset(m, 0, sizeof *m);
}

/* ---- encode ---------------------------------------------------------------
 */

/* Everything the protobuf-c structs of one message point at. */
struct enc {
  PbWantlist wl;
  PbEntry *entries, **entry_ptrs;
  PbBlock *payload, **payload_ptrs;
  ProtobufCBinaryData *blocks;
  PbPresence *presences, **presence_ptrs;
  uint8_t *arena; /* CID and prefix bytes */
  size_t arena_used, arena_cap;
};

static void enc_free(struct enc *e) {
  free(e->entries);
  free(e->entry_ptrs);
  free(e->payload);
  free(e->payload_ptrs);
  free(e->blocks);
  free(e->presences);
  free(e->presence_ptrs);
  free(e->arena);
}

/* Encode cid into the arena as b. */
static int arena_cid(struct enc *e, const cpc_cid *cid,
                     ProtobufCBinaryData *b) {
  size_t n = 0;
  int rc = cpc_cid_encode(cid, e->arena + e->arena_used,
                          e->arena_cap - e->arena_used, &n);
  if (rc != 0)
    return CPC_EINVAL;
  b->data = e->arena + e->arena_used;
  b->len = n;
  e->arena_used += n;
  return 0;
}

static int arena_prefix(struct enc *e, const cpc_cid *cid,
                        ProtobufCBinaryData *b) {
  cpc_bitswap_prefix p;
  size_t n = 0;
  cpc_bitswap_prefix_of(cid, &p);
  if (cpc_bitswap_prefix_encode(&p, e->arena + e->arena_used,
                                e->arena_cap - e->arena_used, &n) != 0)
    return CPC_EINVAL;
  b->data = e->arena + e->arena_used;
  b->len = n;
  e->arena_used += n;
  return 0;
}

static int enc_alloc(struct enc *e, const cpc_bitswap_message *m,
                     enum cpc_bitswap_version v) {
  size_t nb = m->n_blocks + 1, ne = m->n_entries + 1, np = m->n_presences + 1;
  e->entries = calloc(ne, sizeof *e->entries);
  e->entry_ptrs = calloc(ne, sizeof *e->entry_ptrs);
  if (v == CPC_BITSWAP_1_0_0) {
    e->blocks = calloc(nb, sizeof *e->blocks);
  } else {
    e->payload = calloc(nb, sizeof *e->payload);
    e->payload_ptrs = calloc(nb, sizeof *e->payload_ptrs);
  }
  e->presences = calloc(np, sizeof *e->presences);
  e->presence_ptrs = calloc(np, sizeof *e->presence_ptrs);
  /* every CID and prefix is at most CPC_CID_MAX_BYTES */
  e->arena_cap = (ne + nb + np) * CPC_CID_MAX_BYTES;
  e->arena = malloc(e->arena_cap);
  if (!e->entries || !e->entry_ptrs || !e->presences || !e->presence_ptrs ||
      !e->arena ||
      (v == CPC_BITSWAP_1_0_0 ? !e->blocks : !e->payload || !e->payload_ptrs))
    return CPC_ENOMEM;
  return 0;
}

static int enc_entries(struct enc *e, const cpc_bitswap_message *m,
                       enum cpc_bitswap_version v, PbMessage *pb) {
  if (m->n_entries == 0 && !m->full)
    return 0;
  ipfs__bitswap__message__wantlist__init(&e->wl);
  for (size_t i = 0; i < m->n_entries; i++) {
    const cpc_bitswap_entry *src = &m->entries[i];
    PbEntry *pe = &e->entries[i];
    ipfs__bitswap__message__wantlist__entry__init(pe);
    int rc = arena_cid(e, &src->cid, &pe->block);
    if (rc != 0)
      return rc;
    pe->priority = src->priority;
    pe->cancel = src->cancel != 0;
    if (v >= CPC_BITSWAP_1_2_0) {
      pe->wanttype = src->want_type == CPC_BITSWAP_WANT_HAVE
                         ? IPFS__BITSWAP__MESSAGE__WANTLIST__WANT_TYPE__Have
                         : IPFS__BITSWAP__MESSAGE__WANTLIST__WANT_TYPE__Block;
      pe->senddonthave = src->send_dont_have != 0;
    }
    e->entry_ptrs[i] = pe;
  }
  e->wl.n_entries = m->n_entries;
  e->wl.entries = e->entry_ptrs;
  e->wl.full = m->full != 0;
  pb->wantlist = &e->wl;
  return 0;
}

static int enc_blocks(struct enc *e, const cpc_bitswap_message *m,
                      enum cpc_bitswap_version v, PbMessage *pb) {
  for (size_t i = 0; i < m->n_blocks; i++) {
    const cpc_bitswap_block *b = &m->blocks[i];
    if (b->len > CPC_BITSWAP_MAX_BLOCK)
      return CPC_ETOOBIG;
    if (!b->data && b->len)
      return CPC_EINVAL;
    if (v == CPC_BITSWAP_1_0_0) {
      e->blocks[i].data = (uint8_t *)(uintptr_t)b->data;
      e->blocks[i].len = b->len;
      continue;
    }
    PbBlock *pbb = &e->payload[i];
    ipfs__bitswap__message__block__init(pbb);
    int rc = arena_prefix(e, &b->cid, &pbb->prefix);
    if (rc != 0)
      return rc;
    pbb->data.data = (uint8_t *)(uintptr_t)b->data;
    pbb->data.len = b->len;
    e->payload_ptrs[i] = pbb;
  }
  if (v == CPC_BITSWAP_1_0_0) {
    pb->n_blocks = m->n_blocks;
    pb->blocks = e->blocks;
  } else {
    pb->n_payload = m->n_blocks;
    pb->payload = e->payload_ptrs;
  }
  return 0;
}

static int enc_presences(struct enc *e, const cpc_bitswap_message *m,
                         PbMessage *pb) {
  for (size_t i = 0; i < m->n_presences; i++) {
    PbPresence *pp = &e->presences[i];
    ipfs__bitswap__message__block_presence__init(pp);
    int rc = arena_cid(e, &m->presences[i].cid, &pp->cid);
    if (rc != 0)
      return rc;
    pp->type = m->presences[i].dont_have
                   ? IPFS__BITSWAP__MESSAGE__BLOCK_PRESENCE_TYPE__DontHave
                   : IPFS__BITSWAP__MESSAGE__BLOCK_PRESENCE_TYPE__Have;
    e->presence_ptrs[i] = pp;
  }
  pb->n_blockpresences = m->n_presences;
  pb->blockpresences = e->presence_ptrs;
  return 0;
}

int cpc_bitswap_message_encode(const cpc_bitswap_message *m,
                               enum cpc_bitswap_version v, uint8_t **out,
                               size_t *out_len) {
  struct enc e;
  PbMessage pb;
  uint8_t *buf = NULL;
  int rc;
  memset(&e, 0, sizeof e);
  if (!m || !out || !out_len || !cpc__version_ok(v) ||
      (!m->entries && m->n_entries) || (!m->blocks && m->n_blocks) ||
      (!m->presences && m->n_presences))
    return CPC_EINVAL;
  int with_presences = v >= CPC_BITSWAP_1_2_0;
  if (m->n_entries > CPC_BITSWAP_MAX_ENTRIES ||
      m->n_blocks > CPC_BITSWAP_MAX_BLOCKS ||
      (with_presences && m->n_presences > CPC_BITSWAP_MAX_PRESENCES))
    return CPC_ETOOBIG;
  ipfs__bitswap__message__init(&pb);
  rc = enc_alloc(&e, m, v);
  if (rc == 0)
    rc = enc_entries(&e, m, v, &pb);
  if (rc == 0)
    rc = enc_blocks(&e, m, v, &pb);
  if (rc == 0 && with_presences) {
    rc = enc_presences(&e, m, &pb);
    pb.pendingbytes = m->pending_bytes;
  }
  if (rc != 0)
    goto out;
  size_t body = ipfs__bitswap__message__get_packed_size(&pb);
  if (body > CPC_BITSWAP_MAX_MESSAGE) {
    rc = CPC_ETOOBIG;
    goto out;
  }
  size_t hdr = cpc_varint_len(body);
  buf = malloc(hdr + body + 1);
  if (!buf) {
    rc = CPC_ENOMEM;
    goto out;
  }
  (void)cpc_varint_encode(body, buf, hdr, NULL);
  (void)ipfs__bitswap__message__pack(&pb, buf + hdr);
  *out = buf;
  *out_len = hdr + body;
  rc = 0;
out:
  enc_free(&e);
  return rc;
}
