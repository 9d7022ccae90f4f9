/*
 * peer_store.c: what the host knows about other peers (PeerId -> public
 * key, agent and protocol versions, protocols, listen addresses), learned
 * from identify or given by the caller. Bounded: when full, the least
 * recently touched entry is dropped.
 */
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/net.h"
#include "net/host_int.h"

/* At most this many addresses are kept per peer. */
#define MAX_ADDRS CPC_IDENTIFY_MAX_ADDRS

static void free_strings(char **v, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

static void free_addrs(struct cpc__addr **v, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

static void peer_free(struct cpc__peer *p) {
  if (!p)
    return;
  free(p->agent);
  free(p->protocol_version);
  free_strings(p->protocols, p->n_protocols);
  free_addrs(p->addrs, p->n_addrs);
  free(p);
}

void cpc__peers_free(struct cpc__peer_store *ps) {
  for (size_t i = 0; i < ps->n; i++)
    peer_free(ps->peers[i]);
  free(ps->peers);
  memset(ps, 0, sizeof *ps);
}

struct cpc__peer *cpc__peers_find(const struct cpc__peer_store *ps,
                                  const cpc_peer_id *id) {
  for (size_t i = 0; i < ps->n; i++)
    if (cpc_peer_id_equal(&ps->peers[i]->id, id))
      return ps->peers[i];
  return NULL;
}

int cpc__peers_upsert(struct cpc__peer_store *ps, const cpc_peer_id *id,
                      uint64_t now_ms, struct cpc__peer **out) {
  struct cpc__peer *p = cpc__peers_find(ps, id);
  *out = NULL;
  if (p) {
    p->touched_ms = now_ms;
    *out = p;
    return 0;
  }
  if (ps->n >= ps->max && ps->n > 0) { /* evict the stalest */
    size_t old = 0;
    for (size_t i = 1; i < ps->n; i++)
      if (ps->peers[i]->touched_ms < ps->peers[old]->touched_ms)
        old = i;
    peer_free(ps->peers[old]);
    ps->peers[old] = ps->peers[--ps->n];
  }
  if (ps->n == ps->cap) {
    size_t cap = ps->cap ? 2 * ps->cap : 16;
    struct cpc__peer **v = realloc(ps->peers, cap * sizeof *v);
    if (!v)
      return CPC_ENOMEM;
    ps->peers = v;
    ps->cap = cap;
  }
  p = calloc(1, sizeof *p);
  if (!p)
    return CPC_ENOMEM;
  p->id = *id;
  p->touched_ms = now_ms;
  ps->peers[ps->n++] = p;
  *out = p;
  return 0;
}

static struct cpc__addr *addr_new(const cpc_multiaddr *ma) {
  struct cpc__addr *a = malloc(sizeof *a + ma->len);
  if (a) {
    a->len = ma->len;
    memcpy(a->bytes, ma->bytes, ma->len);
  }
  return a;
}

/* Replace p's addresses with ma[0..n). */
static int set_addrs(struct cpc__peer *p, const cpc_multiaddr *ma, size_t n) {
  struct cpc__addr **v;
  if (n > MAX_ADDRS)
    n = MAX_ADDRS;
  v = calloc(n ? n : 1, sizeof *v);
  if (!v)
    return CPC_ENOMEM;
  for (size_t i = 0; i < n; i++)
    if (!(v[i] = addr_new(&ma[i]))) {
      free_addrs(v, i);
      return CPC_ENOMEM;
    }
  free_addrs(p->addrs, p->n_addrs);
  p->addrs = v;
  p->n_addrs = n;
  return 0;
}

static int dup_str(const char *s, char **out) {
  char *d = strdup(s);
  if (!d)
    return CPC_ENOMEM;
  free(*out);
  *out = d;
  return 0;
}

int cpc__peers_apply_identify(struct cpc__peer_store *ps, const cpc_peer_id *id,
                              const cpc_identify_msg *m, uint64_t now_ms) {
  struct cpc__peer *p;
  int rc = cpc__peers_upsert(ps, id, now_ms, &p);
  if (rc != 0)
    return rc;
  if (m->has_public_key) {
    p->key = m->public_key;
    p->has_key = 1;
  }
  if (m->agent_version && (rc = dup_str(m->agent_version, &p->agent)) != 0)
    return rc;
  if (m->protocol_version &&
      (rc = dup_str(m->protocol_version, &p->protocol_version)) != 0)
    return rc;
  if (m->n_listen_addrs > 0 &&
      (rc = set_addrs(p, m->listen_addrs, m->n_listen_addrs)) != 0)
    return rc;
  if (m->n_protocols > 0) {
    char **v = calloc(m->n_protocols, sizeof *v);
    if (!v)
      return CPC_ENOMEM;
    for (size_t i = 0; i < m->n_protocols; i++)
      if (!(v[i] = strdup(m->protocols[i]))) {
        free_strings(v, i);
        return CPC_ENOMEM;
      }
    free_strings(p->protocols, p->n_protocols);
    p->protocols = v;
    p->n_protocols = m->n_protocols;
  }
  return 0;
}

/* --- public ------------------------------------------------------------- */

void cpc_net_peer_info_free(cpc_net_peer_info *info) {
  if (!info)
    return;
  free(info->agent_version);
  free(info->protocol_version);
  free_strings(info->protocols, info->n_protocols);
  free(info->addrs);
  free(info);
}

int cpc_net_peer_info_get(const cpc_net *net, const cpc_peer_id *id,
                          cpc_net_peer_info **out) {
  const struct cpc__peer *p = cpc__peers_find(&net->peers, id);
  cpc_net_peer_info *info;
  int rc = CPC_ENOMEM;

  *out = NULL;
  if (!p)
    return CPC_ENOENT;
  if (!(info = calloc(1, sizeof *info)))
    return CPC_ENOMEM;
  info->id = p->id;
  info->has_public_key = p->has_key;
  info->public_key = p->key;
  if (p->agent && !(info->agent_version = strdup(p->agent)))
    goto out;
  if (p->protocol_version &&
      !(info->protocol_version = strdup(p->protocol_version)))
    goto out;
  if (p->n_protocols > 0) {
    if (!(info->protocols = calloc(p->n_protocols, sizeof *info->protocols)))
      goto out;
    for (; info->n_protocols < p->n_protocols; info->n_protocols++)
      if (!(info->protocols[info->n_protocols] =
                strdup(p->protocols[info->n_protocols])))
        goto out;
  }
  if (p->n_addrs > 0) {
    if (!(info->addrs = calloc(p->n_addrs, sizeof *info->addrs)))
      goto out;
    for (size_t i = 0; i < p->n_addrs; i++)
      if (cpc_multiaddr_from_bytes(&info->addrs[info->n_addrs],
                                   p->addrs[i]->bytes, p->addrs[i]->len) == 0)
        info->n_addrs++;
  }
  *out = info;
  info = NULL;
  rc = 0;
out:
  cpc_net_peer_info_free(info);
  return rc;
}

int cpc_net_peer_add_addrs(cpc_net *net, const cpc_peer_id *id,
                           const cpc_multiaddr *addrs, size_t n) {
  struct cpc__peer *p;
  struct cpc__addr **v;
  size_t keep;
  int rc = cpc__peers_upsert(&net->peers, id, cpc__net_now(net), &p);
  if (rc != 0)
    return rc;
  keep = p->n_addrs;
  v = realloc(p->addrs, (keep + n ? keep + n : 1) * sizeof *v);
  if (!v)
    return CPC_ENOMEM;
  p->addrs = v;
  for (size_t i = 0; i < n && p->n_addrs < MAX_ADDRS; i++) {
    int dup = 0;
    for (size_t k = 0; k < p->n_addrs; k++)
      if (p->addrs[k]->len == addrs[i].len &&
          memcmp(p->addrs[k]->bytes, addrs[i].bytes, addrs[i].len) == 0)
        dup = 1;
    if (dup)
      continue;
    if (!(p->addrs[p->n_addrs] = addr_new(&addrs[i])))
      return CPC_ENOMEM;
    p->n_addrs++;
  }
  return 0;
}
