# Turn one file into a C file defining
#   const char <SYMBOL>[]; const size_t <SYMBOL>_len;  (NUL-terminated)
# Run as: cmake -DIN=… -DOUT=… -DSYMBOL=… -P embed_file.cmake
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE ${OUT}.tmp "/* Generated from ${IN} by cmake/embed_file.cmake. */
#include <stddef.h>
extern const char ${SYMBOL}[];
extern const size_t ${SYMBOL}_len;
const char ${SYMBOL}[] = {${bytes}0x00};
const size_t ${SYMBOL}_len = ${len};
")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUT}.tmp ${OUT})
