/*
 * fuzz_multiaddr.c: binary and text multiaddr parsing. Whatever parses must
 * format, and the formatted text must parse back to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/multiaddr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(const cpc_multiaddr *ma) {
  static char text[CPC_MULTIADDR_MAX_TEXT];
  cpc_multiaddr back, copy;
  cpc_multiaddr_host host;
  uint8_t peer[CPC_MULTIADDR_MAX_BYTES];
  size_t n = 0;
  if (cpc_multiaddr_format(ma, text, sizeof text, &n) != 0)
    abort();
  if (cpc_multiaddr_parse(&back, text, n) != 0 ||
      !cpc_multiaddr_equal(ma, &back))
    abort();
  (void)cpc_multiaddr_host_port(ma, &host);
  (void)cpc_multiaddr_peer_id(ma, peer, sizeof peer, &n);
  copy = *ma;
  cpc_multiaddr_strip_p2p(&copy);
  if (cpc_multiaddr_count(&copy) == 0)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cpc_multiaddr ma;
  if (size == 0)
    return 0;
  /* First byte picks the form so one corpus covers both. */
  if (data[0] & 1) {
    if (cpc_multiaddr_from_bytes(&ma, data + 1, size - 1) == 0)
      round_trip(&ma);
  } else {
    if (cpc_multiaddr_parse(&ma, (const char *)data + 1, size - 1) == 0)
      round_trip(&ma);
  }
  return 0;
}
