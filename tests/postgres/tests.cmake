# Tests against a real PostgreSQL (tests/postgres/run.sh starts and stops
# it). The sources live in src/ so that the generic per-folder GoogleTest
# registration (which would run them without a server) does not pick them up.
file(GLOB kiln_postgres_srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/src/*.cpp)
add_executable(kiln_postgres_tests ${kiln_postgres_srcs})
target_compile_options(kiln_postgres_tests PRIVATE ${KILN_WARNINGS})
target_link_libraries(kiln_postgres_tests PRIVATE kiln_cli_lib kiln_fake_provider GTest::gtest GTest::gtest_main ${PQ_LIB})
target_include_directories(kiln_postgres_tests SYSTEM PRIVATE ${PQ_INCLUDE_DIR})
target_compile_definitions(kiln_postgres_tests PRIVATE
  KILN_SOURCE_DIR="${CMAKE_SOURCE_DIR}" KILN_BINARY="$<TARGET_FILE:kiln_test_driver>")
# KILN_BINARY here is the test driver: kiln with the fake provider built in.
add_dependencies(kiln_postgres_tests kiln_test_driver)
add_test(NAME postgres/suite
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/run.sh $<TARGET_FILE:kiln_postgres_tests>)
set_tests_properties(postgres/suite PROPERTIES LABELS postgres TIMEOUT 600)
