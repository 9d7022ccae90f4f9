/*
 * fuzz_json_body.c: strict JSON request bodies. Whatever is accepted is an
 * object that dumps and parses back (strictly) to an equal value; every
 * refusal carries a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cpc/error.h"
#include "cpc/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *j, *back;
  char msg[256];
  char *text;
  int rc;

  msg[0] = '\0';
  rc = cpc_http_json_parse(data, size, 8, &j, msg, sizeof msg);
  if (rc != 0) {
    if (j || !msg[0])
      abort();
    return 0;
  }
  if (!json_is_object(j))
    abort();
  text = json_dumps(j, JSON_COMPACT);
  if (!text)
    abort();
  if (cpc_http_json_parse(text, strlen(text), 8, &back, msg, sizeof msg) != 0 ||
      !json_equal(j, back))
    abort();
  json_decref(back);
  free(text);
  json_decref(j);
  return 0;
}
