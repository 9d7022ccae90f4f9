/*
 * node_config.c: cpc-node's configuration file (DIR/node.json) and
 * `cpc-node init` (key + config).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <sodium.h>

#include "cpc/error.h"
#include "cpc/key_file.h"
#include "cpc/keys.h"
#include "cpc/multiaddr.h"
#include "cpc/node.h"
#include "cpc/peer_id.h"
#include "node/node_int.h"

#define MAX_FILE (64u * 1024u)

void cpc_node_config_default(cpc_node_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  snprintf(cfg->region, sizeof cfg->region, "default");
  snprintf(cfg->listen[0], sizeof cfg->listen[0], "/ip4/0.0.0.0/tcp/4001");
  cfg->n_listen = 1;
  cfg->scrub_interval_ms = 3600000;
  cfg->metrics_interval_ms = 10000;
  cfg->reconnect_min_ms = 500;
  cfg->reconnect_max_ms = 30000;
  cfg->fetch_timeout_ms = 60000;
  cfg->max_fetches = 8;
  cfg->fetch_batch = 32;
  cfg->max_connections = 1024;
  cfg->max_streams_per_conn = 1024;
}

static int fail(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t cap, const char *fmt, ...) {
  va_list ap;
  if (err && cap) {
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
  }
  return CPC_EINVAL;
}

int cpc__node_parse_hostport(const char *text, char *host, size_t cap,
                             uint16_t *port) {
  const char *colon;
  size_t hl;
  char *end;
  unsigned long p;
  if (!text || !*text)
    return CPC_EINVAL;
  if (text[0] == '[') {
    const char *rb = strchr(text, ']');
    if (!rb || rb[1] != ':')
      return CPC_EINVAL;
    hl = (size_t)(rb - text - 1);
    text++;
    colon = rb + 1;
  } else {
    colon = strrchr(text, ':');
    if (!colon)
      return CPC_EINVAL;
    hl = (size_t)(colon - text);
  }
  if (hl == 0 || hl >= cap)
    return CPC_EINVAL;
  errno = 0;
  p = strtoul(colon + 1, &end, 10);
  if (errno || *end || end == colon + 1 || p > 65535)
    return CPC_EINVAL;
  memcpy(host, text, hl);
  host[hl] = '\0';
  {
    unsigned char buf[16];
    if (uv_inet_pton(AF_INET, host, buf) != 0 &&
        uv_inet_pton(AF_INET6, host, buf) != 0)
      return CPC_EINVAL;
  }
  *port = (uint16_t)p;
  return 0;
}

static int check_ma(const char *text) {
  cpc_multiaddr ma;
  return cpc_multiaddr_parse(&ma, text, strlen(text));
}

int cpc_node_config_check(const cpc_node_config *cfg, char *err, size_t cap) {
  char host[CPC_NODE_MAX_ADDR];
  uint16_t port;
  size_t i;
  if (!cfg)
    return fail(err, cap, "no configuration");
  if (cfg->capacity == 0)
    return fail(err, cap, "capacity: must be more than 0 bytes");
  if (cfg->region[0] == '\0' || strlen(cfg->region) > CPC_NODE_MAX_REGION)
    return fail(err, cap, "region: 1 to %d characters", CPC_NODE_MAX_REGION);
  for (i = 0; cfg->region[i]; i++)
    if ((unsigned char)cfg->region[i] < 0x20 || cfg->region[i] == 0x7f)
      return fail(err, cap, "region: no control characters");
  if (cfg->n_listen == 0 || cfg->n_listen > CPC_NODE_MAX_LISTEN)
    return fail(err, cap, "listen: 1 to %d multiaddrs", CPC_NODE_MAX_LISTEN);
  for (i = 0; i < cfg->n_listen; i++)
    if (check_ma(cfg->listen[i]) != 0)
      return fail(err, cap, "listen: '%s' is not a multiaddr (e.g. "
                            "/ip4/0.0.0.0/tcp/4001)", cfg->listen[i]);
  if (cfg->n_bootstrap > CPC_NODE_MAX_BOOTSTRAP)
    return fail(err, cap, "bootstrap: at most %d", CPC_NODE_MAX_BOOTSTRAP);
  for (i = 0; i < cfg->n_bootstrap; i++)
    if (check_ma(cfg->bootstrap[i]) != 0 || !strstr(cfg->bootstrap[i], "/p2p/"))
      return fail(err, cap, "bootstrap: '%s' is not a multiaddr ending in "
                            "/p2p/<PeerId>", cfg->bootstrap[i]);
  if (cfg->metrics[0] &&
      cpc__node_parse_hostport(cfg->metrics, host, sizeof host, &port) != 0)
    return fail(err, cap, "metrics: '%s' is not ADDR:PORT (e.g. "
                          "127.0.0.1:7720)", cfg->metrics);
  if (cfg->orchestrator[0] &&
      cpc__node_parse_hostport(cfg->orchestrator, host, sizeof host, &port) !=
          0)
    return fail(err, cap, "orchestrator: '%s' is not ADDR:PORT with an IP "
                          "address (e.g. 127.0.0.1:7701)", cfg->orchestrator);
  if (cfg->scrub_interval_ms < 100 || cfg->scrub_interval_ms > 604800000ull)
    return fail(err, cap, "scrub_interval_ms: 100 to 604800000");
  if (cfg->metrics_interval_ms < 100 || cfg->metrics_interval_ms > 3600000ull)
    return fail(err, cap, "metrics_interval_ms: 100 to 3600000");
  if (cfg->reconnect_min_ms < 10 || cfg->reconnect_max_ms < cfg->reconnect_min_ms ||
      cfg->reconnect_max_ms > 3600000ull)
    return fail(err, cap, "reconnect_min_ms/reconnect_max_ms: 10 <= min <= "
                          "max <= 3600000");
  if (cfg->fetch_timeout_ms < 100 || cfg->fetch_timeout_ms > 3600000ull)
    return fail(err, cap, "fetch_timeout_ms: 100 to 3600000");
  if (cfg->max_fetches < 1 || cfg->max_fetches > 256)
    return fail(err, cap, "max_fetches: 1 to 256");
  if (cfg->fetch_batch < 1 || cfg->fetch_batch > 256)
    return fail(err, cap, "fetch_batch: 1 to 256");
  if (cfg->max_connections < 8 || cfg->max_connections > 65536)
    return fail(err, cap, "max_connections: 8 to 65536");
  if (cfg->max_streams_per_conn < 8 || cfg->max_streams_per_conn > 65536)
    return fail(err, cap, "max_streams_per_conn: 8 to 65536");
  return 0;
}

/* mkdir -p dir, mode 0700 for what it creates. 0 or -1 (errno). */
int cpc__node_mkdir(const char *dir) {
  char p[4096];
  size_t i, l = strlen(dir);
  if (l == 0 || l >= sizeof p) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(p, dir, l + 1);
  for (i = 1; i <= l; i++) {
    if (p[i] == '/' || p[i] == '\0') {
      char c = p[i];
      p[i] = '\0';
      if (mkdir(p, 0700) != 0 && errno != EEXIST)
        return -1;
      p[i] = c;
    }
  }
  return 0;
}

