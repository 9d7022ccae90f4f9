/*
 * crypt_dir.h: the on-disk layout `cpc encrypt` writes and `cpc decrypt`
 * reads:
 *   DIR/blocks/<cid>     every block (chunks, manifest pages, root manifest),
 *                        named by its CIDv1 in base32
 *   DIR/content_id       the cpc:// URI and a newline
 *   DIR/key              the content key, base64 + newline, mode 0600
 *                        (public content: the key in the clear)
 *   DIR/keys/<pk>        the key sealed to an X25519 public key (pk in
 *                        base64url without padding), base64 + newline
 */
#ifndef CPC_APP_CRYPT_DIR_H
#define CPC_APP_CRYPT_DIR_H

#include <stddef.h>
#include <stdint.h>

#include "cpc/cid.h"

#define CRYPT_PATH_MAX 4096

/* Block store context: the directory and the CID last asked for. */
struct crypt_dir {
  const char *dir;
  char last_cid[CPC_CID_MAX_TEXT]; /* for error messages */
  int last_errno;
};

/* cpc_block_sink_fn / cpc_block_source_fn over DIR/blocks. */
int crypt_dir_put(void *ctx, const cpc_cid *cid, const uint8_t *block,
                  size_t len);
int crypt_dir_get(void *ctx, const cpc_cid *cid, uint8_t *buf, size_t cap,
                  size_t *len);

/*
 * Read a small text or binary file (at most cap bytes) into buf; *len gets
 * its size. 0, CPC_ENOENT, CPC_ETOOBIG or CPC_EIO (errno set).
 */
int crypt_read_small(const char *path, uint8_t *buf, size_t cap, size_t *len);

/*
 * Decode a 32-byte key from a file's bytes: exactly 32 raw bytes, or
 * standard base64 (surrounding whitespace ignored). 0 or CPC_EMALFORMED.
 */
int crypt_parse_key32(const uint8_t *in, size_t len, uint8_t out[32]);

/* Write data to path, created new with mode (fails if it exists). */
int crypt_write_new(const char *path, const void *data, size_t len,
                    unsigned mode);

#endif
