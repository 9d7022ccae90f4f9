/*
 * config.c: the orchestrator's configuration: defaults, a strict JSON
 * file (every key known, every value typed and in range, errors naming
 * the key) and the checks both go through.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cpc/error.h"
#include "cpc/orchestrator.h"

#define CONFIG_MAX_BYTES (1024 * 1024)

__attribute__((format(printf, 4, 5))) static int fail(char *err, size_t cap,
                                                    int rc, const char *fmt,
                                                    ...) {
  va_list ap;
  if (err && cap) {
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
  }
  return rc;
}

void cpc_orchestrator_config_default(cpc_orchestrator_config *cfg) {
  const char *home = getenv("CPC_HOME");
  memset(cfg, 0, sizeof *cfg);
  if (home && *home &&
      strlen(home) + sizeof "/orchestrator" <= sizeof cfg->data_dir)
    snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s/orchestrator", home);
  else
    snprintf(cfg->data_dir, sizeof cfg->data_dir, "cpc-orchestrator-data");
  snprintf(cfg->rest, sizeof cfg->rest, "%s", CPC_ORCH_DEFAULT_REST);
  snprintf(cfg->grpc, sizeof cfg->grpc, "%s", CPC_ORCH_DEFAULT_GRPC);
  cfg->sched.tick_ms = 1000;
  cfg->sched.heartbeat_interval_ms = 10000;
  cfg->sched.heartbeat_timeout_ms = 60000;
  cfg->sched.work_timeout_ms = 120000;
  cfg->sched.work_max_attempts = 3;
  cfg->sched.audit_interval_ms = 300000;
  cfg->sched.audit_timeout_ms = 30000;
  cfg->sched.vetting_audits = 10;
  cfg->sched.vetting_replicas = 4;
  cfg->sched.replicas_default = 3;
  cfg->sched.score_lambda = 0.95;
  cfg->sched.disqualify_below = 0.6;
  cfg->sched.batch = 256;
  cfg->sched.clock_skew_ms = 300000;
  cfg->sched.max_drops_per_node = 100000;
}

int cpc_orchestrator_parse_listen(const char *text, char *addr, size_t cap,
                                  uint16_t *port) {
  const char *colon, *host, *host_end;
  unsigned char buf[16];
  char *end;
  size_t hlen;
  unsigned long p;
  if (!text || !addr || !port)
    return CPC_EINVAL;
  if (text[0] == '[') {
    host = text + 1;
    host_end = strchr(host, ']');
    if (!host_end || host_end[1] != ':')
      return CPC_EINVAL;
    colon = host_end + 1;
  } else {
    host = text;
    colon = strrchr(text, ':');
    if (!colon || memchr(text, ':', (size_t)(colon - text)))
      return CPC_EINVAL; /* IPv6 needs brackets */
    host_end = colon;
  }
  hlen = (size_t)(host_end - host);
  if (colon[1] < '0' || colon[1] > '9')
    return CPC_EINVAL;
  errno = 0;
  p = strtoul(colon + 1, &end, 10);
  if (errno || *end || p > 65535 || end - (colon + 1) > 5)
    return CPC_EINVAL;
  if (hlen + 1 > cap)
    return CPC_ETOOBIG;
  memcpy(addr, host, hlen);
  addr[hlen] = '\0';
  if (inet_pton(AF_INET, addr, buf) != 1 && inet_pton(AF_INET6, addr, buf) != 1)
    return CPC_EINVAL;
  *port = (uint16_t)p;
  return 0;
}

/* ---- scheduler keys ------------------------------------------------------ */

enum kind { K_I64, K_U32, K_DBL };

typedef struct sched_key {
  const char *name;
  enum kind kind;
  size_t off;
  double min, max;
} sched_key;

