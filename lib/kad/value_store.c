/*
 * value_store.c: validated PUT_VALUE records, kept record_ttl_ms after
 * they were last received, at most max_records of them. A stored record is
 * replaced only by a better one (cpc_kad_select_record).
 */
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "kad/kad_int.h"

typedef struct stored_value {
  uint8_t *value;
  size_t len;
  uint64_t received_ms;
} stored_value;

static void free_value(void *v) {
  stored_value *s = v;
  if (!s)
    return;
  free(s->value);
  free(s);
}

static int expired(const cpc_kad *d, const stored_value *s, uint64_t now_ms) {
  return s->received_ms + d->cfg.record_ttl_ms <= now_ms;
}

int cpc__kad_values_put(cpc_kad *d, const uint8_t *key, size_t key_len,
                        const uint8_t *value, size_t value_len,
                        uint64_t now_ms) {
  stored_value *s = cpc__kad_table_get(&d->values, key, key_len);
  uint8_t *copy;
  int rc;

  rc = cpc_kad_validate_record(key, key_len, value, value_len);
  if (rc != 0)
    return rc;
  if (s && !expired(d, s, now_ms)) {
    if (s->len == value_len && memcmp(s->value, value, value_len) == 0) {
      s->received_ms = now_ms;
      return 0;
    }
    if (cpc_kad_select_record(key, key_len, s->value, s->len, value,
                              value_len) <= 0)
      return CPC_EEXIST;
  }
  if (!s && d->values.count >= d->cfg.max_records) {
    cpc__kad_values_sweep(d, now_ms);
    if (d->values.count >= d->cfg.max_records)
      return CPC_ENOSPC;
  }
  copy = malloc(value_len ? value_len : 1);
  if (!copy)
    return CPC_ENOMEM;
  memcpy(copy, value, value_len);
  if (!s) {
    s = calloc(1, sizeof *s);
    if (!s || cpc__kad_table_put(&d->values, key, key_len, s) != 0) {
      free(s);
      free(copy);
      return CPC_ENOMEM;
    }
  }
  free(s->value);
  s->value = copy;
  s->len = value_len;
  s->received_ms = now_ms;
  return 0;
}

int cpc__kad_values_get(const cpc_kad *d, const uint8_t *key, size_t key_len,
                        uint64_t now_ms, const uint8_t **value,
                        size_t *value_len, uint64_t *received_ms) {
  const stored_value *s = cpc__kad_table_get(&d->values, key, key_len);

  if (!s || expired(d, s, now_ms))
    return CPC_ENOENT;
  *value = s->value;
  *value_len = s->len;
  if (received_ms)
    *received_ms = s->received_ms;
  return 0;
}

typedef struct sweep_ctx {
  const cpc_kad *d;
  uint64_t now_ms;
} sweep_ctx;

static int keep_value(void *ctx, const uint8_t *key, size_t len, void *val) {
  sweep_ctx *c = ctx;
  (void)key;
  (void)len;
  if (!expired(c->d, val, c->now_ms))
    return 1;
  free_value(val);
  return 0;
}

void cpc__kad_values_sweep(cpc_kad *d, uint64_t now_ms) {
  sweep_ctx c = {d, now_ms};
  cpc__kad_table_filter(&d->values, keep_value, &c);
}

void cpc__kad_values_free(cpc_kad *d) {
  cpc__kad_table_free(&d->values, free_value);
}

int cpc_kad_get_local_value(const cpc_kad *d, const uint8_t *key,
                            size_t key_len, uint64_t now_ms,
                            const uint8_t **value, size_t *value_len) {
  return cpc__kad_values_get(d, key, key_len, now_ms, value, value_len, NULL);
}
