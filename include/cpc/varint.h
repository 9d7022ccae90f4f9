/*
 * cpc/varint.h: unsigned LEB128 varints as multiformats specifies them
 * (at most 9 bytes, values below 2^63, minimal encoding only).
 */
#ifndef CPC_VARINT_H
#define CPC_VARINT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CPC_VARINT_MAX_LEN 9

/* Bytes needed to encode v (1..9). v must be < 2^63. */
size_t cpc_varint_len(uint64_t v);

/*
 * Encode v into out (cap bytes). On success *written (may be NULL) is the
 * length used. CPC_ETOOBIG if cap is too small or v >= 2^63; out and
 * *written are then untouched.
 */
int cpc_varint_encode(uint64_t v, uint8_t *out, size_t cap, size_t *written);

/*
 * Decode a varint from in[0..len) (borrowed; may be followed by other
 * data). On success *v is the value and *used (may be NULL) the bytes
 * consumed. CPC_ETRUNC if in ends inside the varint, CPC_EMALFORMED if
 * it is longer than 9 bytes or not minimally encoded. Never reads past len.
 */
int cpc_varint_decode(const uint8_t *in, size_t len, uint64_t *v, size_t *used);

#ifdef __cplusplus
}
#endif

#endif /* CPC_VARINT_H */
