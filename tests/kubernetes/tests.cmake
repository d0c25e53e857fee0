# The kubernetes provider against a real kube-apiserver. build_kube.sh builds
# kube-apiserver and kube-controller-manager once per machine (cached under
# /var/cache/kiln-kube); run_with_kube.sh starts etcd, both servers and the
# fake kubelet on fixed loopback ports (etcd 23790/23791, apiserver 16443,
# controller-manager 10257), so these tests run one at a time.
add_executable(kiln_kube_integration_tests ${CMAKE_CURRENT_LIST_DIR}/integration/kube_integration_test.cpp)
target_compile_options(kiln_kube_integration_tests PRIVATE ${KILN_WARNINGS})
target_link_libraries(kiln_kube_integration_tests PRIVATE kiln_cli_lib GTest::gtest GTest::gtest_main)
target_compile_definitions(kiln_kube_integration_tests PRIVATE
  KILN_SOURCE_DIR="${CMAKE_SOURCE_DIR}" KILN_BINARY="$<TARGET_FILE:kiln>")
add_dependencies(kiln_kube_integration_tests kiln)

add_test(NAME kubernetes/build COMMAND ${CMAKE_CURRENT_LIST_DIR}/build_kube.sh)
set_tests_properties(kubernetes/build PROPERTIES LABELS kubernetes TIMEOUT 2400 FIXTURES_SETUP kube_binaries)
add_test(NAME kubernetes/integration
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/run_with_kube.sh $<TARGET_FILE:kiln_kube_integration_tests>)
add_test(NAME kubernetes/example
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/run_with_kube.sh ${CMAKE_CURRENT_LIST_DIR}/example_test.sh $<TARGET_FILE:kiln>)
set_tests_properties(kubernetes/integration kubernetes/example PROPERTIES
  LABELS kubernetes TIMEOUT 900 RUN_SERIAL TRUE FIXTURES_REQUIRED kube_binaries)
