/*
 * cpc/multistream.h: multistream-select 1.0 ("/multistream/1.0.0"), the
 * protocol negotiation libp2p runs on every new connection and stream.
 *
 * Sans-IO: a cpc_mss does no I/O. The caller feeds it the bytes it reads
 * (cpc_mss_feed) and sends the bytes it produces (cpc_mss_output /
 * cpc_mss_output_done), until cpc_mss_state() says NEGOTIATED or FAILED.
 * Bytes the peer sent after the negotiation are never consumed: feed stops
 * right after the last negotiation message and the caller hands the rest
 * (in + *consumed) to the next layer.
 *
 * Wire format: every message is <uvarint n><n bytes of UTF-8 text ending in
 * '\n'>. Both sides first send the header "/multistream/1.0.0". The dialer
 * then proposes protocols one at a time (the first proposal is pipelined with
 * the header); the listener echoes a protocol it speaks or answers "na".
 * "ls" is answered with the listener's list (go-multistream layout: one
 * message holding, per protocol, <uvarint len+1><name>'\n', then a final
 * '\n'); a cpc_mss dialer never sends "ls".
 *
 * Typical driving from a libuv read callback:
 *
 *   size_t used;
 *   rc = cpc_mss_feed(&m, buf, nread, &used);
 *   while ((n = cpc_mss_output(&m, &p)) > 0) { queue_write(p, n);
 *                                              cpc_mss_output_done(&m, n); }
 *   if (rc < 0) close;  else if (cpc_mss_state(&m) == CPC_MSS_NEGOTIATED)
 *     next_layer(cpc_mss_protocol(&m), buf + used, nread - used);
 *
 * (queue_write must copy p, or the caller must not touch m until written.)
 * If feed returns 0 with used < nread and the state is still NEGOTIATING,
 * its output buffer was full: send the output, then feed the rest again.
 */
#ifndef CPC_MULTISTREAM_H
#define CPC_MULTISTREAM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CPC_MSS_PROTOCOL_ID "/multistream/1.0.0"
/* Longest message accepted or sent, '\n' included (as go-multistream). */
#define CPC_MSS_MAX_MSG 1024
/* Most protocols a cpc_mss can offer or propose. */
#define CPC_MSS_MAX_PROTOCOLS 64
/* A listener answers at most this many "na" (and "ls") before failing. */
#define CPC_MSS_MAX_ATTEMPTS 32
/* Output buffer: header plus any one reply always fit. */
#define CPC_MSS_OUT_CAP 4096

enum cpc_mss_role { CPC_MSS_DIALER, CPC_MSS_LISTENER };

enum cpc_mss_state {
  CPC_MSS_NEGOTIATING, /* feed more input (and send the output) */
  CPC_MSS_NEGOTIATED,  /* cpc_mss_protocol() is agreed */
  CPC_MSS_FAILED,      /* cpc_mss_error() tells why; close the stream */
};

/*
 * State of one negotiation. The caller allocates it (embed it anywhere);
 * all fields are private. It holds no heap memory: nothing to free.
 */
typedef struct cpc_mss {
  int role, phase, state, error;
  const char *const *protocols; /* borrowed, see init */
  size_t n_protocols;
  size_t current;  /* dialer: index proposed; listener/both: agreed index */
  size_t attempts; /* listener: na/ls answers given */
  size_t in_len;   /* bytes of the current message held in in[] */
  size_t msg_len;  /* its payload length once its varint is known, else 0 */
  size_t hdr_len;  /* bytes of in[] holding that varint */
  size_t out_off, out_len;
  uint8_t in[CPC_MSS_MAX_MSG + 9];
  uint8_t out[CPC_MSS_OUT_CAP];
} cpc_mss;

/*
 * Start a negotiation. protocols[0..n) are, for a dialer, the protocols to
 * propose in order of preference, for a listener, the ones it accepts.
 * The array and the strings are borrowed: they must stay valid and unchanged
 * as long as m is used (string literals are the usual case). A dialer's
 * header and first proposal are queued as output at once; a listener's
 * header too. Errors: CPC_EINVAL (n == 0 or over CPC_MSS_MAX_PROTOCOLS, a
 * name empty, over CPC_MSS_MAX_MSG - 1 bytes, holding '\n', or equal to
 * "na" or "ls", or an unknown role).
 */
int cpc_mss_init(cpc_mss *m, enum cpc_mss_role role,
                 const char *const *protocols, size_t n);

/*
 * Consume bytes the peer sent, in[0..len) (borrowed; copied as needed).
 * *consumed gets how many were used: all of them while negotiating, fewer
 * when the negotiation ends inside in (the rest belong to the next layer)
 * or when the output buffer is too full to accept a reply (see above).
 * Returns 0, or on failure (after which the state is FAILED and every later
 * call returns the same code):
 *   CPC_EPROTO       the peer broke the protocol: wrong header, a message
 *                    without its '\n', an answer that is neither the
 *                    proposal nor "na", more than CPC_MSS_MAX_ATTEMPTS
 *                    failed proposals
 *   CPC_ETOOBIG      a message over CPC_MSS_MAX_MSG (or of length 0)
 *   CPC_EMALFORMED   a bad length varint
 *   CPC_EUNSUPPORTED (dialer) the listener refused every protocol
 * Feeding after NEGOTIATED consumes nothing and returns 0.
 */
int cpc_mss_feed(cpc_mss *m, const uint8_t *in, size_t len, size_t *consumed);

/*
 * Bytes waiting to be sent: *data points into m and stays valid until
 * cpc_mss_output_done() says they were sent (feeding only appends after
 * them). Returns their count (0: nothing to send).
 */
size_t cpc_mss_output(const cpc_mss *m, const uint8_t **data);

/* Mark the first n bytes of cpc_mss_output() as sent (n is clamped). */
void cpc_mss_output_done(cpc_mss *m, size_t n);

enum cpc_mss_state cpc_mss_state(const cpc_mss *m);

/* The agreed protocol (one of the init strings) once NEGOTIATED, else NULL. */
const char *cpc_mss_protocol(const cpc_mss *m);

/* The error that made the negotiation fail, 0 if it has not failed. */
int cpc_mss_error(const cpc_mss *m);

#ifdef __cplusplus
}
#endif

#endif /* CPC_MULTISTREAM_H */
