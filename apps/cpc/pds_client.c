/*
 * pds_client.c: the `cpc` side of the PDS's local API (see pds_client.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "commands.h"
#include "pds_client.h"

#define MAX_ANSWER (16u << 20)

void cpc_pds_client_usage(FILE *out) {
  fprintf(out,
          "  --pds URL          the PDS's local API (default: env CPC_PDS, "
          "else\n"
          "                     http://127.0.0.1:7710)\n"
          "  --data DIR         the PDS's data directory, for its api-token "
          "(default:\n"
          "                     env CPC_PDS_TOKEN_FILE, else "
          "$CPC_HOME/pds/api-token,\n"
          "                     else ./cpc-pds-data/api-token)\n");
}

int cpc_pds_client_option(cpc_pds_client *c, int argc, char **argv, int *i) {
  const char *a = argv[*i];
  if (strcmp(a, "--pds") != 0 && strcmp(a, "--data") != 0)
    return 0;
  if (*i + 1 >= argc) {
    cpc_fail(c->cmd, "%s needs a value (see --help)", a);
    return -1;
  }
  (*i)++;
  if (a[2] == 'p')
    snprintf(c->url, sizeof c->url, "%s", argv[*i]);
  else
    snprintf(c->token_path, sizeof c->token_path, "%s/api-token", argv[*i]);
  return 1;
}

int cpc_pds_client_ready(cpc_pds_client *c) {
  const char *env;
  FILE *f;
  size_t n, len;
  struct stat st;

  if (!c->url[0]) {
    env = getenv("CPC_PDS");
    snprintf(c->url, sizeof c->url, "%s",
             env && *env ? env : "http://127.0.0.1:7710");
  }
  len = strlen(c->url);
  while (len > 0 && c->url[len - 1] == '/')
    c->url[--len] = '\0';
  if (!c->token_path[0]) {
    env = getenv("CPC_PDS_TOKEN_FILE");
    if (env && *env)
      snprintf(c->token_path, sizeof c->token_path, "%s", env);
    else if ((env = getenv("CPC_HOME")) && *env)
      snprintf(c->token_path, sizeof c->token_path, "%s/pds/api-token", env);
    else
      snprintf(c->token_path, sizeof c->token_path,
               "./cpc-pds-data/api-token");
  }
  f = fopen(c->token_path, "r");
  if (!f)
    return cpc_fail(c->cmd,
                    "cannot read the PDS token %s: %s (give the PDS's data "
                    "directory with --data DIR, or set CPC_PDS_TOKEN_FILE)",
                    c->token_path, strerror(errno));
  if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077))
    fprintf(stderr,
            "cpc %s: warning: %s may be read by other users (chmod 600 it)\n",
            c->cmd, c->token_path);
  n = fread(c->token, 1, sizeof c->token - 1, f);
  fclose(f);
  c->token[n] = '\0';
  while (n > 0 && (c->token[n - 1] == '\n' || c->token[n - 1] == '\r'))
    c->token[--n] = '\0';
  if (n == 0)
    return cpc_fail(c->cmd, "the PDS token file %s is empty", c->token_path);
  return 0;
}

void cpc_pds_client_escape(const char *s, char *out, size_t cap) {
  char *e = curl_easy_escape(NULL, s, 0);
  snprintf(out, cap, "%s", e ? e : "");
  curl_free(e);
}

void cpc_pds_client_size(uint64_t n, char *out, size_t cap) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = (double)n;
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    u++;
  }
  if (u == 0)
    snprintf(out, cap, "%llu B", (unsigned long long)n);
  else
    snprintf(out, cap, "%.1f %s", v, units[u]);
}

typedef struct xfer {
  cpc_pds_client *c;
  char *buf; /* the answer (JSON, or an error body) */
  size_t len, cap;
  FILE *sink; /* download target */
  long status;
  CURL *h;
  uint64_t bytes;
  int bar;
  double t0, last;
  FILE *src;
} xfer;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int keep(xfer *x, const char *data, size_t n) {
  if (x->len + n > MAX_ANSWER)
    return -1;
  if (x->len + n + 1 > x->cap) {
    size_t nc = (x->len + n + 1) * 2;
    char *nb = realloc(x->buf, nc);
    if (!nb)
      return -1;
    x->buf = nb;
    x->cap = nc;
  }
  memcpy(x->buf + x->len, data, n);
  x->len += n;
  x->buf[x->len] = '\0';
  return 0;
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *ud) {
  xfer *x = ud;
  size_t n = size * nmemb;
  if (!x->status)
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->status);
  if (x->sink && x->status >= 200 && x->status < 300) {
    if (fwrite(data, 1, n, x->sink) != n)
      return 0;
    x->bytes += n;
    return n;
  }
  return keep(x, data, n) == 0 ? n : 0;
}

