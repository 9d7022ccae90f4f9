/*
 * cpc/yamux.h: the Yamux stream multiplexer ("/yamux/1.0.0", hashicorp
 * yamux spec.md as libp2p uses it), as a sans-IO session.
 *
 * A cpc_yamux does no I/O and starts no timers. The caller:
 *   - feeds it the bytes read from the (secured) connection: cpc_yamux_feed;
 *   - sends what it produces: cpc_yamux_output / cpc_yamux_output_done (or
 *     cpc_yamux_take_output, which copies into the caller's buffer);
 *   - reacts to events, delivered through callbacks (cpc_yamux_callbacks)
 *     from inside cpc_yamux_feed and cpc_yamux_output_done only;
 *   - drives streams by id: open, accept, write, consumed, close, reset.
 *
 * Frames: 12-byte header (version 0, type Data / WindowUpdate / Ping /
 * GoAway, flags SYN ACK FIN RST, stream id, length), big-endian. The client
 * opens odd stream ids, the server even ones; id 0 is the session.
 *
 * Flow control (nghttp2-like): received data is handed to on_stream_data;
 * the application says when it is done with bytes (cpc_yamux_consumed), and
 * only then is the window given back to the peer, once half the stream's
 * window is consumed. An application that stops consuming stops the peer
 * within one window: it buffers at most that much per stream. Windows start
 * at 256 KiB (the spec's default) and, with auto_tune, double (up to
 * max_window, 16 MiB by default) when a window update is due less than 4
 * round-trip times after the stream's previous one (the application drains
 * the window faster than the link can refill it: the rule go-yamux uses).
 * The RTT comes from pings; one is sent when the session starts if
 * auto_tune is on. Without an RTT the windows stay as they are.
 *
 * Sending: cpc_yamux_write accepts what fits in the stream's send window and
 * in the session's output budget (max_output), copies it into the output as
 * Data frames and says how much it took; when it took less than asked (or
 * returned CPC_EAGAIN), on_stream_writable fires once more can be written.
 *
 * Errors: a peer that breaks the protocol (bad version, unknown frame type,
 * data beyond the window, a SYN on an id in use or of the wrong parity...)
 * gets a GoAway with code 1 (protocol error) queued in the output, and
 * cpc_yamux_feed returns CPC_EPROTO, then keeps returning it. The caller
 * sends the remaining output and closes the connection; the session is
 * dead (only cpc_yamux_output* and cpc_yamux_free remain useful).
 *
 * Driving it from libuv:
 *   read_cb:   rc = cpc_yamux_feed(y, buf, n, &used);   (see feed for used<n)
 *              then flush: while ((k = cpc_yamux_take_output(y, wbuf, cap)))
 *              uv_write(wbuf, k);  on rc < 0: flush, then close.
 *   write_cb:  flush again (output_done may fire on_stream_writable).
 * Threading: none; one session is used from one thread.
 */
#ifndef CPC_YAMUX_H
#define CPC_YAMUX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CPC_YAMUX_PROTOCOL_ID "/yamux/1.0.0"
#define CPC_YAMUX_HEADER_LEN 12
#define CPC_YAMUX_INITIAL_WINDOW (256u * 1024u)

enum cpc_yamux_type {
  CPC_YAMUX_DATA = 0,
  CPC_YAMUX_WINDOW_UPDATE = 1,
  CPC_YAMUX_PING = 2,
  CPC_YAMUX_GO_AWAY = 3,
};

enum cpc_yamux_flag {
  CPC_YAMUX_SYN = 1,
  CPC_YAMUX_ACK = 2,
  CPC_YAMUX_FIN = 4,
  CPC_YAMUX_RST = 8,
};

/* GoAway codes. */
enum cpc_yamux_go_away_code {
  CPC_YAMUX_GO_AWAY_NORMAL = 0,
  CPC_YAMUX_GO_AWAY_PROTOCOL = 1,
  CPC_YAMUX_GO_AWAY_INTERNAL = 2,
};

typedef struct cpc_yamux cpc_yamux;

