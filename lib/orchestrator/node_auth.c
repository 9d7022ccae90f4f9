/*
 * node_auth.c: how the orchestrator knows who a node is (docs/node-rpc.md):
 * the signed resource commitment of Register, and the signature over every
 * call's path, time and body carried in its metadata.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "cpc/blake3.h"
#include "cpc/error.h"
#include "cpc/multiaddr.h"
#include "cpc/orchestrator/v1/node.pb-c.h"
#include "orchestrator/orchestrator_int.h"

static int fail(char *why, size_t cap, int rc, const char *msg) {
  if (why && cap)
    snprintf(why, cap, "%s", msg);
  return rc;
}

void cpc__commitment_clear(cpc__commitment *c) {
  if (!c)
    return;
  free(c->addrs_json);
  memset(c, 0, sizeof *c);
}

static int64_t abs_diff(int64_t a, int64_t b) { return a > b ? a - b : b - a; }

static int check_region(const char *r) {
  size_t i, n = strlen(r);
  if (n > CPC__MAX_REGION)
    return 0;
  for (i = 0; i < n; i++)
    if ((unsigned char)r[i] < 0x20 || (unsigned char)r[i] == 0x7f)
      return 0;
  return 1;
}

static int addrs_to_json(char **addrs, size_t n, char **out, char *why,
                         size_t cap) {
  json_t *arr = json_array();
  cpc_multiaddr ma;
  size_t i;
  int rc = 0;
  if (!arr)
    return CPC_ENOMEM;
  for (i = 0; i < n; i++) {
    size_t len = strlen(addrs[i]);
    if (len == 0 || len > 256 ||
        cpc_multiaddr_parse(&ma, addrs[i], len) != 0) {
      rc = fail(why, cap, CPC_EMALFORMED, "an addr is not a multiaddr");
      goto out;
    }
    if (json_array_append_new(arr, json_string(addrs[i])) != 0) {
      rc = CPC_EMALFORMED; /* not UTF-8: parse would have refused */
      goto out;
    }
  }
  *out = json_dumps(arr, JSON_COMPACT);
  if (!*out)
    rc = CPC_ENOMEM;
out:
  json_decref(arr);
  return rc;
}

char *cpc__orch_dial_addrs(const char *addrs_json, const char *peer_id) {
  json_t *in = json_loads(addrs_json ? addrs_json : "[]", 0, NULL);
  json_t *out = json_array(), *v;
  char *text = NULL, buf[1024];
  size_t i;
  if (!out)
    goto done;
  if (json_is_array(in)) {
    json_array_foreach(in, i, v) {
      const char *a = json_string_value(v), *p2p;
      if (!a)
        continue;
      p2p = strstr(a, "/p2p/");
      if (p2p) {
        if (strcmp(p2p + 5, peer_id) == 0)
          json_array_append_new(out, json_string(a));
      } else if ((size_t)snprintf(buf, sizeof buf, "%s/p2p/%s", a, peer_id) <
                 sizeof buf) {
        json_array_append_new(out, json_string(buf));
      }
    }
  }
  text = json_dumps(out, JSON_COMPACT);
done:
  json_decref(in);
  json_decref(out);
  return text;
}

int cpc__commitment_verify(const uint8_t *msg, size_t len, int64_t now,
                           int64_t skew_ms, cpc__commitment *out, char *why,
                           size_t cap) {
  Cpc__Orchestrator__V1__SignedCommitment *sc = NULL;
  Cpc__Orchestrator__V1__ResourceCommitment *rcm = NULL;
  uint8_t *signed_bytes = NULL;
  size_t ctx_len = strlen(CPC__COMMITMENT_CONTEXT);
  int rc;

  memset(out, 0, sizeof *out);
  if (len > CPC__MAX_COMMITMENT)
    return fail(why, cap, CPC_ETOOBIG, "commitment too large");
  sc = cpc__orchestrator__v1__signed_commitment__unpack(NULL, len, msg);
  if (!sc) {
    rc = fail(why, cap, CPC_EMALFORMED, "malformed SignedCommitment");
    goto out;
  }
  rcm = cpc__orchestrator__v1__resource_commitment__unpack(
      NULL, sc->commitment.len, sc->commitment.data);
  if (!rcm) {
    rc = fail(why, cap, CPC_EMALFORMED, "malformed ResourceCommitment");
    goto out;
  }
  rc = cpc_pubkey_decode(rcm->public_key.data, rcm->public_key.len, &out->key);
  if (rc != 0) {
    rc = fail(why, cap, CPC_EMALFORMED, "public_key is not a libp2p key");
    goto out;
  }
  if (out->key.type != CPC_KEY_ED25519) {
    rc = fail(why, cap, CPC_EUNSUPPORTED, "node keys must be Ed25519");
    goto out;
  }
  signed_bytes = malloc(ctx_len + sc->commitment.len + 1);
  if (!signed_bytes) {
    rc = CPC_ENOMEM;
    goto out;
  }
  memcpy(signed_bytes, CPC__COMMITMENT_CONTEXT, ctx_len);
  if (sc->commitment.len)
    memcpy(signed_bytes + ctx_len, sc->commitment.data, sc->commitment.len);
  if (cpc_pubkey_verify(&out->key, signed_bytes, ctx_len + sc->commitment.len,
                        sc->signature.data, sc->signature.len) != 0) {
    rc = fail(why, cap, CPC_EBADSIG,
              "commitment signature does not verify with its key");
    goto out;
  }
  if (rcm->timestamp_ms > (uint64_t)INT64_MAX ||
      abs_diff((int64_t)rcm->timestamp_ms, now) > skew_ms) {
    rc = fail(why, cap, CPC_ETIMEDOUT,
              "commitment timestamp_ms too far from the orchestrator's clock");
    goto out;
  }
  if (rcm->capacity_bytes > CPC__MAX_CAPACITY ||
      rcm->bandwidth_bps > CPC__MAX_CAPACITY) {
    rc = fail(why, cap, CPC_EMALFORMED, "capacity or bandwidth out of range");
    goto out;
  }
  if (!check_region(rcm->region)) {
    rc = fail(why, cap, CPC_EMALFORMED,
              "region over 64 bytes or with control characters");
    goto out;
  }
  if (rcm->n_addrs > CPC__MAX_ADDRS) {
    rc = fail(why, cap, CPC_ETOOBIG, "more than 16 addrs");
    goto out;
  }
  rc = addrs_to_json(rcm->addrs, rcm->n_addrs, &out->addrs_json, why, cap);
  if (rc != 0)
    goto out;
  rc = cpc_peer_id_from_pubkey(&out->key, &out->id);
  if (rc == 0)
    rc = cpc_peer_id_format(&out->id, out->peer_id, sizeof out->peer_id);
  if (rc == 0)
    rc = cpc_pubkey_encode(&out->key, out->key_pb, sizeof out->key_pb,
                           &out->key_pb_len);
  if (rc != 0)
    goto out;
  out->capacity_bytes = rcm->capacity_bytes;
  out->bandwidth_bps = rcm->bandwidth_bps;
  out->timestamp_ms = rcm->timestamp_ms;
  snprintf(out->region, sizeof out->region, "%s", rcm->region);
out:
  free(signed_bytes);
  if (rcm)
    cpc__orchestrator__v1__resource_commitment__free_unpacked(rcm, NULL);
  if (sc)
    cpc__orchestrator__v1__signed_commitment__free_unpacked(sc, NULL);
  if (rc != 0)
    cpc__commitment_clear(out);
  return rc;
}

