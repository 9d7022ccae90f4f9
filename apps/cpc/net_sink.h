/*
 * net_sink.h: the /cpc/sink/1.0.0 benchmark protocol of `cpc net listen`
 * and `cpc net send`. The dialer sends any number of bytes and then
 * half-closes; the listener discards them and, at the dialer's EOF, answers
 * with the count as an 8-byte big-endian integer and closes its side.
 */
#ifndef CPC_APP_NET_SINK_H
#define CPC_APP_NET_SINK_H

#include <stdint.h>

#include "cpc/net.h"

#define CPC_APP_SINK_PROTOCOL "/cpc/sink/1.0.0"
#define CPC_APP_SINK_REPLY_LEN 8

/* Register the listener side on net. Errors as cpc_net_handle(). */
int cpc_app_sink_register(cpc_net *net);

/* Encode / decode the reply. */
void cpc_app_sink_reply_encode(uint64_t count,
                               uint8_t out[CPC_APP_SINK_REPLY_LEN]);
uint64_t cpc_app_sink_reply_decode(const uint8_t in[CPC_APP_SINK_REPLY_LEN]);

#endif
