/*
 * fuzz_identify.c: the identify message decoder, one protobuf and the
 * length-prefixed stream form. Whatever decodes must encode, and decode
 * again to the same fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/identify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_text(const char *a, const char *b) {
  return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void round_trip(const cpc_identify_msg *m) {
  cpc_identify_msg *back = NULL;
  uint8_t *enc = NULL;
  size_t len = 0;
  if (cpc_identify_encode(m, &enc, &len) != 0)
    abort(); /* anything decoded fits the caps it was decoded under */
  if (cpc_identify_decode(enc, len, &back) != 0)
    abort();
  if (!same_text(m->agent_version, back->agent_version) ||
      !same_text(m->protocol_version, back->protocol_version) ||
      m->has_public_key != back->has_public_key ||
      (m->has_public_key && !cpc_pubkey_equal(&m->public_key,
                                              &back->public_key)) ||
      m->n_listen_addrs != back->n_listen_addrs ||
      m->n_protocols != back->n_protocols ||
      m->has_observed_addr != back->has_observed_addr)
    abort();
  for (size_t i = 0; i < m->n_listen_addrs; i++)
    if (!cpc_multiaddr_equal(&m->listen_addrs[i], &back->listen_addrs[i]))
      abort();
  for (size_t i = 0; i < m->n_protocols; i++)
    if (strcmp(m->protocols[i], back->protocols[i]) != 0)
      abort();
  cpc_identify_msg_free(back);
  free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cpc_identify_msg *m = NULL;
  if (cpc_identify_decode(data, size, &m) == 0) {
    round_trip(m);
    cpc_identify_msg_free(m);
  }
  if (cpc_identify_decode_stream(data, size, &m) == 0) {
    round_trip(m);
    cpc_identify_msg_free(m);
  }
  return 0;
}
