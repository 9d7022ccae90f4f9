/*
 * cpc/error.h: the one error currency of libcpc.
 *
 * Every libcpc function that can fail returns int: 0 on success or one of
 * the negative CPC_E* codes below. Results come back through out-parameters.
 * cpc_strerror() turns a code into a short, stable English message.
 */
#ifndef CPC_ERROR_H
#define CPC_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum cpc_error {
  CPC_OK = 0,
  CPC_EINVAL = -1,     /* an argument is out of its documented range */
  CPC_ENOMEM = -2,     /* an allocation failed */
  CPC_EIO = -3,        /* a read, write or fsync failed (errno has more) */
  CPC_ENOENT = -4,     /* no such file, key or record */
  CPC_EEXIST = -5,     /* already exists */
  CPC_ETRUNC = -6,     /* input ended before a complete value */
  CPC_ETOOBIG = -7,    /* a length exceeds its cap */
  CPC_EMALFORMED = -8, /* input is syntactically wrong */
  CPC_EUNSUPPORTED = -9, /* a well-formed value this code does not handle */
  CPC_EBADSIG = -10,   /* a signature does not verify */
  CPC_EAUTH = -11,     /* authenticated decryption failed (tampered or wrong key) */
  CPC_EMISMATCH = -12, /* bytes do not match the hash or id they claim */
  CPC_ECRYPTO = -13,   /* a crypto library call failed unexpectedly */
  CPC_ENOSPC = -14,    /* a quota or the disk is full */
  CPC_EPERM = -15,     /* refused: the caller may not do this */
  CPC_EAGAIN = -16,    /* try again later */
  CPC_ETIMEDOUT = -17, /* the operation did not finish in time */
  CPC_ECLOSED = -18,   /* the peer or stream is closed */
  CPC_EPROTO = -19,    /* the peer broke the protocol */
  CPC_ESTATE = -20,    /* called in the wrong state */
};

/*
 * cpc_strerror: a static message for rc (never NULL, never to be freed).
 * Unknown codes give "unknown error".
 */
const char *cpc_strerror(int rc);

#ifdef __cplusplus
}
#endif

#endif /* CPC_ERROR_H */
