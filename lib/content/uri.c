/* uri.c: cpc://<content_id> (cpc/uri.h). */
#include <string.h>
#include <strings.h>

#include "content/content_int.h"
#include "cpc/error.h"
#include "cpc/uri.h"

#define SCHEME_LEN (sizeof CPC_URI_SCHEME - 1)

int cpc_content_uri_format(const cpc_cid *content_id, char *out, size_t cap) {
  if (!cpc__block_cid_ok(content_id))
    return CPC_EUNSUPPORTED;
  if (cap < SCHEME_LEN + 1)
    return CPC_ETOOBIG;
  memcpy(out, CPC_URI_SCHEME, SCHEME_LEN);
  return cpc_cid_format(content_id, CPC_MB_BASE32, out + SCHEME_LEN,
                        cap - SCHEME_LEN);
}

int cpc_content_uri_parse(const char *uri, cpc_cid *content_id) {
  int rc;
  if (strncasecmp(uri, CPC_URI_SCHEME, SCHEME_LEN) != 0)
    return CPC_EMALFORMED;
  rc = cpc_cid_parse(uri + SCHEME_LEN, content_id);
  if (rc == CPC_EUNSUPPORTED || rc == CPC_ETRUNC)
    rc = CPC_EMALFORMED; /* unknown multibase prefix, cut-off text */
  if (rc != 0)
    return rc;
  return cpc__block_cid_ok(content_id) ? 0 : CPC_EUNSUPPORTED;
}
