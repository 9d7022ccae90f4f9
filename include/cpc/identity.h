/*
 * cpc/identity.h: the user identity of DESIGN.md section 4 and its
 * encodings.
 *
 * A user is known by the PeerId of a secp256k1 signing key ("16Uiu2…").
 * Content keys are wrapped to the user's X25519 encryption key, which is
 * bound to the PeerId by a secp256k1 signature (libp2p secp256k1 signing:
 * ECDSA over SHA-256, DER) over the binding message
 *
 *     "cpc-identity-x25519:" (20 ASCII bytes, no NUL) || X25519 public key
 *
 * so anyone holding the public identity can check that the encryption key
 * belongs to the PeerId. The social graph is the set of PeerIds the user
 * follows.
 *
 * Encodings:
 *  - protobuf (proto/cpc/models/v1/identity.proto): UserIdentityPublic for
 *    the orchestrator, UserIdentityPrivate for the key file.
 *  - JSON (public form only):
 *      { "peer_id": "16Uiu2…",                  PeerId, base58btc text
 *        "signing_public_key": "CAISIQ…",      libp2p PublicKey protobuf
 *        "encryption_public_key": "…",         X25519 key, 32 bytes
 *        "binding_signature": "MEQCI…",        DER signature
 *        "following": ["16Uiu2…", "12D3KooW…"] optional, PeerId texts }
 *    Binary fields are standard base64 with padding (RFC 4648 section 4,
 *    libsodium's sodium_base64_VARIANT_ORIGINAL). Unknown fields, missing
 *    required fields and fields of the wrong type are refused with a
 *    message naming the field.
 */
#ifndef CPC_IDENTITY_H
#define CPC_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#include "cpc/keys.h"
#include "cpc/peer_id.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CPC_IDENTITY_BINDING_CONTEXT "cpc-identity-x25519:"
#define CPC_IDENTITY_BINDING_CONTEXT_LEN 20
#define CPC_IDENTITY_BINDING_MSG_LEN                                           \
  (CPC_IDENTITY_BINDING_CONTEXT_LEN + CPC_X25519_KEY_LEN)

/* Most PeerIds one user may follow. */
#define CPC_SOCIAL_GRAPH_MAX 100000
/* Longest protobuf or JSON encoding of an identity we agree to parse. */
#define CPC_IDENTITY_PROTO_MAX (8u << 20)
#define CPC_IDENTITY_JSON_MAX (16u << 20)

/*
 * The set of followed PeerIds: a sorted array without duplicates, owned by
 * the struct (free with cpc_social_graph_free()). Zero-initialised is a
 * valid empty graph.
 */
typedef struct cpc_social_graph {
  cpc_peer_id *ids; /* ascending by cpc_peer_id_compare() */
  size_t len;
  size_t cap;
} cpc_social_graph;

/* Empty the graph and free its memory; g may be reused afterwards. */
void cpc_social_graph_free(cpc_social_graph *g);

/*
 * Follow id (copied). Errors: CPC_EEXIST (already followed; not an error to
 * most callers), CPC_ETOOBIG (CPC_SOCIAL_GRAPH_MAX reached), CPC_ENOMEM,
 * CPC_EINVAL (an empty id). The graph is unchanged on error.
 */
int cpc_social_graph_add(cpc_social_graph *g, const cpc_peer_id *id);

/* Unfollow id. CPC_ENOENT if it was not followed. */
int cpc_social_graph_remove(cpc_social_graph *g, const cpc_peer_id *id);

/* 1 if id is followed, else 0. O(log n). */
int cpc_social_graph_contains(const cpc_social_graph *g, const cpc_peer_id *id);

/* Number of followed PeerIds. */
size_t cpc_social_graph_count(const cpc_social_graph *g);

/* The i-th followed PeerId in sorted order (borrowed), NULL past the end. */
const cpc_peer_id *cpc_social_graph_at(const cpc_social_graph *g, size_t i);

/*
 * A user identity. Public fields are always set; the secret ones only when
 * has_secrets is 1 (an identity from a key file rather than from the
 * orchestrator). Initialise with cpc_user_identity_init(), release with
 * cpc_user_identity_free(), which wipes the secrets.
 */
typedef struct cpc_user_identity {
  cpc_peer_id peer_id;
  cpc_pubkey signing_public; /* secp256k1 */
  uint8_t encryption_public[CPC_X25519_KEY_LEN];
  uint8_t binding_sig[CPC_SIG_MAX_LEN];
  size_t binding_sig_len;
  cpc_social_graph social_graph;

  int has_secrets;
  cpc_privkey signing_key;           /* secret */
  cpc_x25519_keypair encryption_key; /* secret */
} cpc_user_identity;

/* Zero id (an empty public identity). Never fails. */
void cpc_user_identity_init(cpc_user_identity *id);

/* Wipe the secrets, free the social graph, leave id as after init. */
void cpc_user_identity_free(cpc_user_identity *id);

