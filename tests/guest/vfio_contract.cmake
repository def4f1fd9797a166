# Issue 10's conformance suite on vfio ports (vfio_contract_guest_test.cpp):
# aether-vfio-contract, a static gtest program with the port contract's
# checks, run in a guest on Aether's virtio-net and e1000e drivers.
# attest_static_stub.cpp: the archives' command table names the attest
# commands, which a static link cannot have (see CMakeLists.txt).
add_executable(aether_vfio_contract vfio_contract/vfio_contract_main.cpp attest_static_stub.cpp)
set_target_properties(aether_vfio_contract PROPERTIES OUTPUT_NAME aether-vfio-contract)
target_include_directories(aether_vfio_contract PRIVATE ${PROJECT_SOURCE_DIR}/include)
# Debian's libgtest is a static archive only: fine for a static program.
target_link_libraries(aether_vfio_contract PRIVATE GTest::gtest GTest::gtest_main CLI11::CLI11)
aether_link_static(aether_vfio_contract)

add_executable(aether_vfio_contract_guest_tests vfio_contract_guest_test.cpp)
target_link_libraries(aether_vfio_contract_guest_tests PRIVATE aether_guest_harness GTest::gtest GTest::gtest_main GTest::gmock)
target_compile_definitions(aether_vfio_contract_guest_tests PRIVATE AETHER_STATIC_CLI_PATH="$<TARGET_FILE:aether_static_cli>"
  AETHER_VFIO_CONTRACT_PATH="$<TARGET_FILE:aether_vfio_contract>")
add_dependencies(aether_vfio_contract_guest_tests aether_static_cli aether_vfio_contract)
gtest_discover_tests(aether_vfio_contract_guest_tests
  PROPERTIES LABELS guest TIMEOUT 900 RESOURCE_LOCK aether_guest_vm
  DISCOVERY_TIMEOUT 30)
