/*
 * cpc/multiaddr.h: multiaddrs (multiformats/multiaddr, libp2p addressing),
 * binary and text, for the protocols CPC dials and listens on.
 *
 * A multiaddr is a list of components <code varint><value>. The binary form
 * is the canonical one: a cpc_multiaddr holds those bytes, always validated
 * (every component known, every value well-formed, no trailing bytes), so
 * formatting and iterating never fail on a value this API built.
 *
 * Protocols handled (code, text name, value):
 *   ip4 0x04 (4 bytes, dotted quad)      ip6 0x29 (16 bytes, RFC 5952 text)
 *   tcp 0x06, udp 0x0111 (2 bytes big-endian, decimal port 0..65535)
 *   dns 0x35, dns4 0x36, dns6 0x37, dnsaddr 0x38 (varint length + UTF-8
 *     name, 1..255 bytes, no '/' and no control characters)
 *   p2p 0x01a5 (varint length + multihash; text base58btc "12D3KooW…"/"Qm…"
 *     or a CIDv1 with codec libp2p-key, e.g. "bafzaa…"; "ipfs" is read as
 *     an old name of p2p and written as p2p)
 *   no value: quic 0x01cc, quic-v1 0x01cd, ws 0x01dd, wss 0x01de,
 *     p2p-circuit 0x0122, tls 0x01c0, noise 0x01c6
 *
 * Codes come from the multicodec table (note quic-v1 is 0x01cd; 0x01cc is
 * the older draft "quic"). Caps: CPC_MULTIADDR_MAX_BYTES of binary,
 * CPC_MULTIADDR_MAX_COMPONENTS components, CPC_MULTIADDR_MAX_TEXT of text.
 * Nothing here allocates: a cpc_multiaddr is a plain value, copy it freely.
 */
#ifndef CPC_MULTIADDR_H
#define CPC_MULTIADDR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CPC_MULTIADDR_MAX_BYTES 1024
#define CPC_MULTIADDR_MAX_COMPONENTS 32
/* Longest text accepted or written, NUL included. */
#define CPC_MULTIADDR_MAX_TEXT 4096
/* Longest dns / dns4 / dns6 / dnsaddr name, in bytes. */
#define CPC_MULTIADDR_MAX_DNS 255

enum cpc_multiaddr_code {
  CPC_MA_IP4 = 0x04,
  CPC_MA_TCP = 0x06,
  CPC_MA_IP6 = 0x29,
  CPC_MA_DNS = 0x35,
  CPC_MA_DNS4 = 0x36,
  CPC_MA_DNS6 = 0x37,
  CPC_MA_DNSADDR = 0x38,
  CPC_MA_UDP = 0x0111,
  CPC_MA_P2P_CIRCUIT = 0x0122,
  CPC_MA_P2P = 0x01a5,
  CPC_MA_TLS = 0x01c0,
  CPC_MA_NOISE = 0x01c6,
  CPC_MA_QUIC = 0x01cc,
  CPC_MA_QUIC_V1 = 0x01cd,
  CPC_MA_WS = 0x01dd,
  CPC_MA_WSS = 0x01de,
};

/* A validated binary multiaddr. len == 0 means "empty" (never valid). */
typedef struct cpc_multiaddr {
  size_t len;
  uint8_t bytes[CPC_MULTIADDR_MAX_BYTES];
} cpc_multiaddr;

/* One component, borrowed from the multiaddr it came from. */
typedef struct cpc_multiaddr_component {
  uint64_t code;
  const char *name;     /* static text name, e.g. "tcp" */
  const uint8_t *value; /* value bytes without any length prefix */
  size_t value_len;     /* 0 for the no-value protocols */
  size_t offset;        /* where the component starts in ma->bytes */
  size_t size;          /* component length in bytes, code included */
} cpc_multiaddr_component;

/* Iteration state: set it up with cpc_multiaddr_iter_init(). */
typedef struct cpc_multiaddr_iter {
  const cpc_multiaddr *ma;
  size_t off;
} cpc_multiaddr_iter;

/* What a transport needs to dial (or the caller to print) an address. */
typedef struct cpc_multiaddr_host {
  uint64_t host_code;      /* CPC_MA_IP4, _IP6, _DNS, _DNS4 or _DNS6 */
  uint64_t transport_code; /* CPC_MA_TCP or CPC_MA_UDP */
  uint16_t port;
  uint8_t ip[16]; /* 4 bytes for ip4, 16 for ip6, unset for dns */
  char host[CPC_MULTIADDR_MAX_DNS + 1]; /* NUL-terminated text of the host */
} cpc_multiaddr_host;

