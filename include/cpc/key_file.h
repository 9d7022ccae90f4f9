/*
 * cpc/key_file.h: files that hold secrets (user identities, libp2p node
 * keys).
 *
 * Writing is atomic and never exposes the secret to other users: the data
 * goes to a new temporary file in the same directory, created with
 * O_CREAT|O_EXCL and mode 0600 (no chmod afterwards, so there is no window
 * with wider permissions), fsync'd, then renamed over the target (or linked
 * into place without replacing anything when overwriting is not allowed),
 * and the directory is fsync'd. A crash leaves either the old file or the
 * new one, never a partial one. Reading refuses files that group or others
 * may read or write, as ssh does for private keys.
 */
#ifndef CPC_KEY_FILE_H
#define CPC_KEY_FILE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest key file read. */
#define CPC_KEY_FILE_MAX (8u << 20)

/*
 * Write data[0..len) (borrowed) to path as described above. Errors:
 * CPC_EEXIST (path exists and overwrite is 0), CPC_EIO (errno tells why:
 * missing directory, permissions, disk full), CPC_EINVAL.
 */
int cpc_key_file_write(const char *path, const void *data, size_t len,
                       int overwrite);

/*
 * Read the whole file at path into a malloc'd buffer *out of *len bytes,
 * which the caller releases with cpc_secret_free(*out, *len). Errors:
 * CPC_ENOENT, CPC_EPERM (not a regular file, or its mode grants any access
 * to group or others: fix with chmod 600), CPC_ETOOBIG (over max bytes,
 * max <= CPC_KEY_FILE_MAX), CPC_EIO, CPC_ENOMEM. *mode (may be NULL) gets
 * the file's permission bits, also on CPC_EPERM, for the error message.
 */
int cpc_key_file_read(const char *path, size_t max, uint8_t **out, size_t *len,
                      unsigned *mode);

#ifdef __cplusplus
}
#endif

#endif /* CPC_KEY_FILE_H */
