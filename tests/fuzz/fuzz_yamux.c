/*
 * fuzz_yamux.c: a Yamux session (server, then client) fed arbitrary frames
 * in arbitrary chunks, with an application that accepts, consumes, writes
 * back, closes and resets in its callbacks. Any crash, leak or sanitizer
 * report is a bug; protocol errors are expected.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/yamux.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cpc_yamux *cur;
static unsigned step;

static void on_open(void *ud, uint32_t id) {
  (void)ud;
  if (++step % 5 == 0)
    cpc_yamux_reset(cur, id);
  else if (step % 3)
    cpc_yamux_accept(cur, id, NULL);
}

static void on_data(void *ud, uint32_t id, void *sud, const uint8_t *d,
                    size_t n) {
  size_t acc;
  (void)ud;
  (void)sud;
  if (cpc_yamux_consumed(cur, id, n) != 0)
    abort(); /* everything delivered may be consumed */
  if (++step % 7 == 0)
    cpc_yamux_write(cur, id, d, n, &acc);
  if (step % 11 == 0)
    cpc_yamux_close(cur, id);
  if (step % 13 == 0)
    cpc_yamux_reset(cur, id);
}

static void on_fin(void *ud, uint32_t id, void *sud) {
  (void)ud;
  (void)sud;
  if (++step % 2)
    cpc_yamux_close(cur, id);
}

static void on_writable(void *ud, uint32_t id, void *sud) {
  size_t acc;
  (void)ud;
  (void)sud;
  cpc_yamux_write(cur, id, (const uint8_t *)"pong", 4, &acc);
}

static const cpc_yamux_callbacks cb = {on_open,     on_data, on_fin, NULL,
                                       on_writable, NULL,    NULL};

static void run(int is_client, const uint8_t *data, size_t size) {
  cpc_yamux_config cfg;
  size_t off = 0, chunk;
  uint32_t id;
  if (size < 1)
    return;
  chunk = (size_t)data[0] * 7 + 1;
  cpc_yamux_config_default(&cfg, is_client);
  cfg.max_streams = 16;
  cfg.max_pending = 4;
  cfg.max_output = 4096;
  if (cpc_yamux_new(&cur, &cfg, &cb, NULL) != 0)
    abort();
  (void)cpc_yamux_open(cur, NULL, &id);
  data++;
  size--;
  while (off < size) {
    size_t n = size - off < chunk ? size - off : chunk, used = 0;
    const uint8_t *out;
    int rc = cpc_yamux_feed(cur, data + off, n, &used);
    if (used > n)
      abort();
    off += used;
    cpc_yamux_output_done(cur, cpc_yamux_output(cur, &out) / 2 + 1);
    if (rc != 0) {
      if (rc != CPC_EPROTO || cpc_yamux_error(cur) != rc)
        abort();
      break;
    }
  }
  cpc_yamux_free(cur);
  cur = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  step = 0;
  run(0, data, size);
  step = 0;
  run(1, data, size);
  return 0;
}
