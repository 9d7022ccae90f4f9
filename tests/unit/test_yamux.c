/*
 * test_yamux.c: two Yamux sessions wired back to back through buffers
 * (client and server), echo traffic with back-pressure, half-close, reset,
 * GoAway, ping, window growth, limits, and malformed frames fed raw.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpc/error.h"
#include "cpc/yamux.h"

/* ---- a fake clock and a deterministic PRNG ------------------------------ */

static uint64_t fake_now;
static uint64_t clock_step = 1000000; /* ns per pump round */

static uint64_t now_ns(void *ud) {
  (void)ud;
  return fake_now;
}

static uint32_t rng_state = 12345;
static uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

/* Byte i of stream id's test payload. */
static uint8_t pattern(uint32_t id, size_t i) {
  return (uint8_t)(i * 31 + id * 7 + (i >> 11));
}

/* ---- per-stream application state --------------------------------------- */

#define MAX_TEST_STREAMS 128

struct app_stream {
  uint32_t id;
  int used, opened, fin, reset, writable;
  size_t sent, received;
  uint8_t *echo; /* server: received, not yet echoed */
  size_t echo_len, echo_cap;
  int echo_closed; /* server: closed after echoing everything */
};

struct peer {
  const char *name;
  cpc_yamux *y;
  struct app_stream st[MAX_TEST_STREAMS];
  int echo;        /* server role: echo data back */
  int auto_accept; /* accept in on_stream_open */
  int consume;     /* client role: consume data at once */
  int check;       /* verify received bytes against pattern() */
  size_t target;   /* client: bytes to send per stream */
  int pings, go_aways;
  uint32_t go_away_code;
  uint64_t last_rtt;
  size_t opens;
  size_t max_recv_window_seen;
};

static struct app_stream *find_st(struct peer *p, uint32_t id) {
  for (int i = 0; i < MAX_TEST_STREAMS; i++)
    if (p->st[i].used && p->st[i].id == id)
      return &p->st[i];
  return NULL;
}

static struct app_stream *new_st(struct peer *p, uint32_t id) {
  for (int i = 0; i < MAX_TEST_STREAMS; i++)
    if (!p->st[i].used) {
      memset(&p->st[i], 0, sizeof p->st[i]);
      p->st[i].used = 1;
      p->st[i].id = id;
      return &p->st[i];
    }
  fail_msg("too many test streams");
  return NULL;
}

/* Server: echo what is buffered, report it consumed. */
static void echo_flush(struct peer *p, struct app_stream *a) {
  size_t acc = 0;
  if (a->echo_len > 0) {
    int rc = cpc_yamux_write(p->y, a->id, a->echo, a->echo_len, &acc);
    if (rc == CPC_EAGAIN)
      return;
    assert_int_equal(rc, 0);
    memmove(a->echo, a->echo + acc, a->echo_len - acc);
    a->echo_len -= acc;
    assert_int_equal(cpc_yamux_consumed(p->y, a->id, acc), 0);
  }
  if (a->echo_len == 0 && a->fin && !a->echo_closed) {
    a->echo_closed = 1;
    assert_int_equal(cpc_yamux_close(p->y, a->id), 0);
  }
}

/* Client: send more of the pattern. */
static void client_push(struct peer *p, struct app_stream *a) {
  uint8_t buf[50000];
  while (a->sent < p->target) {
    size_t n = p->target - a->sent, acc = 0;
    if (n > sizeof buf)
      n = sizeof buf;
    for (size_t i = 0; i < n; i++)
      buf[i] = pattern(a->id, a->sent + i);
    int rc = cpc_yamux_write(p->y, a->id, buf, n, &acc);
    if (rc == CPC_EAGAIN)
      return;
    assert_int_equal(rc, 0);
    a->sent += acc;
    if (acc < n)
      return;
  }
  if (a->sent == p->target && p->target > 0 && !a->echo_closed) {
    a->echo_closed = 1; /* client: FIN sent */
    assert_int_equal(cpc_yamux_close(p->y, a->id), 0);
  }
}

static void on_open(void *ud, uint32_t id) {
  struct peer *p = ud;
  struct app_stream *a = new_st(p, id);
  a->opened = 1;
  p->opens++;
  if (p->auto_accept)
    assert_int_equal(cpc_yamux_accept(p->y, id, a), 0);
}

