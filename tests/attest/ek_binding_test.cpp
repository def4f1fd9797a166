// The AK bound to the EK by credential activation (credential.hpp): a
// verifier with its own TPM (a second swtpm) challenges the attesting TPM's
// EK for its AK; the right AK gives the secret back, a wrong AK does not.
#include <gtest/gtest.h>

#include "aether/attest/credential.hpp"
#include "swtpm_fixture.hpp"

namespace aether::attest::test {
namespace {

class EkBinding : public SwtpmTest {
 protected:
  void SetUp() override {
    SwtpmTest::SetUp();
    auto other = SwtpmProcess::start();
    ASSERT_TRUE(other) << other.error().describe();
    other_swtpm_.emplace(std::move(*other));
  }
  // A session on the second swtpm: the verifier's TPM, or another machine's.
  TpmSession open_other() {
    auto session = TpmSession::open(TpmOptions{other_swtpm_->tcti(), true, false});
    EXPECT_TRUE(session) << session.error().describe();
    if (!session) std::abort();
    return std::move(*session);
  }

  std::optional<SwtpmProcess> other_swtpm_;
};

TEST_F(EkBinding, TheEkIsStableAndTheAkOfItsTpmActivatesTheCredential) {
  TpmSession attester = open();
  auto ek = attester.endorsement_key();
  ASSERT_TRUE(ek) << ek.error().describe();
  auto again = attester.endorsement_key();
  ASSERT_TRUE(again) << again.error().describe();
  EXPECT_EQ(*ek, *again);
  EXPECT_EQ(ek->x.size(), 32u);

  TpmSession verifier = open_other();
  auto challenge = challenge_attestation_key(verifier, *ek, attester.attestation_key());
  ASSERT_TRUE(challenge) << challenge.error().describe();
  auto answer = attester.activate_credential(challenge->challenge);
  ASSERT_TRUE(answer) << answer.error().describe();
  EXPECT_TRUE(check_activation(*challenge, *answer));
  // EK, loaded external key and policy session all flushed: only each session's AK is left.
  auto counts = attester.handle_counts();
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->transient_objects, 1u);
  EXPECT_EQ(counts->loaded_sessions, 0u);
  auto verifier_counts = verifier.handle_counts();
  ASSERT_TRUE(verifier_counts);
  EXPECT_EQ(verifier_counts->transient_objects, 1u);
}

// The wrong-AK case: the verifier is handed another TPM's AK as if it were
// this TPM's. The challenge is made for that AK's name under this TPM's EK:
// this TPM cannot answer it with its own AK, and the other TPM cannot
// answer it without this EK. Either way the binding is rejected.
TEST_F(EkBinding, AnAkFromAnotherTpmIsRejected) {
  TpmSession attester = open();
  TpmSession other = open_other();
  ASSERT_NE(attester.attestation_key(), other.attestation_key());
  auto ek = attester.endorsement_key();
  ASSERT_TRUE(ek) << ek.error().describe();

  auto challenge = challenge_attestation_key(other, *ek, other.attestation_key());
  ASSERT_TRUE(challenge) << challenge.error().describe();
  auto by_this_tpm = attester.activate_credential(challenge->challenge);
  EXPECT_FALSE(by_this_tpm && check_activation(*challenge, *by_this_tpm)) << "FALSE ACCEPT of another TPM's AK";
  if (!by_this_tpm) {
    EXPECT_NE(by_this_tpm.error().message.find("TPM2_ActivateCredential"), std::string::npos)
        << by_this_tpm.error().message;
  }
  auto by_other_tpm = other.activate_credential(challenge->challenge);
  EXPECT_FALSE(by_other_tpm && check_activation(*challenge, *by_other_tpm)) << "FALSE ACCEPT by the other TPM";

  // A wrong answer is named.
  const auto wrong = check_activation(*challenge, std::vector<std::uint8_t>(32, 0));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().message.rfind("attestation key: not bound to the endorsement key", 0), 0u);
  // Failed activations flushed their EK and session too.
  auto counts = attester.handle_counts();
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->transient_objects, 1u);
  EXPECT_EQ(counts->loaded_sessions, 0u);
}

}  // namespace
}  // namespace aether::attest::test
