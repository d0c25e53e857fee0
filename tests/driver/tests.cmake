# kiln_test_driver: the kiln CLI plus the fake provider (test-only), for
# the end-to-end tests that run a real kiln process against the fake.
add_executable(kiln_test_driver ${CMAKE_CURRENT_LIST_DIR}/kiln_test_driver_main.cpp)
target_compile_options(kiln_test_driver PRIVATE ${KILN_WARNINGS})
target_link_libraries(kiln_test_driver PRIVATE kiln_cli_lib kiln_fake_provider)
