/* test_error.c: every CPC_E* code has its own message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "cpc/error.h"

static void test_messages_distinct(void **state) {
  (void)state;
  for (int a = CPC_ESTATE; a <= 0; a++) {
    assert_string_not_equal(cpc_strerror(a), "unknown error");
    for (int b = a + 1; b <= 0; b++)
      assert_string_not_equal(cpc_strerror(a), cpc_strerror(b));
  }
  assert_string_equal(cpc_strerror(-9999), "unknown error");
  assert_string_equal(cpc_strerror(1), "unknown error");
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_messages_distinct)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
