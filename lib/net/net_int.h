/*
 * net_int.h: internals shared between the files of lib/net (not public).
 */
#ifndef CPC_NET_INT_H
#define CPC_NET_INT_H

#include <stddef.h>
#include <stdint.h>

#include "cpc/multiaddr.h"

/* Value shape of a multiaddr protocol. */
enum cpc__ma_kind {
  CPC__MA_NONE,   /* no value */
  CPC__MA_FIXED,  /* fixed number of bytes */
  CPC__MA_VARLEN, /* varint length, then that many bytes */
};

struct cpc__ma_proto {
  uint64_t code;
  const char *name;
  enum cpc__ma_kind kind;
  size_t size; /* byte count for CPC__MA_FIXED */
};

/* The protocol with this code or name (name need not be NUL-terminated). */
const struct cpc__ma_proto *cpc__ma_proto_by_code(uint64_t code);
const struct cpc__ma_proto *cpc__ma_proto_by_name(const char *name, size_t len);

/*
 * Decode and validate the component at in[0..len): *c gets it (pointers into
 * in). Errors as cpc_multiaddr_from_bytes.
 */
int cpc__ma_component_decode(const uint8_t *in, size_t len,
                             cpc_multiaddr_component *c);

/* Check a value of a varlen protocol (dns name, p2p multihash). */
int cpc__ma_check_varlen(uint64_t code, const uint8_t *v, size_t len);

/* IP text (multiaddr_ip.c). parse: CPC_EMALFORMED on anything not canonical
 * enough (ip4: four decimal octets 0..255 without leading zeros; ip6: RFC
 * 4291 text, optional trailing dotted quad, at most one "::"). */
int cpc__ip4_parse(const char *s, size_t n, uint8_t out[4]);
int cpc__ip6_parse(const char *s, size_t n, uint8_t out[16]);
#define CPC__IP4_TEXT 16 /* "255.255.255.255" + NUL */
#define CPC__IP6_TEXT 46 /* longest RFC 5952 form + NUL */
void cpc__ip4_format(const uint8_t ip[4], char out[CPC__IP4_TEXT]);
void cpc__ip6_format(const uint8_t ip[16], char out[CPC__IP6_TEXT]);

#endif /* CPC_NET_INT_H */
