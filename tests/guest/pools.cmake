# `aether fwd vfio:A vfio:B` on one shared pool against a pool per port, in
# a guest with four NICs (pools_guest_test.cpp). Own file: tests/guest/pools.cmake.
add_executable(aether_pools_guest_tests ${CMAKE_CURRENT_SOURCE_DIR}/pools_guest_test.cpp)
target_link_libraries(aether_pools_guest_tests PRIVATE aether_guest_harness GTest::gtest GTest::gtest_main GTest::gmock)
target_compile_definitions(aether_pools_guest_tests PRIVATE AETHER_STATIC_CLI_PATH="$<TARGET_FILE:aether_static_cli>")
add_dependencies(aether_pools_guest_tests aether_static_cli)
gtest_discover_tests(aether_pools_guest_tests
  PROPERTIES LABELS guest TIMEOUT 420 RESOURCE_LOCK aether_guest_vm
  DISCOVERY_TIMEOUT 30)