#define SK(f, k, lo, hi) {#f, k, offsetof(cpc_orchestrator_sched_config, f), lo, hi}
static const sched_key SCHED_KEYS[] = {
    SK(tick_ms, K_I64, 10, 3600000),
    SK(heartbeat_interval_ms, K_I64, 100, 3600000),
    SK(heartbeat_timeout_ms, K_I64, 100, 604800000),
    SK(work_timeout_ms, K_I64, 100, 604800000),
    SK(work_max_attempts, K_U32, 1, 100),
    SK(audit_interval_ms, K_I64, 10, 2592000000.0),
    SK(audit_timeout_ms, K_I64, 10, 86400000),
    SK(vetting_audits, K_U32, 0, 10000),
    SK(vetting_replicas, K_U32, 0, 16),
    SK(replicas_default, K_U32, 1, 16),
    SK(score_lambda, K_DBL, 0.01, 0.9999),
    SK(disqualify_below, K_DBL, 0, 1),
    SK(batch, K_U32, 1, 100000),
    SK(clock_skew_ms, K_I64, 1000, 3600000),
    SK(max_drops_per_node, K_U32, 0, 10000000),
};
#undef SK
#define N_SCHED_KEYS (sizeof SCHED_KEYS / sizeof SCHED_KEYS[0])

static double key_value(const cpc_orchestrator_sched_config *s,
                        const sched_key *k) {
  const char *p = (const char *)s + k->off;
  switch (k->kind) {
  case K_I64: return (double)*(const int64_t *)(const void *)p;
  case K_U32: return (double)*(const uint32_t *)(const void *)p;
  default: return *(const double *)(const void *)p;
  }
}

static int key_range_error(const sched_key *k, char *err, size_t cap) {
  if (k->kind == K_DBL)
    return fail(err, cap, CPC_EINVAL, "scheduler.%s: must be a number from %g to %g",
                k->name, k->min, k->max);
  return fail(err, cap, CPC_EINVAL,
              "scheduler.%s: must be an integer from %.0f to %.0f", k->name,
              k->min, k->max);
}

int cpc_orchestrator_config_check(const cpc_orchestrator_config *cfg,
                                  char *err, size_t cap) {
  const cpc_orchestrator_sched_config *s = &cfg->sched;
  char addr[64];
  uint16_t port;
  size_t i;
  if (!cfg->data_dir[0])
    return fail(err, cap, CPC_EINVAL, "data: must not be empty");
  if (cfg->db_url[0] && strncmp(cfg->db_url, "sqlite:", 7) != 0 &&
      strncmp(cfg->db_url, "postgres://", 11) != 0 &&
      strncmp(cfg->db_url, "postgresql://", 13) != 0)
    return fail(err, cap, CPC_EINVAL,
                "db: must be sqlite:PATH or postgres://...");
  if (cpc_orchestrator_parse_listen(cfg->rest, addr, sizeof addr, &port) != 0)
    return fail(err, cap, CPC_EINVAL,
                "rest: must be ADDR:PORT with an IP literal (\"%s\")", cfg->rest);
  if (cpc_orchestrator_parse_listen(cfg->grpc, addr, sizeof addr, &port) != 0)
    return fail(err, cap, CPC_EINVAL,
                "grpc: must be ADDR:PORT with an IP literal (\"%s\")", cfg->grpc);
  for (i = 0; i < N_SCHED_KEYS; i++) {
    double v = key_value(s, &SCHED_KEYS[i]);
    if (!(v >= SCHED_KEYS[i].min && v <= SCHED_KEYS[i].max))
      return key_range_error(&SCHED_KEYS[i], err, cap);
  }
  if (s->heartbeat_timeout_ms <= s->heartbeat_interval_ms)
    return fail(err, cap, CPC_EINVAL,
                "scheduler.heartbeat_timeout_ms: must be longer than "
                "heartbeat_interval_ms");
  if (s->vetting_audits > 0 && s->vetting_replicas == 0)
    return fail(err, cap, CPC_EINVAL,
                "scheduler.vetting_replicas: must be at least 1 when "
                "vetting_audits is not 0 (vetting nodes need data to be "
                "audited on)");
  return 0;
}

static int set_string(char *dst, size_t dst_cap, json_t *v, const char *key,
                      char *err, size_t cap) {
  const char *s;
  if (!json_is_string(v))
    return fail(err, cap, CPC_EINVAL, "%s: must be a string", key);
  s = json_string_value(v);
  if (strlen(s) == 0 || strlen(s) >= dst_cap)
    return fail(err, cap, CPC_EINVAL, "%s: must be 1 to %zu bytes", key,
                dst_cap - 1);
  snprintf(dst, dst_cap, "%s", s);
  return 0;
}

