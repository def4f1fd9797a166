// GoogleTest glue for guest tests: the skip-or-fail policy in one place.
#pragma once

#include <gtest/gtest.h>

#include "guest_vm.hpp"

// Makes sure a guest of `kernel` can boot (fetching the kernel if needed).
// If it cannot, the test fails in CI or with AETHER_GUEST_REQUIRED=1, and is
// skipped loudly elsewhere, naming what is missing. Use at the top of a test.
#define AETHER_REQUIRE_GUEST(kernel)                                                                      \
  do {                                                                                                    \
    if (auto aether_guest_ready = ::aether::test::guest_available(kernel); !aether_guest_ready) {         \
      if (::aether::test::guest_required()) {                                                             \
        FAIL() << "guest tests are required here (CI or AETHER_GUEST_REQUIRED) but cannot run: "          \
               << aether_guest_ready.error().describe();                                                  \
      }                                                                                                   \
      GTEST_SKIP() << "\n*** GUEST TEST SKIPPED: no " << (kernel) << " guest can boot on this machine ***\n" \
                   << aether_guest_ready.error().describe()                                               \
                   << "\n*** run scripts/install-deps as root, then scripts/guest/fetch-kernel " << (kernel)  \
                   << " ***";                                                                             \
    }                                                                                                     \
  } while (false)
