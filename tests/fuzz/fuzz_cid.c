/*
 * fuzz_cid.c: CID binary decode and text parse, and the multihash decoder
 * under them. Whatever decodes must re-encode to exactly the bytes it came
 * from; whatever parses must format back to the same text when the text was
 * canonical (lower-case base16/base32, base58btc, CIDv0), and must survive a
 * trip through every base.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cpc/cid.h"
#include "cpc/multihash.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_binary(const uint8_t *data, size_t size) {
  cpc_cid cid;
  cpc_multihash mh;
  uint8_t out[CPC_CID_MAX_BYTES];
  size_t used, n;

  if (cpc_multihash_decode(data, size, &mh, &used) == 0) {
    if (cpc_multihash_encode(&mh, out, sizeof out, &n) != 0 || n != used ||
        memcmp(out, data, n) != 0)
      abort();
  }
  if (cpc_cid_decode(data, size, &cid, &used) == 0) {
    if (used > size || cpc_cid_encode(&cid, out, sizeof out, &n) != 0 ||
        n != used || memcmp(out, data, n) != 0)
      abort();
  }
}

/* 1 if text has no upper-case letters after its prefix. */
static int lower_body(const char *text) {
  for (const char *p = text + 1; *p; p++)
    if (*p >= 'A' && *p <= 'Z')
      return 0;
  return 1;
}

static void check_text(const uint8_t *data, size_t size) {
  static const enum cpc_multibase bases[] = {CPC_MB_BASE16, CPC_MB_BASE32,
                                             CPC_MB_BASE58BTC};
  char *text = malloc(size + 1);
  char out[CPC_CID_MAX_TEXT];
  cpc_cid cid, back;

  if (text == NULL)
    return;
  memcpy(text, data, size);
  text[size] = '\0';
  if (cpc_cid_parse(text, &cid) != 0)
    goto out;
  if (cid.version == 0) {
    if (cpc_cid_format(&cid, CPC_MB_BASE32, out, sizeof out) != 0 ||
        strcmp(out, text) != 0)
      abort();
  } else if (text[0] == 'b' || text[0] == 'f' || text[0] == 'z' ||
             text[0] == 'B' || text[0] == 'F') {
    enum cpc_multibase base = text[0] == 'B'   ? CPC_MB_BASE32
                              : text[0] == 'F' ? CPC_MB_BASE16
                                               : (enum cpc_multibase)text[0];
    if (cpc_cid_format(&cid, base, out, sizeof out) != 0)
      abort();
    if (text[0] == 'z' || (text[0] != 'B' && text[0] != 'F' && lower_body(text))) {
      if (strcmp(out, text) != 0)
        abort();
    } else if (strcasecmp(out + 1, text + 1) != 0) {
      abort();
    }
  } else {
    abort(); /* parse accepted a prefix it does not know */
  }
  for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
    if (cpc_cid_format(&cid, bases[i], out, sizeof out) != 0 ||
        cpc_cid_parse(out, &back) != 0 || !cpc_cid_equal(&cid, &back))
      abort();
  }
out:
  free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check_binary(data, size);
  check_text(data, size);
  return 0;
}