/*
 * Event callbacks; any may be NULL. ud is the session's user pointer,
 * stream_ud the pointer given to cpc_yamux_open / cpc_yamux_accept (NULL
 * before accept). A callback may call any cpc_yamux_* function on the same
 * session except cpc_yamux_feed and cpc_yamux_free (e.g. write, consumed,
 * close, reset, accept).
 */
typedef struct cpc_yamux_callbacks {
  /* The peer opened stream id. Accept it (cpc_yamux_accept) now or later,
   * or refuse it (cpc_yamux_reset). Until accepted it counts against
   * max_pending; its data is still delivered. */
  void (*on_stream_open)(void *ud, uint32_t id);
  /* Bytes of stream id, borrowed for the call. Report them with
   * cpc_yamux_consumed() when processed (possibly from this callback). */
  void (*on_stream_data)(void *ud, uint32_t id, void *stream_ud,
                         const uint8_t *data, size_t len);
  /* The peer half-closed id: no more data will come. If the local side has
   * closed too, the stream is freed when this returns. */
  void (*on_stream_fin)(void *ud, uint32_t id, void *stream_ud);
  /* The peer reset id; it is freed when this returns. */
  void (*on_stream_reset)(void *ud, uint32_t id, void *stream_ud);
  /* A write on id that took less than asked can now take more. */
  void (*on_stream_writable)(void *ud, uint32_t id, void *stream_ud);
  /* The answer to cpc_yamux_ping (or the start-up ping) arrived. */
  void (*on_ping)(void *ud, uint64_t rtt_ns);
  /* The peer will open no more streams; code is its GoAway code. */
  void (*on_go_away)(void *ud, uint32_t code);
} cpc_yamux_callbacks;

typedef struct cpc_yamux_config {
  int is_client;       /* 1: odd stream ids (the dialer), 0: even */
  int auto_tune;       /* grow receive windows on fast links (default 1) */
  uint32_t max_window; /* receive window cap (default 16 MiB) */
  size_t max_streams;  /* open streams, both directions (default 1024) */
  size_t max_pending;  /* inbound streams not yet accepted (default 64) */
  size_t max_frame;    /* payload of one outgoing Data frame (64 KiB) */
  size_t max_output;   /* output budget for stream data (default 1 MiB) */
  /* Monotonic clock in ns for RTT and window tuning; NULL: CLOCK_MONOTONIC.
   * Called with the session's ud. */
  uint64_t (*now_ns)(void *ud);
} cpc_yamux_config;

/* Fill *c with the defaults above for the given role. */
void cpc_yamux_config_default(cpc_yamux_config *c, int is_client);

/*
 * Create a session. cfg and cb are copied; ud is passed to callbacks (and
 * now_ns). With auto_tune a Ping is queued at once. *out is freed with
 * cpc_yamux_free. Errors: CPC_EINVAL (max_window under 256 KiB, a zero
 * max_streams / max_frame / max_output), CPC_ENOMEM.
 */
int cpc_yamux_new(cpc_yamux **out, const cpc_yamux_config *cfg,
                  const cpc_yamux_callbacks *cb, void *ud);

/* Free the session and every stream, without callbacks or output. NULL ok. */
void cpc_yamux_free(cpc_yamux *y);

/*
 * Process bytes read from the connection, in[0..len) (borrowed; frames may
 * be split anywhere). *consumed gets the bytes used: all of them, unless the
 * queued output exceeds max_output + 64 KiB (the caller is not sending: a
 * ping flood must not grow memory without bound); then send the output and
 * feed the rest again. Errors (sticky, GoAway already queued):
 *   CPC_EPROTO  the peer broke the protocol (GoAway code 1 queued)
 *   CPC_ENOMEM  out of memory (GoAway code 2 queued when possible)
 */
int cpc_yamux_feed(cpc_yamux *y, const uint8_t *in, size_t len,
                   size_t *consumed);

/*
 * Bytes waiting to be sent: *data points into the session and is valid
 * until the next call of any other cpc_yamux function on y. Returns the
 * count (0: nothing to send).
 */
size_t cpc_yamux_output(cpc_yamux *y, const uint8_t **data);

/* Mark n bytes of the output as sent (clamped); may fire
 * on_stream_writable for streams that were waiting for output room. */
void cpc_yamux_output_done(cpc_yamux *y, size_t n);

