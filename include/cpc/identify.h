/*
 * cpc/identify.h: the libp2p identify message (libp2p/specs identify,
 * proto/libp2p/identify.proto), as sent on /ipfs/id/1.0.0 and
 * /ipfs/id/push/1.0.0, each message prefixed with its uvarint length.
 *
 * Decoding is strict about what it keeps and lenient about what it may
 * skip: listen addresses with multiaddr protocols this code does not know
 * are dropped (a peer may listen on transports we lack), unknown fields
 * are ignored, a signedPeerRecord is noted but not kept. Everything else
 * must be well-formed and within the caps below.
 */
#ifndef CPC_IDENTIFY_H
#define CPC_IDENTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "cpc/keys.h"
#include "cpc/multiaddr.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest identify message we read or write (the protobuf, no prefix). */
#define CPC_IDENTIFY_MAX_MSG (64u * 1024u)
/* Most length-prefixed messages read from one identify stream. */
#define CPC_IDENTIFY_MAX_MESSAGES 10
#define CPC_IDENTIFY_MAX_PROTOCOLS 256
#define CPC_IDENTIFY_MAX_PROTOCOL_LEN 1023
#define CPC_IDENTIFY_MAX_ADDRS 64
/* agentVersion and protocolVersion. */
#define CPC_IDENTIFY_MAX_VERSION_LEN 512

/*
 * A decoded (or to-be-encoded) message. Every pointer is owned by the
 * message and freed by cpc_identify_msg_free(); strings are NUL-terminated
 * UTF-8 without control characters; NULL means the field was absent (or
 * empty: empty strings and protocol ids are dropped on decode).
 */
typedef struct cpc_identify_msg {
  char *protocol_version;
  char *agent_version;
  int has_public_key;
  cpc_pubkey public_key;
  cpc_multiaddr *listen_addrs;
  size_t n_listen_addrs;
  int has_observed_addr;
  cpc_multiaddr observed_addr;
  char **protocols;
  size_t n_protocols;
  int had_signed_peer_record; /* decode only: one was present (not kept) */
} cpc_identify_msg;

/*
 * Decode one identify protobuf in[0..len) (borrowed; no length prefix)
 * into a new message *out. Errors: CPC_ETOOBIG (len over
 * CPC_IDENTIFY_MAX_MSG, or a field over its cap), CPC_EMALFORMED (not a
 * protobuf of this shape, a string with a NUL or control character, a
 * public key or observed address that does not decode), CPC_EUNSUPPORTED
 * (a public key of a type we lack, e.g. RSA), CPC_ENOMEM.
 */
int cpc_identify_decode(const uint8_t *in, size_t len, cpc_identify_msg **out);

/*
 * Encode m as a protobuf into a malloc'd *out of *len bytes (the caller
 * frees it). CPC_ETOOBIG (over CPC_IDENTIFY_MAX_MSG), CPC_ENOMEM.
 */
int cpc_identify_encode(const cpc_identify_msg *m, uint8_t **out, size_t *len);

/*
 * Fold src into dst as identify push does: fields src has replace dst's
 * (lists as a whole). src is left empty (its pointers move). CPC_ENOMEM
 * never happens: nothing is allocated.
 */
void cpc_identify_merge(cpc_identify_msg *dst, cpc_identify_msg *src);

/*
 * Split buf[0..len) into uvarint-length-prefixed messages and decode each
 * (at most CPC_IDENTIFY_MAX_MESSAGES), merged in order, into *out. Errors:
 * as cpc_identify_decode, plus CPC_ETRUNC (a message cut short or no
 * message at all) and CPC_ETOOBIG (too many messages).
 */
int cpc_identify_decode_stream(const uint8_t *buf, size_t len,
                               cpc_identify_msg **out);

/* Free m and everything it owns. NULL ok. */
void cpc_identify_msg_free(cpc_identify_msg *m);

#ifdef __cplusplus
}
#endif

#endif /* CPC_IDENTIFY_H */
