/*
 * cpc/uri.h: content URIs, "cpc://" followed by the content_id as a CIDv1
 * (raw, blake3) in multibase base32 ("cpc://bafkr4i…").
 */
#ifndef CPC_URI_H
#define CPC_URI_H

#include <stddef.h>

#include "cpc/cid.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CPC_URI_SCHEME "cpc://"
/* Longest URI cpc_content_uri_format writes, NUL included. */
#define CPC_URI_MAX (sizeof CPC_URI_SCHEME + CPC_CID_MAX_TEXT)

/*
 * Write "cpc://<base32 CID>" NUL-terminated into out (cap bytes).
 * Errors: CPC_EUNSUPPORTED (not CIDv1 raw blake3), CPC_ETOOBIG (cap short).
 */
int cpc_content_uri_format(const cpc_cid *content_id, char *out, size_t cap);

/*
 * Parse a content URI (NUL-terminated, borrowed) into *content_id. The
 * scheme is matched case-insensitively; the CID may be in any multibase
 * cpc_cid_parse accepts. Errors: CPC_EMALFORMED (no "cpc://", bad CID
 * text, anything after the CID), CPC_EUNSUPPORTED (a CID that is not
 * CIDv1 raw blake3), CPC_ETOOBIG.
 */
int cpc_content_uri_parse(const char *uri, cpc_cid *content_id);

#ifdef __cplusplus
}
#endif

#endif /* CPC_URI_H */