static void on_data(void *ud, uint32_t id, void *sud, const uint8_t *d,
                    size_t n) {
  struct peer *p = ud;
  struct app_stream *a = find_st(p, id);
  assert_non_null(a);
  if (sud)
    assert_ptr_equal(sud, a);
  if (p->echo) {
    if (a->echo_len + n > a->echo_cap) {
      a->echo_cap = (a->echo_len + n) * 2;
      a->echo = realloc(a->echo, a->echo_cap);
      assert_non_null(a->echo);
    }
    memcpy(a->echo + a->echo_len, d, n);
    a->echo_len += n;
    echo_flush(p, a);
  } else {
    for (size_t i = 0; p->check && i < n; i++)
      if (d[i] != pattern(id, a->received + i))
        fail_msg("stream %u: byte %zu differs", id, a->received + i);
    a->received += n;
    if (p->consume)
      assert_int_equal(cpc_yamux_consumed(p->y, id, n), 0);
  }
  cpc_yamux_stream_info info;
  if (cpc_yamux_stream_info_get(p->y, id, &info) == 0 &&
      info.recv_window_max > p->max_recv_window_seen)
    p->max_recv_window_seen = info.recv_window_max;
}

static void on_fin(void *ud, uint32_t id, void *sud) {
  struct peer *p = ud;
  struct app_stream *a = find_st(p, id);
  (void)sud;
  assert_non_null(a);
  a->fin = 1;
  if (p->echo)
    echo_flush(p, a);
}

static void on_reset(void *ud, uint32_t id, void *sud) {
  struct peer *p = ud;
  struct app_stream *a = find_st(p, id);
  (void)sud;
  assert_non_null(a);
  a->reset = 1;
}

static void on_writable(void *ud, uint32_t id, void *sud) {
  struct peer *p = ud;
  struct app_stream *a = find_st(p, id);
  (void)sud;
  assert_non_null(a);
  a->writable++;
  if (p->echo)
    echo_flush(p, a);
  else
    client_push(p, a);
}

static void on_ping(void *ud, uint64_t rtt) {
  struct peer *p = ud;
  p->pings++;
  p->last_rtt = rtt;
}

static void on_go_away(void *ud, uint32_t code) {
  struct peer *p = ud;
  p->go_aways++;
  p->go_away_code = code;
}

static const cpc_yamux_callbacks callbacks = {
    on_open, on_data, on_fin, on_reset, on_writable, on_ping, on_go_away,
};

static void peer_init(struct peer *p, const char *name, int is_client,
                      const cpc_yamux_config *cfg_in) {
  cpc_yamux_config cfg;
  memset(p, 0, sizeof *p);
  p->name = name;
  if (cfg_in) {
    cfg = *cfg_in;
  } else {
    cpc_yamux_config_default(&cfg, is_client);
    cfg.auto_tune = 0;
  }
  cfg.is_client = is_client;
  cfg.now_ns = now_ns;
  assert_int_equal(cpc_yamux_new(&p->y, &cfg, &callbacks, p), 0);
}

static void peer_free(struct peer *p) {
  for (int i = 0; i < MAX_TEST_STREAMS; i++)
    free(p->st[i].echo);
  cpc_yamux_free(p->y);
}

/* ---- the wire between them ---------------------------------------------- */

struct wire {
  uint8_t *buf;
  size_t len, cap;
};

static void wire_take(struct wire *w, cpc_yamux *from) {
  const uint8_t *d;
  size_t n = cpc_yamux_output(from, &d);
  if (n == 0)
    return;
  if (w->len + n > w->cap) {
    w->cap = (w->len + n) * 2;
    w->buf = realloc(w->buf, w->cap);
    assert_non_null(w->buf);
  }
  memcpy(w->buf + w->len, d, n);
  w->len += n;
  cpc_yamux_output_done(from, n);
}

/* Feed at most max bytes (random split if rand_chunks) of w into to. */
static size_t wire_give(struct wire *w, cpc_yamux *to, size_t max,
                        int rand_chunks) {
  size_t total = 0;
  while (total < max && w->len > total) {
    size_t n = w->len - total, used = 0;
    if (n > max - total)
      n = max - total;
    if (rand_chunks && n > 1)
      n = 1 + rnd() % n;
    assert_int_equal(cpc_yamux_feed(to, w->buf + total, n, &used), 0);
    total += used;
    if (used < n)
      break;
  }
  if (total > 0)
    memmove(w->buf, w->buf + total, w->len - total);
  w->len -= total;
  return total;
}

