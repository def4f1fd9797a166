// check_tpm_device: a "device:" TCTI whose node is missing gets an error
// saying whether the machine has any TPM at all, over a fake /dev (the
// guest test AttestGuest.* checks the real one, with the TPM driver unbound).
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "aether/attest/tpm_device.hpp"

namespace aether::attest {
namespace {

using ::testing::HasSubstr;

class FakeDev : public ::testing::Test {
 protected:
  void SetUp() override {
    dev_ = std::filesystem::temp_directory_path() /
           ("aether-fake-dev-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::remove_all(dev_);
    std::filesystem::create_directories(dev_);
    add("tty0");
    add("tpmfake");  // not a TPM node: no number
  }
  void TearDown() override { std::filesystem::remove_all(dev_); }
  void add(const std::string& name) { std::ofstream(dev_ / name) << ""; }
  std::string tcti(const std::string& name) const { return "device:" + (dev_ / name).string(); }
  std::filesystem::path dev_;
};

TEST_F(FakeDev, NoTpmNodeAtAllSaysTheMachineHasNoTpm) {
  const auto checked = check_tpm_device(tcti("tpmrm0"), dev_);
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().code, std::make_error_code(std::errc::no_such_device));
  const std::string message = checked.error().describe();
  EXPECT_THAT(message, HasSubstr("no TPM in this machine"));
  EXPECT_THAT(message, HasSubstr((dev_ / "tpmrm0").string() + ", which does not exist"));
  EXPECT_THAT(message, HasSubstr("there is no " + dev_.string() + "/tpm* at all"));
  EXPECT_THAT(message, HasSubstr("--tcti"));
}

TEST_F(FakeDev, OtherTpmNodesAreNamedWithTheResourceManagedOneSuggested) {
  add("tpm0");
  add("tpmrm0");
  const auto checked = check_tpm_device(tcti("tpmrm1"), dev_);
  ASSERT_FALSE(checked);
  const std::string message = checked.error().describe();
  EXPECT_THAT(message, HasSubstr((dev_ / "tpmrm1").string() + " does not exist"));
  EXPECT_THAT(message, HasSubstr("this machine has " + (dev_ / "tpm0").string() + ", " + (dev_ / "tpmrm0").string()));
  EXPECT_THAT(message, HasSubstr("pass --tcti device:" + (dev_ / "tpmrm0").string()));
}

TEST_F(FakeDev, AnExistingNodeAndOtherTctisPass) {
  add("tpmrm0");
  EXPECT_TRUE(check_tpm_device(tcti("tpmrm0"), dev_));
  EXPECT_TRUE(check_tpm_device("swtpm:path=/nonexistent/swtpm.sock", dev_));
  EXPECT_TRUE(check_tpm_device("device", dev_));
  EXPECT_TRUE(check_tpm_device("device:", dev_));
}

}  // namespace
}  // namespace aether::attest
