/* fuzz_content_metadata.c: ContentMetadata from peers and REST clients, in
 * protobuf and JSON. Whatever decodes must re-encode and decode the same. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/content_metadata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cpc_content_metadata md, back;
  char err[256];
  uint8_t *pb = NULL;
  char *json = NULL;
  size_t len = 0;
  if (cpc_content_metadata_decode(data, size, &md) == 0) {
    if (cpc_content_metadata_encode(&md, &pb, &len) != 0 ||
        cpc_content_metadata_decode(pb, len, &back) != 0)
      __builtin_trap();
    cpc_content_metadata_clear(&back);
    free(pb);
  }
  cpc_content_metadata_clear(&md);
  if (cpc_content_metadata_from_json((const char *)data, size, &md, err,
                                     sizeof err) == 0) {
    if (md.size < (1ull << 53) &&
        (cpc_content_metadata_to_json(&md, 0, &json) != 0 ||
         cpc_content_metadata_from_json(json, strlen(json), &back, err,
                                        sizeof err) != 0))
      __builtin_trap();
    cpc_content_metadata_clear(&back);
    free(json);
  }
  cpc_content_metadata_clear(&md);
  return 0;
}
