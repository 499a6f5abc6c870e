# Compares the zipnn_* functions exported by the shared library with those declared in
# zipnn.h. Usage: cmake -DNM=nm -DLIB=libzipnn.so -DHEADER=zipnn.h -P check_symbols.cmake
execute_process(COMMAND "${NM}" -D --defined-only "${LIB}" OUTPUT_VARIABLE _nm RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "nm failed on ${LIB}")
endif()
string(REGEX MATCHALL "[ \t][TW] zipnn_[A-Za-z0-9_]+" _exported "${_nm}")
list(TRANSFORM _exported REPLACE "^[ \t][TW] " "")
list(REMOVE_DUPLICATES _exported)
list(SORT _exported)

file(READ "${HEADER}" _h)
string(REGEX MATCHALL "[ *](zipnn_[A-Za-z0-9_]+)\\(" _declared "${_h}")
list(TRANSFORM _declared REPLACE "^[ *]" "")
list(TRANSFORM _declared REPLACE "\\($" "")
list(REMOVE_DUPLICATES _declared)
list(SORT _declared)

# Test-only entry points (cargo feature test-panic) are not part of the public header.
list(REMOVE_ITEM _exported zipnn_test_panic)

if(NOT _exported STREQUAL _declared)
  set(_missing ${_declared})
  list(REMOVE_ITEM _missing ${_exported})
  set(_extra ${_exported})
  list(REMOVE_ITEM _extra ${_declared})
  message(FATAL_ERROR "exported vs declared differ\n  declared, not exported: ${_missing}\n"
                      "  exported, not declared: ${_extra}")
endif()
list(LENGTH _exported _n)
message(STATUS "${_n} exported zipnn_* functions match the header")
