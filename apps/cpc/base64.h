/* base64.h: base64 text of bytes for the cpc subcommands' output. */
#ifndef CPC_APP_BASE64_H
#define CPC_APP_BASE64_H

#include <stddef.h>
#include <stdint.h>

/*
 * Standard base64 (with padding) of in[0..len) as a malloc'd string the
 * caller frees, or NULL when out of memory. Not for secrets: the text is
 * freed without wiping.
 */
char *cpc_app_base64(const uint8_t *in, size_t len);

#endif