/* ---- JSON ------------------------------------------------------------------- */

static int get_u64(json_t *v, const char *key, uint64_t lo, uint64_t hi,
                   uint64_t *out, char *err, size_t cap) {
  if (!json_is_integer(v) || json_integer_value(v) < 0 ||
      (uint64_t)json_integer_value(v) < lo ||
      (uint64_t)json_integer_value(v) > hi)
    return fail(err, cap, "%s: must be an integer from %llu to %llu", key,
                (unsigned long long)lo, (unsigned long long)hi);
  *out = (uint64_t)json_integer_value(v);
  return 0;
}

static int get_str(json_t *v, const char *key, char *out, size_t size,
                   char *err, size_t cap) {
  if (!json_is_string(v) || json_string_length(v) >= size)
    return fail(err, cap, "%s: must be a string of at most %zu bytes", key,
                size - 1);
  snprintf(out, size, "%s", json_string_value(v));
  return 0;
}

static int get_list(json_t *v, const char *key, char (*out)[CPC_NODE_MAX_ADDR],
                    size_t max, size_t *n, char *err, size_t cap) {
  size_t i;
  json_t *e;
  if (!json_is_array(v) || json_array_size(v) > max)
    return fail(err, cap, "%s: must be an array of at most %zu strings", key,
                max);
  json_array_foreach(v, i, e) {
    if (get_str(e, key, out[i], CPC_NODE_MAX_ADDR, err, cap) != 0)
      return CPC_EINVAL;
  }
  *n = json_array_size(v);
  return 0;
}

/* capacity / bandwidth: an integer or a human string. */
static int get_amount(json_t *v, const char *key, int rate, uint64_t *out,
                      char *err, size_t cap) {
  int rc;
  if (json_is_integer(v))
    return get_u64(v, key, 0, (uint64_t)1 << 62, out, err, cap);
  if (!json_is_string(v))
    return fail(err, cap, "%s: must be a number of bytes or a string like "
                          "\"%s\"", key, rate ? "100Mbit" : "500G");
  rc = rate ? cpc_node_parse_rate(json_string_value(v), out)
            : cpc_node_parse_size(json_string_value(v), out);
  if (rc != 0)
    return fail(err, cap, "%s: '%s' is not a %s (e.g. %s)", key,
                json_string_value(v), rate ? "rate" : "size",
                rate ? "100Mbit, 10MB/s" : "500G, 1.5T, 100M");
  return 0;
}

