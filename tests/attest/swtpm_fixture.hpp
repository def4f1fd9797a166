// A test with its own freshly manufactured swtpm and helpers around it.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "aether/attest/attestation.hpp"
#include "aether/attest/swtpm_process.hpp"
#include "aether/attest/tpm_session.hpp"

namespace aether::attest::test {

class SwtpmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = SwtpmProcess::start();
    ASSERT_TRUE(started) << started.error().describe();
    swtpm_.emplace(std::move(*started));
  }

  [[nodiscard]] std::string tcti() const { return swtpm_->tcti(); }
  [[nodiscard]] const std::filesystem::path& directory() const { return swtpm_->directory(); }

  // A session; `reclaim` false to look at what others left.
  TpmSession open(bool reclaim = true) {
    auto session = TpmSession::open(TpmOptions{tcti(), reclaim, false});
    EXPECT_TRUE(session) << session.error().describe();
    if (!session) std::abort();
    return std::move(*session);
  }

  // Transient objects and sessions loaded now, besides the counting session's own AK.
  TpmHandleCounts leftovers() {
    TpmSession counter = open(false);
    auto counts = counter.handle_counts();
    EXPECT_TRUE(counts) << counts.error().describe();
    if (!counts) return {};
    return TpmHandleCounts{counts->transient_objects - 1, counts->loaded_sessions};
  }

 private:
  std::optional<SwtpmProcess> swtpm_;
};

}  // namespace aether::attest::test
