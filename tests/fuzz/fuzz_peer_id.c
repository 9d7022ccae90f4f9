/*
 * fuzz_peer_id.c: PeerIds from bytes and from text (both forms). Whatever
 * is accepted must format and parse back to the same id in both text forms,
 * and an inlined key must come back out.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/peer_id.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(const cpc_peer_id *id) {
  char text[CPC_PEER_ID_MAX_TEXT];
  cpc_peer_id back;
  cpc_pubkey pk;
  int rc;

  if (cpc_peer_id_format(id, text, sizeof text) != 0 ||
      cpc_peer_id_parse(text, &back) != 0 || !cpc_peer_id_equal(id, &back))
    abort();
  if (cpc_peer_id_format_cid(id, text, sizeof text) != 0 ||
      cpc_peer_id_parse(text, &back) != 0 || !cpc_peer_id_equal(id, &back))
    abort();
  rc = cpc_peer_id_pubkey(id, &pk);
  if (rc == 0 && cpc_peer_id_check(id, &pk) != 0)
    abort();
  if (rc != 0 && id->bytes[0] == 0x00)
    abort(); /* an accepted identity id always holds a usable key */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cpc_peer_id id;
  char *text;

  if (cpc_peer_id_from_bytes(data, size, &id) == 0)
    round_trip(&id);
  text = malloc(size + 1);
  if (!text)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  if (cpc_peer_id_parse(text, &id) == 0)
    round_trip(&id);
  free(text);
  return 0;
}