/*
 * Create a new identity in id (which must be initialised; its old contents
 * are freed): fresh secp256k1 and X25519 keys, the binding signature, an
 * empty social graph. Errors: CPC_ECRYPTO.
 */
int cpc_user_identity_generate(cpc_user_identity *id);

/*
 * Write the binding message for x25519_pub into out (borrowed arrays).
 */
void cpc_user_identity_binding_message(
    const uint8_t x25519_pub[CPC_X25519_KEY_LEN],
    uint8_t out[CPC_IDENTITY_BINDING_MSG_LEN]);

/*
 * Check an identity: the signing key is secp256k1 (else CPC_EUNSUPPORTED),
 * the PeerId is that key's (else CPC_EMISMATCH), the binding signature
 * verifies with the key inlined in the PeerId (else CPC_EBADSIG), and when
 * has_secrets, the secret keys match the public ones (else CPC_EMISMATCH).
 */
int cpc_user_identity_verify(const cpc_user_identity *id);

/*
 * Deep copy of the public parts of src into dst (initialised; old contents
 * freed). dst->has_secrets is 0. CPC_ENOMEM.
 */
int cpc_user_identity_copy_public(cpc_user_identity *dst,
                                  const cpc_user_identity *src);

/* --- protobuf (lib/models/identity_proto.c) ----------------------------- */

/*
 * Encode the public form. *out is malloc'd (free() it), *len its length.
 * Errors: CPC_ENOMEM, CPC_EINVAL (id incomplete).
 */
int cpc_user_identity_encode_public(const cpc_user_identity *id, uint8_t **out,
                                    size_t *len);

/*
 * Decode the public form into id (initialised; replaced only on success).
 * Checks field lengths, that peer_id is the signing key's PeerId, that
 * every followed PeerId is valid and none repeats. It does not check the
 * binding signature: call cpc_user_identity_verify() for that.
 * Errors: CPC_ETOOBIG (over CPC_IDENTITY_PROTO_MAX or too many follows),
 * CPC_EMALFORMED, CPC_EUNSUPPORTED (signing key not secp256k1),
 * CPC_EMISMATCH, CPC_ENOMEM.
 */
int cpc_user_identity_decode_public(const uint8_t *in, size_t len,
                                    cpc_user_identity *id);

/*
 * Encode the private form (key file contents). *out is secret: release it
 * with cpc_secret_free(*out, *len). Errors: CPC_EINVAL (id has no secrets
 * or no binding signature), CPC_ENOMEM.
 */
int cpc_user_identity_encode_private(const cpc_user_identity *id, uint8_t **out,
                                     size_t *len);

/*
 * Decode the private form; derives the public keys and PeerId and checks
 * the binding signature. Errors as for decode_public, plus CPC_EBADSIG.
 * Intermediate copies of secrets are wiped.
 */
int cpc_user_identity_decode_private(const uint8_t *in, size_t len,
                                     cpc_user_identity *id);

/* --- JSON (lib/models/identity_json.c) ---------------------------------- */

/*
 * The public form as JSON text (see the top of this file), NUL-terminated
 * and malloc'd into *out (free() it). Keys in a fixed order, indented by
 * two spaces when pretty is 1, compact otherwise. CPC_ENOMEM, CPC_EINVAL.
 */
int cpc_user_identity_to_json(const cpc_user_identity *id, int pretty,
                              char **out);

/*
 * Parse the JSON public form from text[0..len) into id (initialised;
 * replaced only on success). On error, err (may be NULL; err_cap bytes)
 * gets a message naming the offending field. Same checks and errors as
 * cpc_user_identity_decode_public(); CPC_EMALFORMED for bad JSON, unknown
 * fields, wrong types or bad base64; CPC_ETOOBIG over CPC_IDENTITY_JSON_MAX.
 */
int cpc_user_identity_from_json(const char *text, size_t len,
                                cpc_user_identity *id, char *err,
                                size_t err_cap);

/* --- key file (lib/models/identity_file.c) ------------------------------ */

/*
 * Write the private form to path through cpc_key_file_write(): mode 0600,
 * atomic; the encoded secret is wiped afterwards. CPC_EEXIST if path exists
 * and overwrite is 0; CPC_EINVAL without secrets or path; CPC_EIO (errno
 * set); CPC_ENOMEM.
 */
int cpc_user_identity_save(const cpc_user_identity *id, const char *path,
                           int overwrite);

/*
 * Load a key file written by cpc_user_identity_save() into id
 * (initialised; replaced only on success). Errors: those of
 * cpc_key_file_read() (CPC_ENOENT, CPC_EPERM for a file others may read,
 * CPC_ETOOBIG, CPC_EIO) and of cpc_user_identity_decode_private().
 */
int cpc_user_identity_load(const char *path, cpc_user_identity *id);

/*
 * The default key file path, $CPC_HOME/identity, else $HOME/.cpc/identity,
 * into out (cap bytes). CPC_ENOENT if neither variable is set, CPC_ETOOBIG.
 */
int cpc_user_identity_default_path(char *out, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* CPC_IDENTITY_H */
