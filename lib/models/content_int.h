/* content_int.h: internals shared by the ContentMetadata files of lib/models. */
#ifndef CPC_MODELS_CONTENT_INT_H
#define CPC_MODELS_CONTENT_INT_H

#include <stddef.h>

#include "cpc/content_metadata.h"

/* Append a wrapped key without the duplicate scan (decoders check the
 * whole list once in O(n log n)). CPC_ETOOBIG at the cap, CPC_ENOMEM. */
int cpc__content_metadata_append_key(cpc_content_metadata *md,
                                     const cpc_peer_id *reader,
                                     const uint8_t sealed[CPC_SEALED_KEY_LEN]);

/* 1 if s is at most max bytes of UTF-8 without control characters. */
int cpc__text_ok(const char *s, size_t max);

#endif
