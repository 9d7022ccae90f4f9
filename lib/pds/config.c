/*
 * config.c: the PDS configuration (cpc_pds_config): defaults, the JSON
 * file with the seed's PdsConfig keys, sizes with units.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cpc/error.h"
#include "cpc/multiaddr.h"
#include "cpc/pds.h"

void cpc_pds_config_default(cpc_pds_config *c) {
  const char *home = getenv("CPC_HOME");
  memset(c, 0, sizeof *c);
  c->cache_eviction = CPC_PDS_EVICT_LRU;
  c->encryption = CPC_PDS_CIPHER_CHACHA20_POLY1305;
  snprintf(c->listen[0], sizeof c->listen[0], "%s", CPC_PDS_DEFAULT_LISTEN);
  c->n_listen = 1;
  if (home && *home && strlen(home) + 5 < sizeof c->data_dir)
    snprintf(c->data_dir, sizeof c->data_dir, "%s/pds", home);
  else
    snprintf(c->data_dir, sizeof c->data_dir, "./cpc-pds-data");
  snprintf(c->orchestrator, sizeof c->orchestrator, "%s",
           CPC_PDS_DEFAULT_ORCHESTRATOR);
  snprintf(c->api, sizeof c->api, "%s", CPC_PDS_DEFAULT_API);
  c->sync_interval_ms = 2000;
  c->fetch_timeout_ms = 60000;
}

int cpc_pds_parse_size(const char *text, uint64_t *out) {
  uint64_t v = 0, mul = 1;
  const char *s = text;
  char unit[4] = {0};
  size_t n = 0;

  if (!text || !isdigit((unsigned char)*s))
    return CPC_EMALFORMED;
  for (; isdigit((unsigned char)*s); s++) {
    if (v > (UINT64_MAX - 9) / 10)
      return CPC_ETOOBIG;
    v = v * 10 + (uint64_t)(*s - '0');
  }
  while (*s == ' ')
    s++;
  for (; *s && n < 3; s++)
    unit[n++] = (char)toupper((unsigned char)*s);
  if (*s)
    return CPC_EMALFORMED;
  if (n > 0) {
    static const char letters[] = "KMGT";
    const char *l = strchr(letters, unit[0]);
    uint64_t base;
    int i, e;
    if (strcmp(unit, "B") == 0)
      goto done;
    if (!l || unit[0] == '\0')
      return CPC_EMALFORMED;
    if (unit[1] == '\0' || strcmp(unit + 1, "IB") == 0)
      base = 1024;
    else if (strcmp(unit + 1, "B") == 0)
      base = 1000;
    else
      return CPC_EMALFORMED;
    e = (int)(l - letters) + 1;
    for (i = 0; i < e; i++)
      mul *= base;
  }
done:
  if (v > (UINT64_MAX >> 1) / mul)
    return CPC_ETOOBIG;
  *out = v * mul;
  return 0;
}

static int fail(char *err, size_t cap, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t cap, int rc, const char *fmt, ...) {
  va_list ap;
  if (err && cap) {
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
  }
  return rc;
}

static int size_value(json_t *v, const char *key, uint64_t *out, char *err,
                      size_t cap) {
  if (json_is_integer(v) && json_integer_value(v) >= 0) {
    *out = (uint64_t)json_integer_value(v);
    return 0;
  }
  if (json_is_string(v) && cpc_pds_parse_size(json_string_value(v), out) == 0)
    return 0;
  return fail(err, cap, CPC_EMALFORMED,
              "%s: must be a number of bytes >= 0 or a size such as "
              "\"512MiB\"",
              key);
}

static int string_value(json_t *v, const char *key, char *dst, size_t dcap,
                        char *err, size_t cap) {
  if (!json_is_string(v) || json_string_length(v) == 0)
    return fail(err, cap, CPC_EMALFORMED, "%s: must be a non-empty string",
                key);
  if (json_string_length(v) >= dcap)
    return fail(err, cap, CPC_ETOOBIG, "%s: longer than %zu bytes", key,
                dcap - 1);
  memcpy(dst, json_string_value(v), json_string_length(v) + 1);
  return 0;
}

static int addr_list(json_t *v, const char *key, int need_p2p,
                     char out[][CPC_PDS_MAX_ADDR_TEXT], size_t *n, char *err,
                     size_t cap) {
  size_t i;
  json_t *a;
  if (!json_is_array(v))
    return fail(err, cap, CPC_EMALFORMED, "%s: must be an array of multiaddrs",
                key);
  if (json_array_size(v) > CPC_PDS_MAX_ADDRS)
    return fail(err, cap, CPC_ETOOBIG, "%s: at most %d addresses", key,
                CPC_PDS_MAX_ADDRS);
  json_array_foreach(v, i, a) {
    cpc_multiaddr ma;
    uint8_t pid[CPC_MULTIADDR_MAX_BYTES];
    size_t pl;
    const char *s = json_string_value(a);
    if (!s || json_string_length(a) >= CPC_PDS_MAX_ADDR_TEXT ||
        cpc_multiaddr_parse(&ma, s, strlen(s)) != 0)
      return fail(err, cap, CPC_EMALFORMED, "%s[%zu]: not a multiaddr", key,
                  i);
    if (need_p2p && cpc_multiaddr_peer_id(&ma, pid, sizeof pid, &pl) != 0)
      return fail(err, cap, CPC_EMALFORMED,
                  "%s[%zu]: must end in /p2p/<PeerId>", key, i);
    snprintf(out[i], CPC_PDS_MAX_ADDR_TEXT, "%s", s);
  }
  *n = json_array_size(v);
  return 0;
}

static int network(cpc_pds_config *c, json_t *v, char *err, size_t cap) {
  const char *key;
  json_t *x;
  int rc;
  if (!json_is_object(v))
    return fail(err, cap, CPC_EMALFORMED,
                "network: must be an object {listen, bootstrap}");
  json_object_foreach(v, key, x) {
    if (strcmp(key, "listen") == 0) {
      rc = addr_list(x, "network.listen", 0, c->listen, &c->n_listen, err,
                     cap);
      if (rc == 0 && c->n_listen == 0)
        rc = fail(err, cap, CPC_EMALFORMED,
                  "network.listen: give at least one address");
    } else if (strcmp(key, "bootstrap") == 0) {
      rc = addr_list(x, "network.bootstrap", 1, c->bootstrap, &c->n_bootstrap,
                     err, cap);
    } else {
      rc = fail(err, cap, CPC_EMALFORMED,
                "network.%s: unknown key (listen, bootstrap)", key);
    }
    if (rc != 0)
      return rc;
  }
  return 0;
}

static int ms_value(json_t *v, const char *key, uint32_t *out, char *err,
                    size_t cap) {
  if (!json_is_integer(v) || json_integer_value(v) < 10 ||
      json_integer_value(v) > 86400000)
    return fail(err, cap, CPC_EMALFORMED,
                "%s: must be milliseconds from 10 to 86400000", key);
  *out = (uint32_t)json_integer_value(v);
  return 0;
}

int cpc_pds_config_parse(cpc_pds_config *c, const char *text, size_t len,
                         char *err, size_t cap) {
  json_error_t je;
  json_t *j, *v;
  const char *key;
  int rc = 0;

  if (len > CPC_PDS_CONFIG_MAX)
    return fail(err, cap, CPC_ETOOBIG, "config: larger than %u bytes",
                CPC_PDS_CONFIG_MAX);
  j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  if (!j)
    return fail(err, cap, CPC_EMALFORMED, "config: line %d column %d: %s",
                je.line, je.column, je.text);
  if (!json_is_object(j)) {
    json_decref(j);
    return fail(err, cap, CPC_EMALFORMED, "config: must be a JSON object");
  }
  json_object_foreach(j, key, v) {
    if (strcmp(key, "storage_limit") == 0)
      rc = size_value(v, key, &c->storage_limit, err, cap);
    else if (strcmp(key, "bandwidth_limit") == 0)
      rc = size_value(v, key, &c->bandwidth_limit, err, cap);
    else if (strcmp(key, "cache_eviction") == 0) {
      if (!json_is_string(v) || strcmp(json_string_value(v), "lru") != 0)
        rc = fail(err, cap, CPC_EMALFORMED,
                  "cache_eviction: must be \"lru\" (the only policy)");
    } else if (strcmp(key, "encryption") == 0) {
      if (!json_is_string(v) ||
          strcmp(json_string_value(v), "chacha20-poly1305") != 0)
        rc = fail(err, cap, CPC_EMALFORMED,
                  "encryption: must be \"chacha20-poly1305\" (the only "
                  "cipher)");
    } else if (strcmp(key, "network") == 0)
      rc = network(c, v, err, cap);
    else if (strcmp(key, "data") == 0)
      rc = string_value(v, key, c->data_dir, sizeof c->data_dir, err, cap);
    else if (strcmp(key, "orchestrator") == 0) {
      rc = string_value(v, key, c->orchestrator, sizeof c->orchestrator, err,
                        cap);
      if (rc == 0 && strncmp(c->orchestrator, "http://", 7) != 0 &&
          strncmp(c->orchestrator, "https://", 8) != 0)
        rc = fail(err, cap, CPC_EMALFORMED,
                  "orchestrator: must be an http:// or https:// URL");
    } else if (strcmp(key, "api") == 0)
      rc = string_value(v, key, c->api, sizeof c->api, err, cap);
    else if (strcmp(key, "sync_interval_ms") == 0)
      rc = ms_value(v, key, &c->sync_interval_ms, err, cap);
    else if (strcmp(key, "fetch_timeout_ms") == 0)
      rc = ms_value(v, key, &c->fetch_timeout_ms, err, cap);
    else
      rc = fail(err, cap, CPC_EMALFORMED,
                "%s: unknown key (storage_limit, bandwidth_limit, "
                "cache_eviction, network, encryption, data, orchestrator, "
                "api, sync_interval_ms, fetch_timeout_ms)",
                key);
    if (rc != 0)
      break;
  }
  json_decref(j);
  return rc;
}

int cpc_pds_config_load(cpc_pds_config *c, const char *path, char *err,
                        size_t cap) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  size_t n;
  int rc;

  if (!f)
    return fail(err, cap, errno == ENOENT ? CPC_ENOENT : CPC_EIO,
                "config: cannot open %s: %s", path, strerror(errno));
  buf = malloc(CPC_PDS_CONFIG_MAX + 1);
  if (!buf) {
    fclose(f);
    return CPC_ENOMEM;
  }
  n = fread(buf, 1, CPC_PDS_CONFIG_MAX + 1, f);
  if (ferror(f))
    rc = fail(err, cap, CPC_EIO, "config: cannot read %s", path);
  else
    rc = cpc_pds_config_parse(c, buf, n, err, cap);
  fclose(f);
  free(buf);
  return rc;
}
