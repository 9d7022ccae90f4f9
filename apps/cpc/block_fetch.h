/*
 * block_fetch.h: `cpc block get CID... --peer MULTIADDR`: fetch blocks over
 * Bitswap (cpc/exchange.h).
 */
#ifndef CPC_APP_BLOCK_FETCH_H
#define CPC_APP_BLOCK_FETCH_H

#include <stdint.h>

struct cpc_block_fetch_args {
  const char *const *cids; /* CID texts */
  int n_cids;
  const char *const *peers; /* multiaddr texts */
  int n_peers;
  const char *store; /* store directory, or NULL: do not store */
  const char *out;   /* -o FILE, or NULL: standard output (one CID only) */
  uint64_t timeout_ms;
};

/* Run the fetch; returns the exit status (0, 1 after an error message on
 * stderr, 2 for a usage error). */
int cpc_block_fetch(const struct cpc_block_fetch_args *a);

#endif