/* Copy up to cap bytes of output into buf and mark them sent; returns the
 * count. Same callbacks as cpc_yamux_output_done. */
size_t cpc_yamux_take_output(cpc_yamux *y, uint8_t *buf, size_t cap);

/* Release the output buffer if no output is queued (the buffer is kept
 * between writes, so a busy session does not reallocate it; call this
 * when the session is idle). Later output allocates again. */
void cpc_yamux_trim(cpc_yamux *y);

/*
 * Open an outbound stream (a WindowUpdate with SYN is queued). It may be
 * written at once (256 KiB before the peer answers). *id gets its id.
 * stream_ud is handed to this stream's callbacks. Errors: CPC_ENOSPC
 * (max_streams reached), CPC_ECLOSED (GoAway sent or received, ids used
 * up, or the session failed), CPC_ENOMEM.
 */
int cpc_yamux_open(cpc_yamux *y, void *stream_ud, uint32_t *id);

/*
 * Accept inbound stream id (an ACK is queued) and set its stream_ud.
 * CPC_ENOENT if id is not a stream waiting to be accepted.
 */
int cpc_yamux_accept(cpc_yamux *y, uint32_t id, void *stream_ud);

/*
 * Queue up to len bytes of data[0..len) (copied) on stream id. *accepted
 * gets how many were taken; less than len means back-pressure (window or
 * output budget), and on_stream_writable will fire later. Errors:
 * CPC_EAGAIN (nothing could be taken; *accepted = 0), CPC_ECLOSED (this
 * side closed or the session failed), CPC_ENOENT (no such stream),
 * CPC_ENOMEM. len 0 is a no-op.
 */
int cpc_yamux_write(cpc_yamux *y, uint32_t id, const uint8_t *data, size_t len,
                    size_t *accepted);

/*
 * The application has processed n more bytes that on_stream_data gave it
 * for id: they count towards the next window update. CPC_EINVAL if n is
 * more than was delivered and not yet reported, CPC_ENOENT if the stream
 * is gone (harmless after a FIN or reset).
 */
int cpc_yamux_consumed(cpc_yamux *y, uint32_t id, size_t n);

/*
 * Half-close id: a FIN is queued after any data written before; writes
 * then fail with CPC_ECLOSED but data keeps arriving until the peer's FIN.
 * If the peer had closed already, the stream is freed at once (no
 * callback). CPC_ENOENT, CPC_ECLOSED (already closed).
 */
int cpc_yamux_close(cpc_yamux *y, uint32_t id);

/* Reset id (RST queued) and free it at once, no callback. CPC_ENOENT. */
int cpc_yamux_reset(cpc_yamux *y, uint32_t id);

/*
 * Send a Ping; on_ping fires with the RTT when the answer arrives (a
 * newer ping replaces one still unanswered). CPC_ECLOSED if failed.
 */
int cpc_yamux_ping(cpc_yamux *y);

/*
 * Queue a GoAway with code (CPC_YAMUX_GO_AWAY_*): no new streams either way
 * after it; open streams go on. A second call does nothing and returns 0.
 */
int cpc_yamux_go_away(cpc_yamux *y, uint32_t code);

/* The sticky session error (0 while healthy). */
int cpc_yamux_error(const cpc_yamux *y);

/* Read-only view of one stream, for tests, metrics and debugging. */
typedef struct cpc_yamux_stream_info {
  uint32_t send_window;     /* bytes we may still send */
  uint32_t recv_window;     /* bytes the peer may still send */
  uint32_t recv_window_max; /* current window size (grows with auto_tune) */
  size_t unconsumed;        /* delivered, not yet reported consumed */
  int local_closed, remote_closed, accepted;
} cpc_yamux_stream_info;

/* CPC_ENOENT if there is no stream id. */
int cpc_yamux_stream_info_get(const cpc_yamux *y, uint32_t id,
                              cpc_yamux_stream_info *info);

/* Open streams (pending ones included). */
size_t cpc_yamux_stream_count(const cpc_yamux *y);

/* Latest measured round-trip time in ns, 0 if none yet. */
uint64_t cpc_yamux_rtt_ns(const cpc_yamux *y);

#ifdef __cplusplus
}
#endif

#endif /* CPC_YAMUX_H */