static size_t on_read(char *buf, size_t size, size_t nitems, void *ud) {
  xfer *x = ud;
  size_t n = fread(buf, 1, size * nitems, x->src);
  if (n == 0 && ferror(x->src))
    return CURL_READFUNC_ABORT;
  return n;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow) {
  xfer *x = ud;
  double t = now_s();
  curl_off_t total = ultotal > 0 ? ultotal : dltotal;
  curl_off_t done = ultotal > 0 ? ulnow : dlnow;
  char a[32], b[32], r[32];
  int i, fill;
  if (!x->bar || t - x->last < 0.1)
    return 0;
  x->last = t;
  cpc_pds_client_size((uint64_t)done, a, sizeof a);
  cpc_pds_client_size((uint64_t)(t > x->t0 ? (double)done / (t - x->t0) : 0),
                      r, sizeof r);
  if (total > 0) {
    cpc_pds_client_size((uint64_t)total, b, sizeof b);
    fill = (int)(30.0 * (double)done / (double)total);
    fputs("\r[", stderr);
    for (i = 0; i < 30; i++)
      fputc(i < fill ? '#' : '-', stderr);
    fprintf(stderr, "] %3d%% %s / %s  %s/s ",
            (int)(100.0 * (double)done / (double)total), a, b, r);
  } else {
    fprintf(stderr, "\r%s  %s/s ", a, r);
  }
  return 0;
}

/* Print what went wrong, with advice. Returns 1. */
static int report(xfer *x, CURLcode cc) {
  cpc_pds_client *c = x->c;
  json_t *j;
  const char *code = "", *msg = "";
  if (cc != CURLE_OK && !x->status)
    return cpc_fail(c->cmd,
                    "cannot reach the PDS at %s: %s (is cpc-pds running? "
                    "start it, or point --pds / CPC_PDS at it)",
                    c->url, curl_easy_strerror(cc));
  if (cc != CURLE_OK)
    return cpc_fail(c->cmd, "the transfer broke off: %s (try again)",
                    curl_easy_strerror(cc));
  j = x->buf ? json_loads(x->buf, 0, NULL) : NULL;
  if (j) {
    json_t *e = json_object_get(j, "error");
    code = json_string_value(json_object_get(e, "code"));
    msg = json_string_value(json_object_get(e, "message"));
  }
  if (x->status == 401)
    cpc_fail(c->cmd,
             "the PDS refused the token from %s: give the right data "
             "directory with --data DIR",
             c->token_path);
  else if (code && *code)
    cpc_fail(c->cmd, "%s (%s, HTTP %ld)", msg && *msg ? msg : "the PDS failed",
             code, x->status);
  else
    cpc_fail(c->cmd, "the PDS answered HTTP %ld", x->status);
  json_decref(j);
  return 1;
}