static int parse_ms(const char *s, int64_t *out) {
  char *end;
  long long v;
  size_t n = strlen(s);
  if (n == 0 || n > 19 || s[0] < '0' || s[0] > '9')
    return CPC_EMALFORMED;
  errno = 0;
  v = strtoll(s, &end, 10);
  if (errno || *end || v < 0)
    return CPC_EMALFORMED;
  *out = (int64_t)v;
  return 0;
}

int cpc__rpc_auth_check(const char *path, const char *node_id, const char *ts,
                        const char *sig_hex, const uint8_t *body,
                        size_t body_len, int64_t now, int64_t skew_ms,
                        cpc_peer_id *id, cpc_pubkey *pk, char *why,
                        size_t cap) {
  uint8_t digest[CPC_BLAKE3_OUT_LEN];
  char digest_hex[2 * CPC_BLAKE3_OUT_LEN + 1];
  uint8_t sig[CPC_ED25519_SIG_LEN];
  size_t sig_len = 0;
  const char *hex_end = NULL;
  char *msg = NULL;
  size_t msg_cap;
  int64_t t;
  int rc, n;

  if (!node_id || !ts || !sig_hex)
    return fail(why, cap, CPC_EMALFORMED,
                "missing x-cpc-node-id, x-cpc-timestamp or x-cpc-signature");
  if (cpc_peer_id_parse(node_id, id) != 0)
    return fail(why, cap, CPC_EMALFORMED, "x-cpc-node-id is not a PeerId");
  rc = cpc_peer_id_pubkey(id, pk);
  if (rc != 0 || pk->type != CPC_KEY_ED25519)
    return fail(why, cap, CPC_EUNSUPPORTED,
                "x-cpc-node-id must be an Ed25519 PeerId (12D3KooW...)");
  if (parse_ms(ts, &t) != 0)
    return fail(why, cap, CPC_EMALFORMED,
                "x-cpc-timestamp must be decimal Unix milliseconds");
  if (abs_diff(t, now) > skew_ms)
    return fail(why, cap, CPC_ETIMEDOUT,
                "x-cpc-timestamp too far from the orchestrator's clock");
  if (strlen(sig_hex) != 2 * CPC_ED25519_SIG_LEN ||
      sodium_hex2bin(sig, sizeof sig, sig_hex, strlen(sig_hex), NULL,
                     &sig_len, &hex_end) != 0 ||
      sig_len != sizeof sig)
    return fail(why, cap, CPC_EMALFORMED,
                "x-cpc-signature must be 128 hex digits");
  cpc_blake3(body, body_len, digest);
  sodium_bin2hex(digest_hex, sizeof digest_hex, digest, sizeof digest);
  msg_cap = strlen(CPC__RPC_SIG_CONTEXT) + strlen(path) + strlen(ts) +
            sizeof digest_hex + 4;
  msg = malloc(msg_cap);
  if (!msg)
    return CPC_ENOMEM;
  n = snprintf(msg, msg_cap, "%s%s\n%s\n%s", CPC__RPC_SIG_CONTEXT, path, ts,
               digest_hex);
  if (n < 0 || (size_t)n >= msg_cap) {
    rc = CPC_EINVAL;
    goto out;
  }
  rc = cpc_pubkey_verify(pk, msg, (size_t)n, sig, sig_len);
  if (rc != 0)
    rc = fail(why, cap, CPC_EBADSIG,
              "x-cpc-signature does not verify with the key of x-cpc-node-id");
out:
  free(msg);
  return rc;
}