/* Run until nothing moves. max: bytes per direction per round. */
static void pump(struct peer *c, struct peer *s, size_t max, int rand_chunks) {
  static struct wire c2s, s2c;
  for (int round = 0; round < 1000000; round++) {
    size_t moved = 0;
    fake_now += clock_step;
    wire_take(&c2s, c->y);
    wire_take(&s2c, s->y);
    moved += wire_give(&c2s, s->y, max, rand_chunks);
    moved += wire_give(&s2c, c->y, max, rand_chunks);
    wire_take(&c2s, c->y);
    wire_take(&s2c, s->y);
    if (moved == 0 && c2s.len == 0 && s2c.len == 0) {
      free(c2s.buf);
      free(s2c.buf);
      memset(&c2s, 0, sizeof c2s);
      memset(&s2c, 0, sizeof s2c);
      return;
    }
  }
  fail_msg("pump: no quiescence");
}

/* ---- tests --------------------------------------------------------------- */

static void echo_test(int nstreams, size_t bytes, size_t max, int rand_chunks,
                      const cpc_yamux_config *ccfg,
                      const cpc_yamux_config *scfg) {
  static struct peer c, s;
  peer_init(&c, "client", 1, ccfg);
  peer_init(&s, "server", 0, scfg);
  s.echo = 1;
  s.auto_accept = 1;
  c.consume = 1;
  c.check = 1;
  c.target = bytes;
  for (int i = 0; i < nstreams; i++) {
    uint32_t id;
    struct app_stream *a;
    assert_int_equal(cpc_yamux_open(c.y, NULL, &id), 0);
    assert_int_equal(id, (uint32_t)(2 * i + 1));
    a = new_st(&c, id);
    client_push(&c, a);
  }
  pump(&c, &s, max, rand_chunks);
  for (int i = 0; i < nstreams; i++) {
    struct app_stream *a = find_st(&c, (uint32_t)(2 * i + 1));
    assert_int_equal(a->sent, bytes);
    assert_int_equal(a->received, bytes);
    assert_true(a->fin);
    assert_false(a->reset);
  }
  assert_int_equal(s.opens, (size_t)nstreams);
  /* both sides closed both ways: every stream is gone */
  assert_int_equal(cpc_yamux_stream_count(c.y), 0);
  assert_int_equal(cpc_yamux_stream_count(s.y), 0);
  assert_int_equal(cpc_yamux_error(c.y), 0);
  assert_int_equal(cpc_yamux_error(s.y), 0);
  peer_free(&c);
  peer_free(&s);
}

static void test_echo_many_streams(void **state) {
  (void)state;
  /* 40 streams x 1 MiB each way, 256 KiB windows, 64 KiB output budget */
  cpc_yamux_config cfg;
  cpc_yamux_config_default(&cfg, 1);
  cfg.auto_tune = 0;
  cfg.max_output = 64 * 1024;
  cfg.max_frame = 16 * 1024;
  echo_test(40, 1 << 20, 256 * 1024, 0, &cfg, &cfg);
}

static void test_echo_random_chunks(void **state) {
  (void)state;
  /* frames split at random places, small rounds: heavy back-pressure */
  cpc_yamux_config cfg;
  cpc_yamux_config_default(&cfg, 1);
  cfg.auto_tune = 0;
  cfg.max_output = 10000;
  cfg.max_frame = 3000;
  echo_test(4, 1 << 20, 7000, 1, &cfg, &cfg);
}