static CURL *handle(cpc_pds_client *c, xfer *x, const char *method,
                    const char *path, struct curl_slist **hdrs) {
  char url[4096], auth[300];
  CURL *h = curl_easy_init();
  if (!h)
    return NULL;
  snprintf(url, sizeof url, "%s%s", c->url, path);
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->token);
  *hdrs = curl_slist_append(*hdrs, auth);
  *hdrs = curl_slist_append(*hdrs, "Expect:");
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdrs);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
  x->c = c;
  x->h = h;
  x->bar = isatty(2);
  x->t0 = x->last = now_s();
  if (x->bar) {
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
  }
  return h;
}

static int finish(xfer *x, CURLcode cc, json_t **out) {
  int rc = 0;
  if (x->bar && x->last > x->t0)
    fputc('\n', stderr);
  curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->status);
  if (cc != CURLE_OK || x->status < 200 || x->status >= 300)
    rc = report(x, cc);
  else if (out)
    *out = x->len ? json_loads(x->buf, 0, NULL) : NULL;
  free(x->buf);
  return rc;
}

int cpc_pds_client_json(cpc_pds_client *c, const char *method,
                        const char *path, json_t *body, json_t **out) {
  struct curl_slist *hdrs = NULL;
  xfer x;
  char *text = NULL;
  CURLcode cc;
  CURL *h;
  int rc;

  memset(&x, 0, sizeof x);
  if (out)
    *out = NULL;
  h = handle(c, &x, method, path, &hdrs);
  if (!h)
    return cpc_fail(c->cmd, "out of memory");
  x.bar = 0;
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 1L);
  if (body) {
    text = json_dumps(body, JSON_COMPACT);
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, text ? text : "{}");
  }
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 120000L);
  cc = curl_easy_perform(h);
  rc = finish(&x, cc, out);
  curl_easy_cleanup(h);
  curl_slist_free_all(hdrs);
  free(text);
  return rc;
}

int cpc_pds_client_upload(cpc_pds_client *c, const char *path,
                          const char *file, json_t **out) {
  struct curl_slist *hdrs = NULL;
  struct stat st;
  xfer x;
  CURLcode cc;
  CURL *h;
  int rc;

  memset(&x, 0, sizeof x);
  if (!file || strcmp(file, "-") == 0)
    x.src = stdin;
  else if (!(x.src = fopen(file, "rb")))
    return cpc_fail(c->cmd, "cannot open %s: %s", file, strerror(errno));
  h = handle(c, &x, "POST", path, &hdrs);
  if (!h) {
    if (x.src != stdin)
      fclose(x.src);
    return cpc_fail(c->cmd, "out of memory");
  }
  hdrs = curl_slist_append(hdrs, "Content-Type: application/octet-stream");
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(h, CURLOPT_POST, 1L);
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
  curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
  curl_easy_setopt(h, CURLOPT_READDATA, &x);
  if (fstat(fileno(x.src), &st) == 0 && S_ISREG(st.st_mode))
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)st.st_size);
  else
    hdrs = curl_slist_append(hdrs, "Transfer-Encoding: chunked");
  cc = curl_easy_perform(h);
  rc = finish(&x, cc, out);
  curl_easy_cleanup(h);
  curl_slist_free_all(hdrs);
  if (x.src != stdin)
    fclose(x.src);
  return rc;
}

int cpc_pds_client_download(cpc_pds_client *c, const char *path, FILE *out,
                            uint64_t *bytes) {
  struct curl_slist *hdrs = NULL;
  xfer x;
  CURLcode cc;
  CURL *h;
  int rc;

  memset(&x, 0, sizeof x);
  x.sink = out;
  h = handle(c, &x, "GET", path, &hdrs);
  if (!h)
    return cpc_fail(c->cmd, "out of memory");
  /* Large pieces: a 1 GiB download in 16 KiB writes was 65,000 calls. */
  curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024);
  cc = curl_easy_perform(h);
  *bytes = x.bytes;
  rc = finish(&x, cc, NULL);
  curl_easy_cleanup(h);
  curl_slist_free_all(hdrs);
  return rc;
}