static int set_sched(cpc_orchestrator_sched_config *s, json_t *obj, char *err,
                     size_t cap) {
  const char *key;
  json_t *v;
  size_t i;
  if (!json_is_object(obj))
    return fail(err, cap, CPC_EINVAL, "scheduler: must be an object");
  json_object_foreach(obj, key, v) {
    const sched_key *k = NULL;
    char *p;
    double d;
    for (i = 0; i < N_SCHED_KEYS; i++)
      if (strcmp(SCHED_KEYS[i].name, key) == 0)
        k = &SCHED_KEYS[i];
    if (!k)
      return fail(err, cap, CPC_EINVAL, "scheduler.%s: unknown key", key);
    if (k->kind == K_DBL ? !json_is_number(v) : !json_is_integer(v))
      return key_range_error(k, err, cap);
    d = json_number_value(v);
    if (!(d >= k->min && d <= k->max))
      return key_range_error(k, err, cap);
    p = (char *)s + k->off;
    if (k->kind == K_I64)
      *(int64_t *)(void *)p = (int64_t)json_integer_value(v);
    else if (k->kind == K_U32)
      *(uint32_t *)(void *)p = (uint32_t)json_integer_value(v);
    else
      *(double *)(void *)p = d;
  }
  return 0;
}

int cpc_orchestrator_config_load(cpc_orchestrator_config *cfg, const char *path,
                                 char *err, size_t cap) {
  cpc_orchestrator_config tmp;
  json_error_t je;
  json_t *root = NULL, *v;
  const char *key;
  FILE *f = NULL;
  char *buf = NULL;
  size_t len;
  int rc = 0;

  if (!cfg || !path)
    return fail(err, cap, CPC_EINVAL, "no config file given");
  f = fopen(path, "rb");
  if (!f)
    return fail(err, cap, CPC_EIO, "%s: %s", path, strerror(errno));
  buf = malloc(CONFIG_MAX_BYTES + 1);
  if (!buf) {
    rc = CPC_ENOMEM;
    goto out;
  }
  len = fread(buf, 1, CONFIG_MAX_BYTES + 1, f);
  if (ferror(f)) {
    rc = fail(err, cap, CPC_EIO, "%s: read error", path);
    goto out;
  }
  if (len > CONFIG_MAX_BYTES) {
    rc = fail(err, cap, CPC_ETOOBIG, "%s: over 1 MiB", path);
    goto out;
  }
  root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
  if (!root) {
    rc = fail(err, cap, CPC_EMALFORMED, "%s: line %d: %s", path, je.line,
              je.text);
    goto out;
  }
  if (!json_is_object(root)) {
    rc = fail(err, cap, CPC_EINVAL, "%s: must hold one JSON object", path);
    goto out;
  }
  tmp = *cfg;
  json_object_foreach(root, key, v) {
    if (strcmp(key, "data") == 0)
      rc = set_string(tmp.data_dir, sizeof tmp.data_dir, v, key, err, cap);
    else if (strcmp(key, "db") == 0)
      rc = set_string(tmp.db_url, sizeof tmp.db_url, v, key, err, cap);
    else if (strcmp(key, "rest") == 0)
      rc = set_string(tmp.rest, sizeof tmp.rest, v, key, err, cap);
    else if (strcmp(key, "grpc") == 0)
      rc = set_string(tmp.grpc, sizeof tmp.grpc, v, key, err, cap);
    else if (strcmp(key, "scheduler") == 0)
      rc = set_sched(&tmp.sched, v, err, cap);
    else
      rc = fail(err, cap, CPC_EINVAL,
                "%s: unknown key (known: data, db, rest, grpc, scheduler)", key);
    if (rc != 0)
      goto out;
  }
  rc = cpc_orchestrator_config_check(&tmp, err, cap);
  if (rc == 0)
    *cfg = tmp;
out:
  if (rc == CPC_EINVAL && err && cap) { /* name the file too */
    char *msg = strdup(err);
    if (msg) {
      snprintf(err, cap, "%s: %s", path, msg);
      free(msg);
    }
  }
  json_decref(root);
  free(buf);
  if (f)
    fclose(f);
  return rc;
}
