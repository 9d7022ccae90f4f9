/*
 * swarm.c: how fetchers of the same content find each other, so that a
 * super-seeding server can send each block to one of them and let them
 * trade the rest (cpc/exchange.h, docs/adr/0004-super-seeding.md):
 *  - a peer that asks us for a CID of a running fetch of ours is fetching
 *    the same content: the fetch takes it in as a provider (both ways
 *    then: it asks us, we ask it);
 *  - with the host's DHT and a store, a fetch that holds one of its
 *    blocks announces itself as a provider of its swarm key (its first
 *    CID unless named), and looks the key's providers up every swarm_lookup_ms while
 *    it runs, dialing those it does not have yet.
 * Only while the exchange's superseed is on.
 */
#include <string.h>

#include "cpc/dht.h"
#include "cpc/error.h"
#include "exchange/exchange_int.h"

void cpc__xswarm_wants(cpc_exchange *ex, struct cpc__xpeer *p,
                       const cpc_bitswap_message *m) {
  if (!ex->cfg.superseed || m->n_entries == 0 || !p->conn)
    return;
  for (cpc_exchange_fetch *f = ex->fetches; f; f = f->next) {
    if (!f->swarm || !f->started || f->finished ||
        f->n_swarm >= ex->cfg.max_swarm_peers ||
        cpc__xfetch_has_provider(f, &p->id))
      continue;
    for (size_t i = 0; i < m->n_entries; i++) {
      if (m->entries[i].cancel || !cpc__xfetch_wants(f, &m->entries[i].cid))
        continue;
      (void)cpc__xfetch_add_peer(f, p);
      break;
    }
  }
}

/* The multihash bytes of f's swarm key into mh (cap CPC_MH_MAX_LEN). */
static int swarm_mh(const cpc_exchange_fetch *f, uint8_t *mh, size_t *len) {
  return cpc_multihash_encode(&f->swarm_key.mh, mh, CPC_MH_MAX_LEN, len);
}

void cpc__xswarm_have(cpc_exchange_fetch *f) {
  cpc_exchange *ex = f->ex;
  cpc_dht *dht = cpc_net_dht(ex->net);
  uint8_t mh[CPC_MH_MAX_LEN];
  size_t len = 0;
  if (!f->swarm || f->provided || !ex->bs || !dht || swarm_mh(f, mh, &len))
    return;
  /* no callback: the announcement may outlive the fetch; CPC_ENOENT (an
   * empty routing table) is tried again from the tick */
  if (cpc_kad_provide(cpc_dht_kad(dht), mh, len, cpc_dht_now_ms(), NULL, NULL,
                      NULL) == 0)
    f->provided = 1;
}

/* A provider lookup of fetch arg ended: dial the providers it does not
 * have yet (the first address the host can dial, with /p2p/). */
static void on_providers(void *arg, const cpc_kad_result *res) {
  cpc_exchange_fetch *f = arg;
  cpc_peer_id self;
  f->lookup_running = 0;
  cpc_net_peer_id(f->ex->net, &self);
  for (size_t i = 0; i < res->n_providers && !f->finished; i++) {
    const cpc_kad_peer *kp = &res->providers[i];
    if (cpc_peer_id_equal(&kp->id, &self) ||
        cpc__xfetch_has_provider(f, &kp->id))
      continue;
    for (size_t k = 0; k < kp->n_addrs; k++) {
      cpc_multiaddr ma;
      cpc_multiaddr_host hp;
      if (cpc_kad_peer_addr(kp, k, &ma) != 0 ||
          cpc_multiaddr_host_port(&ma, &hp) != 0 ||
          hp.transport_code != CPC_MA_TCP ||
          (hp.host_code != CPC_MA_IP4 && hp.host_code != CPC_MA_IP6))
        continue;
      cpc_multiaddr_strip_p2p(&ma);
      if (cpc_multiaddr_append_p2p(&ma, kp->id.bytes, kp->id.len) != 0)
        continue;
      if (cpc__xfetch_add_addr(f, &kp->id, &ma) == CPC_ENOSPC)
        return;
      break;
    }
  }
}

static void lookup(cpc_exchange_fetch *f, cpc_dht *dht, uint64_t now) {
  uint8_t mh[CPC_MH_MAX_LEN];
  size_t len = 0;
  uint64_t id = 0;
  int rc;
  f->next_lookup = now + f->ex->cfg.swarm_lookup_ms;
  if (swarm_mh(f, mh, &len) != 0)
    return;
  f->lookup_running = 1;
  f->ex->st.swarm_lookups++;
  rc = cpc_kad_find_providers(cpc_dht_kad(dht), mh, len,
                              f->ex->cfg.max_swarm_peers + 1, cpc_dht_now_ms(),
                              on_providers, f, &id);
  if (rc != 0)
    f->lookup_running = 0;
  else if (f->lookup_running) /* not over already */
    f->lookup_id = id;
}

void cpc__xswarm_tick(cpc_exchange *ex, uint64_t now) {
  cpc_dht *dht = cpc_net_dht(ex->net);
  if (!ex->cfg.superseed || !dht)
    return;
  for (cpc_exchange_fetch *f = ex->fetches; f; f = f->next) {
    if (!f->swarm || !f->started || f->finished)
      continue;
    if (!f->provided && f->received > 0)
      cpc__xswarm_have(f);
    if (!f->lookup_running && now >= f->next_lookup &&
        f->n_swarm < ex->cfg.max_swarm_peers)
      lookup(f, dht, now);
  }
}

void cpc__xswarm_stop(cpc_exchange_fetch *f) {
  cpc_dht *dht;
  if (!f->lookup_running)
    return;
  f->lookup_running = 0;
  dht = cpc_net_dht(f->ex->net);
  if (dht)
    (void)cpc_kad_cancel_lookup(cpc_dht_kad(dht), f->lookup_id);
}
