# Parser fuzzing. The plain random driver is always built and runs a small
# number of iterations under CTest; the libFuzzer target needs clang and is
# built only with -DKILN_FUZZ=ON.
add_executable(kiln_parse_random ${CMAKE_CURRENT_LIST_DIR}/random_parse.cpp
                                 ${CMAKE_CURRENT_LIST_DIR}/parse_fuzz.cpp)
target_compile_options(kiln_parse_random PRIVATE ${KILN_WARNINGS})
target_link_libraries(kiln_parse_random PRIVATE kiln_compiler)
file(GLOB kiln_fuzz_seeds CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/testdata/parse/*.kiln)
add_test(NAME fuzz/parse_random COMMAND kiln_parse_random 300 1 ${kiln_fuzz_seeds})
set_tests_properties(fuzz/parse_random PROPERTIES LABELS fuzz TIMEOUT 600)

if(KILN_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "KILN_FUZZ=ON needs clang: configure with -DCMAKE_CXX_COMPILER=clang++-14")
  endif()
  # clang rejects one header that antlr4-runtime.h pulls in (an unused
  # InterpreterData default constructor); compile against a copy of the
  # umbrella header without it.
  set(kiln_antlr_shim ${CMAKE_BINARY_DIR}/antlr-shim)
  file(READ ${ANTLR4_INCLUDE_DIR}/antlr4-runtime.h kiln_antlr_umbrella)
  string(REPLACE "#include \"misc/InterpreterDataReader.h\"" "" kiln_antlr_umbrella "${kiln_antlr_umbrella}")
  file(WRITE ${kiln_antlr_shim}/antlr4-runtime.h "${kiln_antlr_umbrella}")
  target_include_directories(kiln_grammar BEFORE SYSTEM PUBLIC ${kiln_antlr_shim})
  # Coverage feedback needs the parser itself instrumented.
  target_compile_options(kiln_compiler PRIVATE -fsanitize=fuzzer-no-link,address)
  target_compile_options(kiln_grammar PRIVATE -fsanitize=fuzzer-no-link,address)
  # Everything that links the instrumented libraries needs the ASan runtime.
  target_link_options(kiln_compiler INTERFACE -fsanitize=address)
  add_executable(kiln_parse_fuzz ${CMAKE_CURRENT_LIST_DIR}/parse_fuzz.cpp)
  target_compile_options(kiln_parse_fuzz PRIVATE -fsanitize=fuzzer,address)
  target_link_options(kiln_parse_fuzz PRIVATE -fsanitize=fuzzer,address)
  target_link_libraries(kiln_parse_fuzz PRIVATE kiln_compiler)
endif()
