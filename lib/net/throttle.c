/*
 * throttle.c: the host's bandwidth caps (cpc_net_limits.upload_bps and
 * download_bps) and traffic counters.
 *
 * Each cap is a host-wide token bucket refilled at the rate, holding at most
 * a tenth of a second of it (so any 1 s window stays within about 10% of
 * the rate, a 5 s window within about 2%), and starting empty (so that the rate
 * holds from the first byte on). Upload: the paced write path (conn_flush) asks
 * for tokens before encrypting a piece of yamux output and waits when there
 * are none; handshakes, control flushes and GoAways are not delayed but are
 * charged, so the bucket may go into debt. Download: the read buffer offered
 * to a socket is cut to the tokens there are, and a socket whose read finds
 * the bucket empty stops reading. One timer wakes the waiting connections
 * once a useful amount of tokens (a quantum) is back.
 */
#include <string.h>

#include "cpc/net.h"
#include "net/host_int.h"

/* Least tokens worth waking up for (unless the bucket holds less). */
#define QUANTUM (64.0 * 1024.0)

static void bucket_init(struct cpc__bucket *b, uint64_t rate, uint64_t now) {
  memset(b, 0, sizeof *b);
  b->rate = rate;
  b->burst = (double)rate / 10.0;
  if (b->burst < 1.0)
    b->burst = 1.0;
  b->quantum = b->burst < QUANTUM ? b->burst : QUANTUM;
  b->t_ns = now;
}

static void bucket_refill(struct cpc__bucket *b, uint64_t now) {
  uint64_t dt = now - b->t_ns;
  if (now <= b->t_ns)
    return;
  b->t_ns = now;
  if (dt > 1000000000u)
    dt = 1000000000u; /* the bucket is full after 1/10 s anyway */
  b->tokens += (double)b->rate * (double)dt / 1e9;
  if (b->tokens > b->burst)
    b->tokens = b->burst;
}

/* Milliseconds until b holds a quantum (at least 1). */
static uint64_t bucket_wait_ms(const struct cpc__bucket *b) {
  double need = b->quantum - b->tokens;
  uint64_t ms;
  if (need <= 0)
    return 1;
  ms = (uint64_t)(need * 1000.0 / (double)b->rate) + 1;
  return ms > 1000 ? 1000 : ms;
}

static void throttle_cb(uv_timer_t *t);

/* Run the timer within ms (sooner if it is already due sooner). */
static void schedule(cpc_net *net, uint64_t ms) {
  if (net->closing)
    return;
  if (uv_is_active((uv_handle_t *)&net->throttle) &&
      uv_timer_get_due_in(&net->throttle) <= ms)
    return;
  uv_timer_start(&net->throttle, throttle_cb, ms, 0);
}

static void throttle_cb(uv_timer_t *t) {
  cpc_net *net = t->data;
  uint64_t now = uv_hrtime(), wait = 0;
  int up_ready, down_ready;
  if (net->closing)
    return;
  bucket_refill(&net->up, now);
  bucket_refill(&net->down, now);
  up_ready = net->up.tokens >= net->up.quantum;
  down_ready = net->down.tokens >= net->down.quantum;
  for (struct cpc__list *l = net->conns.next; l != &net->conns; l = l->next) {
    cpc_net_conn *c = CPC__CONTAINER(l, cpc_net_conn, link);
    if (c->wait_up && up_ready) {
      c->wait_up = 0;
      cpc__conn_mark_dirty(c);
    }
    if (c->wait_down && down_ready) {
      c->wait_down = 0;
      if (!c->closing && !uv_is_closing((uv_handle_t *)&c->tcp))
        cpc__conn_read_resume(c);
    }
    if (c->wait_up && (!wait || bucket_wait_ms(&net->up) < wait))
      wait = bucket_wait_ms(&net->up);
    if (c->wait_down && (!wait || bucket_wait_ms(&net->down) < wait))
      wait = bucket_wait_ms(&net->down);
  }
  if (wait)
    schedule(net, wait);
}

void cpc__throttle_init(cpc_net *net) {
  uint64_t now = uv_hrtime();
  bucket_init(&net->up, net->lim.upload_bps, now);
  bucket_init(&net->down, net->lim.download_bps, now);
  uv_timer_init(net->loop, &net->throttle);
  net->throttle.data = net;
}

size_t cpc__throttle_up_allow(cpc_net_conn *c, size_t want) {
  cpc_net *net = c->net;
  struct cpc__bucket *b = &net->up;
  double need;
  if (b->rate == 0 || want == 0)
    return want;
  bucket_refill(b, uv_hrtime());
  need = (double)want < b->quantum ? (double)want : b->quantum;
  if (b->tokens < need) {
    c->wait_up = 1;
    schedule(net, bucket_wait_ms(b));
    return 0;
  }
  return (double)want <= b->tokens ? want : (size_t)b->tokens;
}

void cpc__throttle_sent(cpc_net *net, size_t n) {
  net->bytes_sent += n;
  if (net->up.rate)
    net->up.tokens -= (double)n;
}

size_t cpc__throttle_read_size(cpc_net *net, size_t cap) {
  struct cpc__bucket *b = &net->down;
  if (b->rate == 0)
    return cap;
  bucket_refill(b, uv_hrtime());
  if (b->tokens < 1.0)
    return 0;
  return b->tokens < (double)cap ? (size_t)b->tokens : cap;
}

int cpc__throttle_received(cpc_net_conn *c, size_t n) {
  struct cpc__bucket *b = &c->net->down;
  c->net->bytes_received += n;
  if (b->rate == 0)
    return 0;
  b->tokens -= (double)n;
  if (b->tokens >= 1.0)
    return 0;
  cpc__throttle_read_wait(c);
  return 1;
}

void cpc__throttle_read_wait(cpc_net_conn *c) {
  uv_read_stop((uv_stream_t *)&c->tcp);
  c->wait_down = 1;
  schedule(c->net, bucket_wait_ms(&c->net->down));
}

void cpc_net_traffic_get(const cpc_net *net, cpc_net_traffic *t) {
  t->bytes_sent = net->bytes_sent;
  t->bytes_received = net->bytes_received;
  t->connections = net->n_open;
  t->socket_output = net->inflight;
}
