/* fuzz_manifest.c: decrypted manifests and manifest pages are parsed from
 * bytes only the key holder controls, but they still must never crash. */
#include <stddef.h>
#include <stdint.h>

#include "cpc/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cpc_manifest m;
  cpc_manifest_page p;
  uint8_t out[CPC_MANIFEST_PAGE_MAX / 16];
  size_t len = 0;
  if (cpc_manifest_decode(data, size, &m) == 0) {
    /* What decodes re-encodes. */
    if (cpc_manifest_encode(&m, out, sizeof out, &len) != 0 && size < sizeof out / 2)
      __builtin_trap();
    (void)cpc_manifest_page_decode(data, size, &m, &p);
    cpc_manifest_page_clear(&p);
  }
  cpc_manifest_clear(&m);
  return 0;
}
