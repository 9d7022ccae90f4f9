/*
 * api_int.h: the local HTTP API's request context and route table, shared
 * by api.c (server, auth, dispatch) and the handler files.
 */
#ifndef CPC_PDS_API_INT_H
#define CPC_PDS_API_INT_H

#include <microhttpd.h>

#include "pds/pds_int.h"

#define CPC__PDS_API_MAX_SEG 4
#define CPC__PDS_API_SEG_LEN 256
#define CPC__PDS_API_MAX_BODY (64u * 1024u)

typedef struct cpc__pds_req cpc__pds_req;
typedef int (*cpc__pds_api_fn)(cpc__pds_req *r);

enum {
  CPC__PDS_ROUTE_NOAUTH = 1, /* no bearer token needed */
  CPC__PDS_ROUTE_UPLOAD = 2, /* the body is streamed to the upload */
};

typedef struct cpc__pds_route {
  const char *method;
  const char *pattern; /* a star segment matches any one segment */
  unsigned flags;
  cpc__pds_api_fn begin; /* UPLOAD routes: before the body; may answer */
  cpc__pds_api_fn run;   /* once the body is in (or streamed) */
} cpc__pds_route;

struct cpc__pds_req {
  cpc_pds *p;
  struct MHD_Connection *conn;
  const cpc__pds_route *route;
  const char *method;
  char seg[CPC__PDS_API_MAX_SEG][CPC__PDS_API_SEG_LEN];
  size_t n_seg;
  char *body;
  size_t body_len;
  int body_too_big;
  cpc__pds_upload *upload;
  uint64_t uploaded;
  int responded;
};

/* Answer with body (reference taken; NULL answers 500). */
int cpc__pds_reply_json(cpc__pds_req *r, unsigned status, json_t *body);
/* Answer {"error":{"code":code,"message":...}}. */
int cpc__pds_reply_error(cpc__pds_req *r, unsigned status, const char *code,
                         const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Answer data[0..len) (copied). */
int cpc__pds_reply(cpc__pds_req *r, unsigned status, const char *ctype,
                   const void *data, size_t len);
/* A query argument or NULL. */
const char *cpc__pds_query(cpc__pds_req *r, const char *name);
/* The body as a JSON object (answers 400 itself and returns NULL). */
json_t *cpc__pds_body_json(cpc__pds_req *r);

/* api_content.c */
int cpc__pds_api_put_begin(cpc__pds_req *r);
int cpc__pds_api_put(cpc__pds_req *r);
int cpc__pds_api_get(cpc__pds_req *r);
int cpc__pds_api_ls(cpc__pds_req *r);
int cpc__pds_api_rm(cpc__pds_req *r);
int cpc__pds_api_status(cpc__pds_req *r);
/* api_social.c */
int cpc__pds_api_follow(cpc__pds_req *r);
int cpc__pds_api_unfollow(cpc__pds_req *r);
int cpc__pds_api_following(cpc__pds_req *r);
int cpc__pds_api_followers(cpc__pds_req *r);
int cpc__pds_api_profile_get(cpc__pds_req *r);
int cpc__pds_api_profile_put(cpc__pds_req *r);
int cpc__pds_api_search(cpc__pds_req *r);
/* Forward an orchestrator answer (status and JSON) to the caller, or a
 * 503 when it could not be reached. */
int cpc__pds_api_relay(cpc__pds_req *r, int rc, long status, json_t *ans,
                       const char *err);

#endif /* CPC_PDS_API_INT_H */
