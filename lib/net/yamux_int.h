/*
 * yamux_int.h: what yamux.c (session, frame input, output) and
 * yamux_stream.c (stream table and stream operations) share.
 */
#ifndef CPC_YAMUX_INT_H
#define CPC_YAMUX_INT_H

#include <stddef.h>
#include <stdint.h>

#include "cpc/yamux.h"

/* Output allowed past max_output for control frames before feed pauses. */
#define CPC__YAMUX_CONTROL_SLACK (64u * 1024u)

struct cpc__yamux_stream {
  uint32_t id;
  void *ud;
  uint32_t send_window;
  uint32_t recv_window;     /* credit the peer has left */
  uint32_t recv_window_max; /* window size we grant */
  size_t unconsumed;        /* delivered, not reported consumed */
  size_t consumed_pending;  /* consumed, not yet given back */
  uint64_t epoch_ns;        /* last window update (auto-tune) */
  unsigned local_closed : 1, remote_closed : 1, accepted : 1, inbound : 1,
      blocked : 1;
};

struct cpc_yamux {
  cpc_yamux_config cfg;
  cpc_yamux_callbacks cb;
  void *ud;
  int error;
  int go_away_sent, go_away_received;

  /* streams, sorted by id */
  struct cpc__yamux_stream **streams;
  size_t n_streams, cap_streams, n_pending;
  uint32_t next_id;       /* next local id to open (0: exhausted) */
  uint32_t max_remote_id; /* highest id the peer opened */

  /* input: header being read, then the payload of a Data frame */
  uint8_t hdr[CPC_YAMUX_HEADER_LEN];
  size_t hdr_len;
  uint32_t cur_id, cur_remaining;
  uint16_t cur_flags;
  int in_payload;

  /* output */
  uint8_t *out;
  size_t out_off, out_len, out_cap;
  int output_blocked; /* a write was cut short by max_output */

  /* ping */
  uint32_t ping_value;
  uint64_t ping_sent_ns, rtt_ns;
  int ping_outstanding;
};

uint64_t cpc__yamux_now(cpc_yamux *y);

/* Bytes queued and not yet handed out. */
size_t cpc__yamux_pending_output(const cpc_yamux *y);

/* Make room for n more output bytes; CPC_ENOMEM. */
int cpc__yamux_reserve(cpc_yamux *y, size_t n);
/* Queue a 12-byte header; CPC_ENOMEM. */
int cpc__yamux_queue_header(cpc_yamux *y, uint8_t type, uint16_t flags,
                            uint32_t id, uint32_t length);
/* Queue raw payload bytes after a Data header; CPC_ENOMEM. */
int cpc__yamux_queue_bytes(cpc_yamux *y, const uint8_t *p, size_t n);

/* Stream table. */
struct cpc__yamux_stream *cpc__yamux_find(const cpc_yamux *y, uint32_t id);
/* Create and insert a stream with the initial windows; NULL on ENOMEM. */
struct cpc__yamux_stream *cpc__yamux_insert(cpc_yamux *y, uint32_t id);
/* Remove and free a stream. */
void cpc__yamux_remove(cpc_yamux *y, uint32_t id);
/* Free every stream. */
void cpc__yamux_remove_all(cpc_yamux *y);

/* Call on_stream_writable for blocked streams that can write again. */
void cpc__yamux_wake_writers(cpc_yamux *y);

#endif /* CPC_YAMUX_INT_H */
