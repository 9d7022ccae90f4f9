/*
 * model_json.c: pieces the JSON encodings of the models share
 * (identity_json.c, content_json.c): error messages naming what was wrong
 * and base64 strings.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>
#include <sodium.h>

#include "cpc/error.h"
#include "models/models_int.h"

#define B64 sodium_base64_VARIANT_ORIGINAL

int cpc__fail(char *err, size_t cap, int rc, const char *fmt, ...) {
  va_list ap;
  if (err && cap > 0) {
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
  }
  return rc;
}

const char *cpc__json_type_name(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT: return "an object";
  case JSON_ARRAY: return "an array";
  case JSON_STRING: return "a string";
  case JSON_INTEGER: return "an integer";
  case JSON_REAL: return "a number";
  case JSON_TRUE:
  case JSON_FALSE: return "a boolean";
  case JSON_NULL: return "null";
  default: return "unknown";
  }
}

json_t *cpc__json_base64(const uint8_t *in, size_t len) {
  size_t cap = sodium_base64_ENCODED_LEN(len, B64);
  char *buf = malloc(cap);
  json_t *s;
  if (!buf)
    return NULL;
  sodium_bin2base64(buf, cap, in, len, B64);
  s = json_string(buf);
  sodium_memzero(buf, cap);
  free(buf);
  return s;
}