static void test_wire_format(void **state) {
  (void)state;
  struct peer c;
  const uint8_t *d;
  size_t n;
  uint32_t id;
  static const uint8_t syn[12] = {0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0};
  static const uint8_t data[] = {0, 0, 0, 0, 0,   0,   0,  1,
                                 0, 0, 0, 3, 'a', 'b', 'c'};
  static const uint8_t fin[12] = {0, 1, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0};
  size_t acc;
  peer_init(&c, "client", 1, NULL);
  assert_int_equal(cpc_yamux_output(c.y, &d), 0); /* no auto-tune ping */
  assert_int_equal(cpc_yamux_open(c.y, NULL, &id), 0);
  assert_int_equal(cpc_yamux_write(c.y, id, (const uint8_t *)"abc", 3, &acc),
                   0);
  assert_int_equal(acc, 3);
  assert_int_equal(cpc_yamux_close(c.y, id), 0);
  assert_int_equal(cpc_yamux_write(c.y, id, (const uint8_t *)"x", 1, &acc),
                   CPC_ECLOSED);
  assert_int_equal(cpc_yamux_close(c.y, id), CPC_ECLOSED);
  n = cpc_yamux_output(c.y, &d);
  assert_int_equal(n, 12 + 15 + 12);
  assert_memory_equal(d, syn, 12);
  assert_memory_equal(d + 12, data, 15);
  assert_memory_equal(d + 27, fin, 12);
  /* take_output copies and advances */
  uint8_t buf[16];
  assert_int_equal(cpc_yamux_take_output(c.y, buf, sizeof buf), 16);
  assert_memory_equal(buf, syn, 12);
  assert_int_equal(cpc_yamux_output(c.y, &d), n - 16);
  /* trim keeps queued output, and releases the buffer once it is sent */
  cpc_yamux_trim(c.y);
  assert_int_equal(cpc_yamux_output(c.y, &d), n - 16);
  assert_memory_equal(d + 11, fin, 12);
  cpc_yamux_output_done(c.y, n - 16);
  assert_int_equal(cpc_yamux_output(c.y, &d), 0);
  cpc_yamux_trim(c.y);
  assert_int_equal(cpc_yamux_output(c.y, &d), 0);
  assert_int_equal(cpc_yamux_ping(c.y), 0); /* output works after a trim */
  assert_int_equal(cpc_yamux_output(c.y, &d), 12);
  assert_int_equal(d[1], CPC_YAMUX_PING);
  peer_free(&c);

  /* a server opens even ids; auto_tune queues a ping at start */
  cpc_yamux_config cfg;
  cpc_yamux *y;
  static const uint8_t ping[12] = {0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
  cpc_yamux_config_default(&cfg, 0);
  assert_int_equal(cpc_yamux_new(&y, &cfg, NULL, NULL), 0);
  assert_int_equal(cpc_yamux_output(y, &d), 12);
  assert_memory_equal(d, ping, 12);
  assert_int_equal(cpc_yamux_open(y, NULL, &id), 0);
  assert_int_equal(id, 2);
  assert_int_equal(cpc_yamux_open(y, NULL, &id), 0);
  assert_int_equal(id, 4);
  cpc_yamux_free(y);
  cpc_yamux_free(NULL);

  cfg.max_window = 1000;
  assert_int_equal(cpc_yamux_new(&y, &cfg, NULL, NULL), CPC_EINVAL);
  assert_null(y);
}

static void test_half_close_and_reset(void **state) {
  (void)state;
  static struct peer c, s;
  uint32_t id1, id2;
  size_t acc;
  peer_init(&c, "client", 1, NULL);
  peer_init(&s, "server", 0, NULL);
  s.auto_accept = 1;
  c.consume = 1;
  c.check = 1;
  s.consume = 1;
  assert_int_equal(cpc_yamux_open(c.y, NULL, &id1), 0);
  assert_int_equal(cpc_yamux_open(c.y, NULL, &id2), 0);
  new_st(&c, id1);
  new_st(&c, id2);
  assert_int_equal(cpc_yamux_close(c.y, id1), 0); /* FIN at once */
  pump(&c, &s, SIZE_MAX, 0);
  struct app_stream *a = find_st(&s, id1);
  assert_non_null(a);
  assert_true(a->fin);
  /* server can still send on a stream the client half-closed */
  for (size_t i = 0; i < 1000; i++) {
    uint8_t b = pattern(id1, i);
    assert_int_equal(cpc_yamux_write(s.y, id1, &b, 1, &acc), 0);
  }
  assert_int_equal(cpc_yamux_close(s.y, id1), 0);
  assert_int_equal(cpc_yamux_consumed(s.y, id1, 0), CPC_ENOENT); /* freed */
  pump(&c, &s, SIZE_MAX, 0);
  a = find_st(&c, id1);
  assert_int_equal(a->received, 1000);
  assert_true(a->fin);
  assert_int_equal(cpc_yamux_stream_info_get(c.y, id1, NULL), CPC_ENOENT);

  /* reset: the other side hears it, both forget the stream */
  assert_int_equal(cpc_yamux_write(c.y, id2, (const uint8_t *)"hi", 2, &acc),
                   0);
  assert_int_equal(cpc_yamux_reset(c.y, id2), 0);
  assert_int_equal(cpc_yamux_reset(c.y, id2), CPC_ENOENT);
  assert_int_equal(cpc_yamux_write(c.y, id2, (const uint8_t *)"x", 1, &acc),
                   CPC_ENOENT);
  pump(&c, &s, SIZE_MAX, 0);
  a = find_st(&s, id2);
  assert_true(a->reset);
  assert_int_equal(cpc_yamux_stream_count(c.y), 0);
  assert_int_equal(cpc_yamux_stream_count(s.y), 0);
  peer_free(&c);
  peer_free(&s);
}

static void test_ping_and_go_away(void **state) {
  (void)state;
  static struct peer c, s;
  uint32_t id;
  cpc_yamux_config cfg;
  cpc_yamux_config_default(&cfg, 1);
  peer_init(&c, "client", 1, &cfg); /* auto_tune: start-up ping */
  peer_init(&s, "server", 0, NULL);
  clock_step = 5000000;
  pump(&c, &s, SIZE_MAX, 0);
  assert_int_equal(c.pings, 1);
  /* sent before round 1, answered in round 1, read in round 2 */
  assert_int_equal(c.last_rtt, 10000000);
  assert_int_equal(cpc_yamux_rtt_ns(c.y), 10000000);
  assert_int_equal(cpc_yamux_ping(s.y), 0);
  pump(&c, &s, SIZE_MAX, 0);
  assert_int_equal(s.pings, 1);
  assert_true(cpc_yamux_rtt_ns(s.y) > 0);
  clock_step = 1000000;

  assert_int_equal(cpc_yamux_go_away(s.y, CPC_YAMUX_GO_AWAY_NORMAL), 0);
  assert_int_equal(cpc_yamux_go_away(s.y, CPC_YAMUX_GO_AWAY_NORMAL), 0);
  pump(&c, &s, SIZE_MAX, 0);
  assert_int_equal(c.go_aways, 1);
  assert_int_equal(c.go_away_code, 0);
  assert_int_equal(cpc_yamux_open(c.y, NULL, &id), CPC_ECLOSED);
  assert_int_equal(cpc_yamux_open(s.y, NULL, &id), CPC_ECLOSED);
  assert_int_equal(cpc_yamux_error(c.y), 0);
  peer_free(&c);
  peer_free(&s);
}

static void test_window_growth(void **state) {
  (void)state;
  static struct peer c, s;
  cpc_yamux_config cfg;
  cpc_yamux_stream_info info;
  uint32_t id;
  struct app_stream *a;

  /* fast consumer: the server's receive window grows to max_window */
  cpc_yamux_config_default(&cfg, 0);
  peer_init(&c, "client", 1, &cfg);
  peer_init(&s, "server", 0, &cfg);
  s.auto_accept = 1;
  s.consume = 1;
  s.check = 1;
  c.target = 48u << 20;
  pump(&c, &s, SIZE_MAX, 0); /* pings: RTT known */
  assert_true(cpc_yamux_rtt_ns(s.y) > 0);
  assert_int_equal(cpc_yamux_open(c.y, NULL, &id), 0);
  a = new_st(&c, id);
  client_push(&c, a);
  pump(&c, &s, SIZE_MAX, 0);
  assert_int_equal(find_st(&s, id)->received, c.target);
  assert_int_equal(s.max_recv_window_seen, 16u << 20);
  peer_free(&c);
  peer_free(&s);

  /* slow consumer (updates far apart relative to the RTT): no growth */
  peer_init(&c, "client", 1, &cfg);
  peer_init(&s, "server", 0, &cfg);
  s.auto_accept = 1;
  s.consume = 1;
  c.target = 4u << 20;
  pump(&c, &s, SIZE_MAX, 0); /* RTT = 1 ms */
  clock_step = 100000000;    /* 100 ms per round from now on */
  assert_int_equal(cpc_yamux_open(c.y, NULL, &id), 0);
  a = new_st(&c, id);
  client_push(&c, a);
  pump(&c, &s, 64 * 1024, 0);
  assert_int_equal(find_st(&s, id)->received, c.target);
  assert_int_equal(s.max_recv_window_seen, CPC_YAMUX_INITIAL_WINDOW);
  clock_step = 1000000;
  /* auto_tune off: never grows */
  peer_free(&c);
  peer_free(&s);
  peer_init(&c, "client", 1, NULL);
  peer_init(&s, "server", 0, NULL);
  s.auto_accept = 1;
  s.consume = 1;
  c.target = 8u << 20;
  assert_int_equal(cpc_yamux_open(c.y, NULL, &id), 0);
  a = new_st(&c, id);
  client_push(&c, a);
  pump(&c, &s, SIZE_MAX, 0);
  assert_int_equal(s.max_recv_window_seen, CPC_YAMUX_INITIAL_WINDOW);
  assert_int_equal(cpc_yamux_stream_info_get(s.y, id, &info), 0);
  assert_int_equal(info.recv_window_max, CPC_YAMUX_INITIAL_WINDOW);
  peer_free(&c);
  peer_free(&s);
}

static void test_backpressure_without_consumer(void **state) {
  (void)state;
  static struct peer c, s;
  uint32_t id;
  cpc_yamux_stream_info info;
  struct app_stream *a;
  peer_init(&c, "client", 1, NULL);
  peer_init(&s, "server", 0, NULL);
  s.auto_accept = 1; /* but never consumes */
  c.target = 1u << 20;
  assert_int_equal(cpc_yamux_open(c.y, NULL, &id), 0);
  a = new_st(&c, id);
  client_push(&c, a);
  pump(&c, &s, SIZE_MAX, 0);
  assert_int_equal(a->sent, CPC_YAMUX_INITIAL_WINDOW); /* then blocked */
  assert_int_equal(find_st(&s, id)->received, CPC_YAMUX_INITIAL_WINDOW);
  size_t acc = 99;
  assert_int_equal(cpc_yamux_write(c.y, id, (const uint8_t *)"x", 1, &acc),
                   CPC_EAGAIN);
  assert_int_equal(acc, 0);
  assert_int_equal(cpc_yamux_stream_info_get(s.y, id, &info), 0);
  assert_int_equal(info.unconsumed, CPC_YAMUX_INITIAL_WINDOW);
  assert_int_equal(info.recv_window, 0);
  assert_int_equal(cpc_yamux_consumed(s.y, id, info.unconsumed + 1),
                   CPC_EINVAL);
  /* consuming a little (under half the window) sends nothing yet */
  assert_int_equal(cpc_yamux_consumed(s.y, id, 1000), 0);
  pump(&c, &s, SIZE_MAX, 0);
  assert_int_equal(a->sent, CPC_YAMUX_INITIAL_WINDOW);
  /* consuming half the window reopens it, and the writer is woken */
  assert_int_equal(cpc_yamux_consumed(s.y, id, 128 * 1024), 0);
  int before = a->writable;
  pump(&c, &s, SIZE_MAX, 0);
  assert_true(a->writable > before);
  assert_int_equal(a->sent, CPC_YAMUX_INITIAL_WINDOW + 1000 + 128 * 1024);
  peer_free(&c);
  peer_free(&s);
}

static void test_limits(void **state) {
  (void)state;
  static struct peer c, s;
  cpc_yamux_config scfg;
  uint32_t id;
  cpc_yamux_config_default(&scfg, 0);
  scfg.auto_tune = 0;
  scfg.max_streams = 4;
  scfg.max_pending = 2;

  /* backlog: the server does not accept; the third stream is refused */
  peer_init(&c, "client", 1, NULL);
  peer_init(&s, "server", 0, &scfg);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(cpc_yamux_open(c.y, NULL, &id), 0);
    new_st(&c, id);
  }
  pump(&c, &s, SIZE_MAX, 0);
  assert_int_equal(s.opens, 2);
  assert_true(find_st(&c, 5)->reset);
  assert_false(find_st(&c, 1)->reset);
  assert_int_equal(cpc_yamux_stream_count(s.y), 2);
  /* accepting frees backlog room */
  assert_int_equal(cpc_yamux_accept(s.y, 1, NULL), 0);
  assert_int_equal(cpc_yamux_accept(s.y, 1, NULL), CPC_ENOENT);
  assert_int_equal(cpc_yamux_accept(s.y, 77, NULL), CPC_ENOENT);
  assert_int_equal(cpc_yamux_open(c.y, NULL, &id), 0);
  new_st(&c, id);
  pump(&c, &s, SIZE_MAX, 0);
  assert_int_equal(s.opens, 3);
  assert_false(find_st(&c, id)->reset);
  peer_free(&c);
  peer_free(&s);

  /* stream cap: with accept, the fifth stream is refused */
  peer_init(&c, "client", 1, NULL);
  peer_init(&s, "server", 0, &scfg);
  s.auto_accept = 1;
  for (int i = 0; i < 5; i++) {
    assert_int_equal(cpc_yamux_open(c.y, NULL, &id), 0);
    new_st(&c, id);
  }
  pump(&c, &s, SIZE_MAX, 0);
  assert_int_equal(s.opens, 4);
  assert_true(find_st(&c, 9)->reset);
  assert_int_equal(cpc_yamux_stream_count(c.y), 4);
  /* and locally: the server cannot open past its own cap */
  assert_int_equal(cpc_yamux_open(s.y, NULL, &id), CPC_ENOSPC);
  peer_free(&c);
  peer_free(&s);
}

