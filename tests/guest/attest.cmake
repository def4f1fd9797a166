# The attested partition in a guest (attest_guest_test.cpp): QEMU's tpm-tis
# on an swtpm the test starts (the guest's own TPM; the host then binds its
# AK to its EK with aether::attest), NICs bound to vfio-pci in the guest, and the
# dynamic `aether` (the static guest CLI has no attest: Debian ships libtss2
# as shared libraries only), stripped of its debug info to keep the
# initramfs small; the test adds the shared libraries ldd names.
set(aether_attest_guest_cli ${CMAKE_CURRENT_BINARY_DIR}/aether-attest-guest)
add_custom_command(OUTPUT ${aether_attest_guest_cli}
  COMMAND ${CMAKE_OBJCOPY} --strip-debug $<TARGET_FILE:aether_cli> ${aether_attest_guest_cli}
  DEPENDS aether_cli VERBATIM)
add_custom_target(aether_attest_guest_cli DEPENDS ${aether_attest_guest_cli})
add_executable(aether_attest_guest_tests attest_guest_test.cpp)
target_link_libraries(aether_attest_guest_tests PRIVATE aether_guest_harness aether::attest GTest::gtest GTest::gtest_main GTest::gmock)
target_compile_definitions(aether_attest_guest_tests PRIVATE AETHER_ATTEST_GUEST_CLI_PATH="${aether_attest_guest_cli}")
add_dependencies(aether_attest_guest_tests aether_attest_guest_cli)
gtest_discover_tests(aether_attest_guest_tests
  PROPERTIES LABELS guest TIMEOUT 900 RESOURCE_LOCK aether_guest_vm
  DISCOVERY_TIMEOUT 30)