static int apply(cpc_node_config *c, json_t *root, char *err, size_t cap) {
  const char *key;
  json_t *v;
  int rc = 0;
  uint64_t u = 0;
  json_object_foreach(root, key, v) {
    if (strcmp(key, "capacity") == 0)
      rc = get_amount(v, key, 0, &c->capacity, err, cap);
    else if (strcmp(key, "bandwidth") == 0)
      rc = get_amount(v, key, 1, &c->bandwidth, err, cap);
    else if (strcmp(key, "region") == 0)
      rc = get_str(v, key, c->region, sizeof c->region, err, cap);
    else if (strcmp(key, "listen") == 0)
      rc = get_list(v, key, c->listen, CPC_NODE_MAX_LISTEN, &c->n_listen, err,
                    cap);
    else if (strcmp(key, "bootstrap") == 0)
      rc = get_list(v, key, c->bootstrap, CPC_NODE_MAX_BOOTSTRAP,
                    &c->n_bootstrap, err, cap);
    else if (strcmp(key, "metrics") == 0)
      rc = get_str(v, key, c->metrics, sizeof c->metrics, err, cap);
    else if (strcmp(key, "orchestrator") == 0)
      rc = get_str(v, key, c->orchestrator, sizeof c->orchestrator, err, cap);
    else if (strcmp(key, "scrub_interval_ms") == 0)
      rc = get_u64(v, key, 0, UINT32_MAX * 1000ull, &c->scrub_interval_ms, err,
                   cap);
    else if (strcmp(key, "metrics_interval_ms") == 0)
      rc = get_u64(v, key, 0, UINT32_MAX, &c->metrics_interval_ms, err, cap);
    else if (strcmp(key, "reconnect_min_ms") == 0)
      rc = get_u64(v, key, 0, UINT32_MAX, &c->reconnect_min_ms, err, cap);
    else if (strcmp(key, "reconnect_max_ms") == 0)
      rc = get_u64(v, key, 0, UINT32_MAX, &c->reconnect_max_ms, err, cap);
    else if (strcmp(key, "fetch_timeout_ms") == 0)
      rc = get_u64(v, key, 0, UINT32_MAX, &c->fetch_timeout_ms, err, cap);
    else if (strcmp(key, "max_fetches") == 0) {
      rc = get_u64(v, key, 1, 256, &u, err, cap);
      c->max_fetches = (uint32_t)u;
    } else if (strcmp(key, "fetch_batch") == 0) {
      rc = get_u64(v, key, 1, 256, &u, err, cap);
      c->fetch_batch = (uint32_t)u;
    } else if (strcmp(key, "max_connections") == 0) {
      rc = get_u64(v, key, 8, 65536, &u, err, cap);
      c->max_connections = (uint32_t)u;
    } else if (strcmp(key, "max_streams_per_conn") == 0) {
      rc = get_u64(v, key, 8, 65536, &u, err, cap);
      c->max_streams_per_conn = (uint32_t)u;
    } else
      rc = fail(err, cap, "%s: unknown key", key);
    if (rc != 0)
      return rc;
  }
  return 0;
}

int cpc_node_config_load(cpc_node_config *cfg, const char *dir, char *err,
                         size_t cap) {
  char path[4096];
  json_error_t je;
  json_t *root = NULL;
  cpc_node_config tmp;
  FILE *f;
  char *buf = NULL;
  size_t n;
  int rc;
  if (!cfg || !dir)
    return CPC_EINVAL;
  snprintf(path, sizeof path, "%s/%s", dir, CPC_NODE_CONFIG_FILE);
  f = fopen(path, "rb");
  if (!f) {
    int e = errno;
    if (err)
      snprintf(err, cap, "%s: %s%s", path, strerror(e),
               e == ENOENT ? " (create the node with `cpc-node init`)" : "");
    return e == ENOENT ? CPC_ENOENT : CPC_EIO;
  }
  buf = malloc(MAX_FILE + 1);
  if (!buf) {
    fclose(f);
    return CPC_ENOMEM;
  }
  n = fread(buf, 1, MAX_FILE + 1, f);
  fclose(f);
  if (n > MAX_FILE) {
    free(buf);
    if (err)
      snprintf(err, cap, "%s: over %u bytes", path, MAX_FILE);
    return CPC_ETOOBIG;
  }
  root = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &je);
  free(buf);
  if (!json_is_object(root)) {
    if (err)
      snprintf(err, cap, "%s: not a JSON object (line %d: %s)", path, je.line,
               je.text);
    json_decref(root);
    return CPC_EMALFORMED;
  }
  tmp = *cfg;
  rc = apply(&tmp, root, err, cap);
  json_decref(root);
  if (rc == 0)
    rc = cpc_node_config_check(&tmp, err, cap);
  if (rc != 0) {
    if (err) {
      char m[512];
      snprintf(m, sizeof m, "%s", err);
      snprintf(err, cap, "%s: %s", path, m);
    }
    return rc;
  }
  *cfg = tmp;
  return 0;
}

