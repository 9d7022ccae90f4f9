/*
 * server.c: answers to inbound DHT requests (server mode), as the spec
 * and go / js do it: FIND_NODE and GET_* answer with the k closest peers
 * of our table (never the requester, never peers without addresses),
 * ADD_PROVIDER stores only the sender's own record, PUT_VALUE validates
 * and echoes, PING pongs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpc/error.h"
#include "cpc/multihash.h"
#include "kad/kad_int.h"

/* Shallow views of the k table peers closest to key, without `from`;
 * with ourselves first when key is our own id (a FIND_NODE "exact match").
 * Returns the count. */
static size_t closer_views(const cpc_kad *d, const uint8_t *key, size_t key_len,
                           const cpc_peer_id *from, int include_self,
                           cpc_kad_peer *out) {
  const cpc__kad_entry *e[CPC_KAD_MAX_PEERS];
  uint8_t target[CPC_KAD_KEY_LEN];
  size_t k = d->cfg.k, n, got = 0;

  if (include_self && key_len == d->self.len &&
      memcmp(key, d->self.bytes, key_len) == 0 && d->self_peer.n_addrs > 0)
    out[got++] = d->self_peer;
  cpc_kad_key_hash(key, key_len, target);
  n = cpc__kad_rt_closest(&d->rt, target, e, k + 1);
  for (size_t i = 0; i < n && got < k; i++) {
    if (from && cpc_peer_id_equal(&e[i]->peer.id, from))
      continue;
    if (e[i]->peer.n_addrs == 0)
      continue;
    out[got++] = e[i]->peer;
  }
  return got;
}

static int is_multihash(const uint8_t *key, size_t len) {
  cpc_multihash mh;
  size_t used;
  return len > 0 && cpc_multihash_decode(key, len, &mh, &used) == 0 &&
         used == len;
}

/* RFC 3339 with nanoseconds, as go writes it and js reads it. */
static void format_time(uint64_t ms, char *out, size_t cap) {
  time_t secs = (time_t)(ms / 1000);
  struct tm tm;
  char base[32];

  if (!gmtime_r(&secs, &tm) ||
      strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
    out[0] = '\0';
    return;
  }
  snprintf(out, cap, "%s.%03u000000Z", base, (unsigned)(ms % 1000));
}

static int answer_get_value(cpc_kad *d, const cpc_kad_message *m,
                            const cpc_peer_id *from, uint64_t now_ms,
                            cpc_kad_message *r, cpc_kad_peer *views,
                            uint8_t *pkbuf, char *tbuf) {
  const uint8_t *val;
  size_t vlen;
  uint64_t received;
  cpc_peer_id id;
  cpc_pubkey pk;

  r->key = m->key;
  r->key_len = m->key_len;
  /* A /pk/ key of an identity PeerId carries the key itself. */
  if (cpc__kad_key_has_prefix(m->key, m->key_len, "/pk/") &&
      cpc__kad_key_peer(m->key, m->key_len, &id) == 0 &&
      cpc_peer_id_pubkey(&id, &pk) == 0 &&
      cpc_pubkey_encode(&pk, pkbuf, CPC_PUBKEY_PROTO_MAX, &vlen) == 0) {
    r->has_record = 1;
    r->rec_key = m->key;
    r->rec_key_len = m->key_len;
    r->rec_value = pkbuf;
    r->rec_value_len = vlen;
    format_time(now_ms, tbuf, 64);
    r->rec_time = tbuf;
    return 0;
  }
  if (cpc__kad_values_get(d, m->key, m->key_len, now_ms, &val, &vlen,
                          &received) == 0) {
    r->has_record = 1;
    r->rec_key = m->key;
    r->rec_key_len = m->key_len;
    r->rec_value = (uint8_t *)val;
    r->rec_value_len = vlen;
    format_time(received, tbuf, 64);
    r->rec_time = tbuf;
  }
  r->closer = views;
  r->n_closer = closer_views(d, m->key, m->key_len, from, 0, views);
  return 0;
}

static int add_providers(cpc_kad *d, const cpc_kad_message *m,
                         const cpc_peer_id *from, uint64_t now_ms) {
  int stored = 0, rc;

  for (size_t i = 0; i < m->n_providers; i++) {
    if (!cpc_peer_id_equal(&m->providers[i].id, from))
      continue; /* only the sender may announce itself */
    rc =
        cpc__kad_providers_add(d, m->key, m->key_len, &m->providers[i], now_ms);
    if (rc != 0)
      return rc;
    stored = 1;
  }
  return stored ? 0 : CPC_EPERM;
}

int cpc_kad_handle_request(cpc_kad *d, const cpc_peer_id *from,
                           const uint8_t *msg, size_t len, uint64_t now_ms,
                           uint8_t **resp, size_t *resp_len) {
  cpc_kad_message m, r;
  cpc_kad_peer *views = NULL, *pviews = NULL;
  uint8_t pkbuf[CPC_PUBKEY_PROTO_MAX];
  char tbuf[64];
  int rc;

  *resp = NULL;
  *resp_len = 0;
  if (d->cfg.client_mode)
    return CPC_ESTATE;
  rc = cpc_kad_message_decode(msg, len, &m);
  if (rc != 0)
    return rc;
  memset(&r, 0, sizeof r);
  r.type = m.type;
  r.cluster_level = m.cluster_level;
  views = calloc(d->cfg.k + 1, sizeof *views);
  pviews = calloc(d->cfg.max_providers_per_key, sizeof *pviews);
  if (!views || !pviews) {
    rc = CPC_ENOMEM;
    goto out;
  }
  switch (m.type) {
  case CPC_KAD_FIND_NODE:
    if (m.key_len == 0) {
      rc = CPC_EINVAL;
      goto out;
    }
    r.closer = views;
    r.n_closer = closer_views(d, m.key, m.key_len, from, 1, views);
    break;
  case CPC_KAD_GET_PROVIDERS:
    if (!is_multihash(m.key, m.key_len)) {
      rc = CPC_EINVAL;
      goto out;
    }
    r.key = m.key;
    r.key_len = m.key_len;
    r.providers = pviews;
    r.n_providers = cpc__kad_providers_view(d, m.key, m.key_len, now_ms, pviews,
                                            d->cfg.max_providers_per_key);
    r.closer = views;
    r.n_closer = closer_views(d, m.key, m.key_len, from, 0, views);
    break;
  case CPC_KAD_ADD_PROVIDER:
    rc = is_multihash(m.key, m.key_len) ? add_providers(d, &m, from, now_ms)
                                        : CPC_EINVAL;
    goto out; /* no answer */
  case CPC_KAD_GET_VALUE:
    if (m.key_len == 0) {
      rc = CPC_EINVAL;
      goto out;
    }
    rc = answer_get_value(d, &m, from, now_ms, &r, views, pkbuf, tbuf);
    if (rc != 0)
      goto out;
    break;
  case CPC_KAD_PUT_VALUE:
    if (!m.has_record || m.key_len == 0 || m.rec_key_len != m.key_len ||
        memcmp(m.rec_key, m.key, m.key_len) != 0) {
      rc = CPC_EINVAL;
      goto out;
    }
    rc = cpc__kad_values_put(d, m.key, m.key_len, m.rec_value, m.rec_value_len,
                             now_ms);
    if (rc != 0)
      goto out;
    rc = cpc_kad_message_encode(&m, resp, resp_len); /* the echo */
    goto out;
  case CPC_KAD_PING: break;
  }
  rc = cpc_kad_message_encode(&r, resp, resp_len);
out:
  free(views);
  free(pviews);
  cpc_kad_message_clear(&m);
  return rc;
}