/* ---- raw frames ---------------------------------------------------------- */

static size_t frame(uint8_t *out, uint8_t ver, uint8_t type, uint16_t flags,
                    uint32_t id, uint32_t len) {
  out[0] = ver;
  out[1] = type;
  out[2] = (uint8_t)(flags >> 8);
  out[3] = (uint8_t)flags;
  for (int i = 0; i < 4; i++) {
    out[4 + i] = (uint8_t)(id >> (24 - 8 * i));
    out[8 + i] = (uint8_t)(len >> (24 - 8 * i));
  }
  return 12;
}

/* Feed raw bytes to a fresh server; return the rc; check the GoAway. */
static int feed_server(const uint8_t *b, size_t n) {
  static struct peer s;
  size_t used;
  const uint8_t *d;
  peer_init(&s, "server", 0, NULL);
  s.auto_accept = 1;
  int rc = cpc_yamux_feed(s.y, b, n, &used);
  if (rc != 0) {
    size_t k = cpc_yamux_output(s.y, &d);
    assert_true(k >= 12);
    /* the last frame is GoAway(protocol error) */
    assert_int_equal(d[k - 12 + 1], CPC_YAMUX_GO_AWAY);
    assert_int_equal(d[k - 1], CPC_YAMUX_GO_AWAY_PROTOCOL);
    assert_int_equal(cpc_yamux_error(s.y), rc);
    /* sticky, consumes nothing more */
    assert_int_equal(cpc_yamux_feed(s.y, b, n, &used), rc);
    assert_int_equal(used, 0);
    assert_int_equal(cpc_yamux_ping(s.y), CPC_ECLOSED);
    uint32_t id;
    assert_int_equal(cpc_yamux_open(s.y, NULL, &id), CPC_ECLOSED);
  } else {
    assert_int_equal(used, n);
  }
  peer_free(&s);
  return rc;
}