static json_t *list_json(const char (*l)[CPC_NODE_MAX_ADDR], size_t n) {
  json_t *a = json_array();
  size_t i;
  for (i = 0; a && i < n; i++)
    json_array_append_new(a, json_string(l[i]));
  return a;
}

int cpc_node_config_save(const cpc_node_config *c, const char *dir) {
  char path[4096];
  json_t *o;
  char *text;
  int rc;
  if (!c || !dir)
    return CPC_EINVAL;
  o = json_pack(
      "{s:I, s:I, s:s, s:o, s:o, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
      "s:I, s:I}",
      "capacity", (json_int_t)c->capacity, "bandwidth",
      (json_int_t)c->bandwidth, "region", c->region, "listen",
      list_json(c->listen, c->n_listen), "bootstrap",
      list_json(c->bootstrap, c->n_bootstrap), "metrics", c->metrics,
      "orchestrator", c->orchestrator, "scrub_interval_ms",
      (json_int_t)c->scrub_interval_ms, "metrics_interval_ms",
      (json_int_t)c->metrics_interval_ms, "reconnect_min_ms",
      (json_int_t)c->reconnect_min_ms, "reconnect_max_ms",
      (json_int_t)c->reconnect_max_ms, "fetch_timeout_ms",
      (json_int_t)c->fetch_timeout_ms, "max_fetches",
      (json_int_t)c->max_fetches, "fetch_batch", (json_int_t)c->fetch_batch,
      "max_connections", (json_int_t)c->max_connections,
      "max_streams_per_conn", (json_int_t)c->max_streams_per_conn);
  if (!o)
    return CPC_ENOMEM;
  text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  json_decref(o);
  if (!text)
    return CPC_ENOMEM;
  snprintf(path, sizeof path, "%s/%s", dir, CPC_NODE_CONFIG_FILE);
  /* the key-file writer: atomic, fsync'd, 0600 */
  rc = cpc_key_file_write(path, text, strlen(text), 1);
  free(text);
  return rc;
}

int cpc_node_init(const char *dir, const cpc_node_config *cfg, char *peer_id,
                  char *err, size_t cap) {
  char path[4096];
  uint8_t enc[CPC_PRIVKEY_PROTO_MAX];
  size_t len = 0;
  cpc_privkey k;
  cpc_peer_id id;
  struct stat st;
  int rc;
  if (!dir || !cfg)
    return CPC_EINVAL;
  if ((rc = cpc_node_config_check(cfg, err, cap)) != 0)
    return rc;
  if (cpc__node_mkdir(dir) != 0) {
    if (err)
      snprintf(err, cap, "cannot create %s: %s", dir, strerror(errno));
    return CPC_EIO;
  }
  snprintf(path, sizeof path, "%s/%s", dir, CPC_NODE_KEY_FILE);
  if (stat(path, &st) == 0) {
    if (err)
      snprintf(err, cap, "%s already holds a node (%s exists); use another "
                         "directory", dir, path);
    return CPC_EEXIST;
  }
  if ((rc = cpc_privkey_generate(CPC_KEY_ED25519, &k)) != 0)
    return rc;
  rc = cpc_privkey_encode(&k, enc, sizeof enc, &len);
  if (rc == 0)
    rc = cpc_peer_id_from_pubkey(&k.pub, &id);
  cpc_privkey_wipe(&k);
  if (rc == 0)
    rc = cpc_key_file_write(path, enc, len, 0);
  sodium_memzero(enc, sizeof enc);
  if (rc != 0) {
    if (err)
      snprintf(err, cap, "cannot write %s: %s", path, cpc_strerror(rc));
    return rc;
  }
  if ((rc = cpc_node_config_save(cfg, dir)) != 0) {
    if (err)
      snprintf(err, cap, "cannot write %s/%s: %s", dir, CPC_NODE_CONFIG_FILE,
               cpc_strerror(rc));
    return rc;
  }
  if (peer_id)
    rc = cpc_peer_id_format(&id, peer_id, CPC_PEER_ID_MAX_TEXT);
  return rc;
}
