# Turn a folder of NNNN_name.sql migrations (plus optional NNNN_name.sqlite.sql
# and NNNN_name.postgres.sql variants) into a C file defining
#   const cpc_sql_migration <SYMBOL>[]; const size_t <SYMBOL>_count;
# Run as: cmake -DDIR=… -DOUT=… -DSYMBOL=… -P embed_migrations.cmake
file(GLOB all RELATIVE ${DIR} ${DIR}/*.sql)
list(SORT all)
set(body "")
set(table "")
set(count 0)
function(c_string path var)
  file(READ ${path} hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  set(${var} "(const char[]){${bytes}0x00}" PARENT_SCOPE)
endfunction()
foreach(f ${all})
  if(f MATCHES "^([0-9]+)_([a-z0-9_]+)\\.sql$")
    set(version ${CMAKE_MATCH_1})
    set(name ${CMAKE_MATCH_2})
    math(EXPR v "${version}")
    c_string(${DIR}/${f} sql)
    set(lite "NULL")
    set(pg "NULL")
    if(EXISTS ${DIR}/${version}_${name}.sqlite.sql)
      c_string(${DIR}/${version}_${name}.sqlite.sql lite)
    endif()
    if(EXISTS ${DIR}/${version}_${name}.postgres.sql)
      c_string(${DIR}/${version}_${name}.postgres.sql pg)
    endif()
    string(APPEND table "  {${v}, \"${name}\", ${sql}, ${lite}, ${pg}},\n")
    math(EXPR count "${count} + 1")
  endif()
endforeach()
file(WRITE ${OUT}.tmp "/* Generated from ${DIR} by cmake/embed_migrations.cmake. */
#include <stddef.h>
#include \"cpc/sql.h\"
extern const cpc_sql_migration ${SYMBOL}[];
extern const size_t ${SYMBOL}_count;
const cpc_sql_migration ${SYMBOL}[] = {
${table}};
const size_t ${SYMBOL}_count = ${count};
")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUT}.tmp ${OUT})