static void test_malformed(void **state) {
  (void)state;
  static uint8_t b[(256 * 1024) + 64];
  size_t n;

  frame(b, 1, CPC_YAMUX_PING, CPC_YAMUX_SYN, 0, 1);
  assert_int_equal(feed_server(b, 12), CPC_EPROTO); /* version */
  frame(b, 0, 4, 0, 0, 0);
  assert_int_equal(feed_server(b, 12), CPC_EPROTO); /* type */
  frame(b, 0, 0xff, 0, 1, 0);
  assert_int_equal(feed_server(b, 12), CPC_EPROTO);
  frame(b, 0, CPC_YAMUX_PING, CPC_YAMUX_SYN, 3, 1);
  assert_int_equal(feed_server(b, 12), CPC_EPROTO); /* ping on a stream */
  frame(b, 0, CPC_YAMUX_GO_AWAY, 0, 3, 0);
  assert_int_equal(feed_server(b, 12), CPC_EPROTO);
  frame(b, 0, CPC_YAMUX_DATA, 0, 0, 0);
  assert_int_equal(feed_server(b, 12), CPC_EPROTO); /* data on id 0 */
  frame(b, 0, CPC_YAMUX_WINDOW_UPDATE, CPC_YAMUX_SYN, 2, 0);
  assert_int_equal(feed_server(b, 12), CPC_EPROTO); /* server's parity */
  /* duplicate SYN, reused id */
  n = frame(b, 0, CPC_YAMUX_WINDOW_UPDATE, CPC_YAMUX_SYN, 3, 0);
  n += frame(b + n, 0, CPC_YAMUX_WINDOW_UPDATE, CPC_YAMUX_SYN, 3, 0);
  assert_int_equal(feed_server(b, n), CPC_EPROTO);
  n = frame(b, 0, CPC_YAMUX_WINDOW_UPDATE, CPC_YAMUX_SYN, 5, 0);
  n += frame(b + n, 0, CPC_YAMUX_WINDOW_UPDATE, CPC_YAMUX_SYN, 3, 0);
  assert_int_equal(feed_server(b, n), CPC_EPROTO);
  /* data beyond the window: 256 KiB fit, one byte more does not */
  n = frame(b, 0, CPC_YAMUX_DATA, CPC_YAMUX_SYN, 1, 256 * 1024);
  memset(b + n, 'x', 256 * 1024);
  assert_int_equal(feed_server(b, n + 256 * 1024), 0);
  frame(b, 0, CPC_YAMUX_DATA, CPC_YAMUX_SYN, 1, 256 * 1024 + 1);
  assert_int_equal(feed_server(b, 12), CPC_EPROTO);
  n = frame(b, 0, CPC_YAMUX_DATA, CPC_YAMUX_SYN, 1, 200 * 1024);
  memset(b + n, 'x', 200 * 1024);
  n += 200 * 1024;
  n += frame(b + n, 0, CPC_YAMUX_DATA, 0, 1, 57 * 1024);
  assert_int_equal(feed_server(b, n), CPC_EPROTO);
  /* send window overflow */
  n = frame(b, 0, CPC_YAMUX_WINDOW_UPDATE, CPC_YAMUX_SYN, 1, 0);
  n += frame(b + n, 0, CPC_YAMUX_WINDOW_UPDATE, 0, 1, UINT32_MAX - 1000);
  assert_int_equal(feed_server(b, n), CPC_EPROTO);
  /* data after FIN */
  n = frame(b, 0, CPC_YAMUX_WINDOW_UPDATE, CPC_YAMUX_SYN | CPC_YAMUX_FIN, 1, 0);
  n += frame(b + n, 0, CPC_YAMUX_DATA, 0, 1, 1);
  b[n++] = 'x';
  assert_int_equal(feed_server(b, n), CPC_EPROTO);
  /* unknown and stale streams are ignored, not errors */
  n = frame(b, 0, CPC_YAMUX_DATA, 0, 41, 3);
  memcpy(b + n, "abc", 3);
  n += 3;
  n += frame(b + n, 0, CPC_YAMUX_WINDOW_UPDATE, CPC_YAMUX_RST, 43, 10);
  n += frame(b + n, 0, CPC_YAMUX_WINDOW_UPDATE, 0, 2, 10);
  assert_int_equal(feed_server(b, n), 0);
  /* ...but still capped */
  frame(b, 0, CPC_YAMUX_DATA, 0, 41, (16u << 20) + 1);
  assert_int_equal(feed_server(b, 12), CPC_EPROTO);
  /* unknown flag bits and a GoAway with an unknown code are tolerated */
  n = frame(b, 0, CPC_YAMUX_WINDOW_UPDATE, CPC_YAMUX_SYN | 0x100, 1, 0);
  n += frame(b + n, 0, CPC_YAMUX_GO_AWAY, 0, 0, 77);
  assert_int_equal(feed_server(b, n), 0);
}

