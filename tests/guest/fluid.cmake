# The fluid partition in a guest (fluid_guest_test.cpp): `aether fluid run`
# (the static CLI: BPF telemetry, policy, governor, actuator) resizing a
# cgroup v2 cpuset inside an isolated partition on Debian's 6.1 and 6.12.
if(TARGET aether_fluid)
  add_executable(aether_fluid_guest_tests fluid_guest_test.cpp)
  target_link_libraries(aether_fluid_guest_tests PRIVATE aether_guest_harness GTest::gtest GTest::gtest_main GTest::gmock)
  target_compile_definitions(aether_fluid_guest_tests PRIVATE AETHER_STATIC_CLI_PATH="$<TARGET_FILE:aether_static_cli>")
  add_dependencies(aether_fluid_guest_tests aether_static_cli)
  gtest_discover_tests(aether_fluid_guest_tests PROPERTIES LABELS guest TIMEOUT 900 RESOURCE_LOCK aether_guest_vm DISCOVERY_TIMEOUT 30)
endif()