/*
 * Parse and validate binary in[0..len) into *ma (a copy; in is not kept).
 * Errors: CPC_EMALFORMED (empty, a bad varint, a bad value such as a port
 * that is not 2 bytes or an invalid multihash), CPC_ETRUNC (ends inside a
 * component), CPC_EUNSUPPORTED (a code outside the list above: its value
 * length is unknown, so it cannot be skipped), CPC_ETOOBIG (over
 * CPC_MULTIADDR_MAX_BYTES or CPC_MULTIADDR_MAX_COMPONENTS). On error *ma is
 * left empty (len 0).
 */
int cpc_multiaddr_from_bytes(cpc_multiaddr *ma, const uint8_t *in, size_t len);

/*
 * Parse text[0..text_len) ("/ip4/1.2.3.4/tcp/4001"; one trailing '/' is
 * tolerated) into *ma. text need not be NUL-terminated and must not contain
 * NUL. Errors: CPC_EMALFORMED (no leading '/', a missing or bad value, e.g.
 * "1.2.3.256", port 65536, a bad PeerId), CPC_EUNSUPPORTED (an unknown
 * protocol name), CPC_ETOOBIG (text over CPC_MULTIADDR_MAX_TEXT, or the
 * result over the binary caps). On error *ma is left empty.
 */
int cpc_multiaddr_parse(cpc_multiaddr *ma, const char *text, size_t text_len);

/*
 * Write the canonical text of ma into out (cap bytes), NUL-terminated;
 * *written (may be NULL) gets strlen(out). CPC_ETOOBIG if cap is short
 * (CPC_MULTIADDR_MAX_TEXT is always enough), CPC_EINVAL if ma is empty.
 * On error out holds an empty string (if cap > 0).
 */
int cpc_multiaddr_format(const cpc_multiaddr *ma, char *out, size_t cap,
                         size_t *written);

/* Start iterating over ma's components (ma is borrowed by the iterator). */
void cpc_multiaddr_iter_init(cpc_multiaddr_iter *it, const cpc_multiaddr *ma);

/*
 * Next component into *c (its pointers borrow ma's bytes). CPC_ENOENT after
 * the last one. ma must not change while it is iterated.
 */
int cpc_multiaddr_iter_next(cpc_multiaddr_iter *it, cpc_multiaddr_component *c);

/* Number of components (0 for an empty multiaddr). */
size_t cpc_multiaddr_count(const cpc_multiaddr *ma);

/* Static text name of a handled code, or NULL. */
const char *cpc_multiaddr_code_name(uint64_t code);

/*
 * Host and port for dialing: ma must start with ip4, ip6, dns, dns4 or dns6
 * followed by tcp or udp (what follows, e.g. /quic-v1 or /p2p/…, is not
 * looked at). CPC_EUNSUPPORTED if it does not (e.g. /dnsaddr/… must be
 * resolved first, /p2p-circuit/… is relayed).
 */
int cpc_multiaddr_host_port(const cpc_multiaddr *ma, cpc_multiaddr_host *out);

/*
 * The PeerId of the last component if it is /p2p/: its multihash bytes
 * (what libp2p calls the binary PeerId) copied into out (cap bytes, *len
 * gets the length). CPC_ENOENT if ma does not end in /p2p/, CPC_ETOOBIG if
 * cap is short (CPC_MULTIADDR_MAX_BYTES is always enough).
 */
int cpc_multiaddr_peer_id(const cpc_multiaddr *ma, uint8_t *out, size_t cap,
                          size_t *len);

/*
 * Build /ip4/A/tcp|udp/P or /ip6/A/tcp|udp/P from a raw address (ip_len 4
 * or 16, network byte order, e.g. from getsockname) and a host-order port.
 * CPC_EINVAL for another ip_len or transport_code.
 */
int cpc_multiaddr_from_ip(cpc_multiaddr *ma, const uint8_t *ip, size_t ip_len,
                          uint64_t transport_code, uint16_t port);

/*
 * Append the components of tail to ma (ma ← ma + tail), e.g. a /p2p/ part.
 * CPC_ETOOBIG (ma unchanged) if the result would exceed a cap.
 */
int cpc_multiaddr_encapsulate(cpc_multiaddr *ma, const cpc_multiaddr *tail);

/*
 * Append /p2p/<peer> where peer[0..peer_len) is a binary PeerId (a
 * multihash). CPC_EMALFORMED if it is not a multihash, CPC_ETOOBIG (ma
 * unchanged) over a cap.
 */
int cpc_multiaddr_append_p2p(cpc_multiaddr *ma, const uint8_t *peer,
                             size_t peer_len);

/*
 * Drop a trailing /p2p/ component if there is one and it is not the only
 * component (no-op otherwise: a multiaddr is never left empty).
 */
void cpc_multiaddr_strip_p2p(cpc_multiaddr *ma);

/* 1 if a and b hold the same bytes, else 0. */
int cpc_multiaddr_equal(const cpc_multiaddr *a, const cpc_multiaddr *b);

#ifdef __cplusplus
}
#endif

#endif /* CPC_MULTIADDR_H */