static void test_byte_by_byte_and_flood(void **state) {
  (void)state;
  static struct peer s;
  uint8_t b[64];
  size_t n, used;
  const uint8_t *d;
  peer_init(&s, "server", 0, NULL);
  s.auto_accept = 1;
  n = frame(b, 0, CPC_YAMUX_DATA, CPC_YAMUX_SYN, 1, 5);
  memcpy(b + n, "hello", 5);
  n += 5;
  n += frame(b + n, 0, CPC_YAMUX_PING, CPC_YAMUX_SYN, 0, 0xabcdef);
  n += frame(b + n, 0, CPC_YAMUX_DATA, CPC_YAMUX_FIN, 1, 0);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(cpc_yamux_feed(s.y, b + i, 1, &used), 0);
    assert_int_equal(used, 1);
  }
  struct app_stream *a = find_st(&s, 1);
  assert_non_null(a);
  assert_true(a->fin);
  assert_int_equal(
      cpc_yamux_stream_info_get(s.y, 1, &(cpc_yamux_stream_info){0}), 0);
  /* output: the ACK for stream 1, then the ping answer */
  static const uint8_t pong[12] = {0, 2, 0, 2, 0, 0, 0, 0, 0, 0xab, 0xcd, 0xef};
  n = cpc_yamux_output(s.y, &d);
  assert_int_equal(n, 24);
  assert_int_equal(d[1], CPC_YAMUX_WINDOW_UPDATE);
  assert_int_equal(d[3], CPC_YAMUX_ACK);
  assert_memory_equal(d + 12, pong, 12);
  peer_free(&s);

  /* a ping flood while nobody sends the output: feed stops taking input */
  static uint8_t flood[12 * 200000];
  for (size_t i = 0; i < sizeof flood / 12; i++)
    frame(flood + 12 * i, 0, CPC_YAMUX_PING, CPC_YAMUX_SYN, 0, (uint32_t)i);
  peer_init(&s, "server", 0, NULL);
  assert_int_equal(cpc_yamux_feed(s.y, flood, sizeof flood, &used), 0);
  assert_true(used < sizeof flood);
  n = cpc_yamux_output(s.y, &d);
  assert_true(n <= (1u << 20) + 64 * 1024 + 12);
  cpc_yamux_output_done(s.y, n);
  size_t more;
  assert_int_equal(
      cpc_yamux_feed(s.y, flood + used, sizeof flood - used, &more), 0);
  assert_true(more > 0);
  peer_free(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_wire_format),
      cmocka_unit_test(test_echo_many_streams),
      cmocka_unit_test(test_echo_random_chunks),
      cmocka_unit_test(test_half_close_and_reset),
      cmocka_unit_test(test_ping_and_go_away),
      cmocka_unit_test(test_window_growth),
      cmocka_unit_test(test_backpressure_without_consumer),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_byte_by_byte_and_flood),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
