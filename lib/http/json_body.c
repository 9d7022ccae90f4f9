/*
 * json_body.c: strict parsing of JSON request bodies.
 *
 * jansson does the parsing (JSON_REJECT_DUPLICATES, no JSON_DECODE_ANY, no
 * JSON_ALLOW_NUL, trailing data refused). Nesting depth is checked first by
 * a scan that counts brackets outside strings, so a deeply nested body is
 * refused before jansson recurses into it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cpc/error.h"
#include "cpc/http.h"
#include "http/http_int.h"

/*
 * Deepest bracket nesting of in[0..len), counting only brackets outside
 * strings. Stops early (returning a value > max) once max is exceeded; *at
 * gets the offset of the bracket that went over. Exact for valid JSON; on
 * invalid JSON the answer only has to be an upper bound jansson then
 * refuses anyway.
 */
static size_t nesting_depth(const char *in, size_t len, size_t max,
                            size_t *at) {
  size_t depth = 0, deepest = 0;
  int in_string = 0;

  for (size_t i = 0; i < len; i++) {
    char c = in[i];
    if (in_string) {
      if (c == '\\')
        i++; /* skip the escaped character */
      else if (c == '"')
        in_string = 0;
      continue;
    }
    if (c == '"') {
      in_string = 1;
    } else if (c == '{' || c == '[') {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > max) {
          *at = i;
          return deepest;
        }
      }
    } else if ((c == '}' || c == ']') && depth > 0) {
      depth--;
    }
  }
  return deepest;
}

static void set_msg(char *msg, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_msg(char *msg, size_t cap, const char *fmt, ...) {
  va_list ap;
  if (!msg || cap == 0)
    return;
  va_start(ap, fmt);
  vsnprintf(msg, cap, fmt, ap);
  va_end(ap);
}

int cpc_http_json_parse(const void *body, size_t len, size_t max_depth,
                        json_t **out, char *msg, size_t cap) {
  json_error_t jerr;
  json_t *j;
  size_t at = 0;

  *out = NULL;
  if (max_depth == 0)
    max_depth = CPC_HTTP_MAX_JSON_DEPTH_DEFAULT;
  if (len == 0 || !body) {
    set_msg(msg, cap, "the request body is empty; a JSON object is expected");
    return CPC_EMALFORMED;
  }
  if (nesting_depth(body, len, max_depth, &at) > max_depth) {
    set_msg(msg, cap, "JSON nested deeper than %zu levels (at byte %zu)",
            max_depth, at);
    return CPC_ETOOBIG;
  }
  j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!j) {
    if (json_error_code(&jerr) == json_error_out_of_memory) {
      set_msg(msg, cap, "out of memory while parsing JSON");
      return CPC_ENOMEM;
    }
    set_msg(msg, cap, "invalid JSON at line %d, column %d: %s", jerr.line,
            jerr.column, jerr.text);
    return CPC_EMALFORMED;
  }
  if (!json_is_object(j)) {
    json_decref(j);
    set_msg(msg, cap, "the request body must be a JSON object");
    return CPC_EMALFORMED;
  }
  *out = j;
  return 0;
}
