// Policy comparison: every mismatch is named, with the lines that differ.
#include <fstream>

#include <gtest/gtest.h>

#include "aether/attest/policy.hpp"
#include "fake_attest_host.hpp"

namespace aether::attest {
namespace {

EventLog sample_log() {
  EventLog log;
  log.events = {make_event("partition.irqs", "default 3\nirq 24 0-1\nirq 25 0-1\n"),
                make_event("partition.rt", "sched_rt_runtime_us -1\n")};
  return log;
}

bool mentions(const std::vector<std::string>& lines, std::string_view text) {
  for (const auto& line : lines) {
    if (line.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST(Policy, AgreesWithTheLogItWasMadeFrom) {
  const EventLog log = sample_log();
  EXPECT_TRUE(compare_with_policy(log, policy_from_log(log, std::nullopt)).empty());
}

TEST(Policy, ChangedLineIsNamedWithBothValues) {
  const Policy policy = policy_from_log(sample_log(), std::nullopt);
  EventLog log = sample_log();
  log.events[0] = make_event("partition.irqs", "default 3\nirq 24 2\nirq 25 0-1\n");
  const auto mismatches = compare_with_policy(log, policy);
  ASSERT_EQ(mismatches.size(), 1u);
  EXPECT_NE(mismatches[0].find("partition.irqs"), std::string::npos);
  EXPECT_NE(mismatches[0].find("'irq 24 2'"), std::string::npos) << mismatches[0];
  EXPECT_NE(mismatches[0].find("'irq 24 0-1'"), std::string::npos) << mismatches[0];
}

TEST(Policy, MissingAndUnexpectedMeasurementsAreNamed) {
  const Policy policy = policy_from_log(sample_log(), std::nullopt);
  EventLog log = sample_log();
  log.events.pop_back();
  log.events.push_back(make_event("device.0000:00:04.0", "bdf 0000:00:04.0\n"));
  const auto mismatches = compare_with_policy(log, policy);
  EXPECT_EQ(mismatches.size(), 2u);
  EXPECT_TRUE(mentions(mismatches, "partition.rt: in the policy but not measured"));
  EXPECT_TRUE(mentions(mismatches, "device.0000:00:04.0: not in the policy"));
}

TEST(Policy, DuplicateMeasurementIsNamed) {
  const Policy policy = policy_from_log(sample_log(), std::nullopt);
  EventLog log = sample_log();
  log.events.push_back(log.events[1]);
  EXPECT_TRUE(mentions(compare_with_policy(log, policy), "partition.rt: measured twice"));
}

TEST(Policy, JsonRoundTripKeepsTheKey) {
  const AkPublic key{std::vector<std::uint8_t>(32, 1), std::vector<std::uint8_t>(32, 2)};
  const Policy policy = policy_from_log(sample_log(), key);
  auto parsed = policy_from_json(policy_to_json(policy));
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->measurements, policy.measurements);
  ASSERT_TRUE(parsed->attestation_key);
  EXPECT_EQ(*parsed->attestation_key, key);
}

TEST(Policy, BadFilesGetErrorsNamingThem) {
  test::FakeAttestHost tree;  // only for its temporary directory
  const auto missing = read_policy_file(tree.root() / "nope.json");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("nope.json"), std::string::npos) << missing.error().message;

  tree.write("bad.json", "{ not json");
  const auto bad = read_policy_file(tree.root() / "bad.json");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("bad.json: not valid JSON"), std::string::npos) << bad.error().message;

  tree.write("quote.json", R"({"format": "aether-attest-quote/1"})");
  const auto wrong = read_policy_file(tree.root() / "quote.json");
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("not an Aether policy"), std::string::npos) << wrong.error().message;

  tree.write("typed.json", R"({"format": "aether-attest-policy/1", "pcr": 23, "measurements": {"a": 1}})");
  const auto typed = read_policy_file(tree.root() / "typed.json");
  ASSERT_FALSE(typed);
  EXPECT_NE(typed.error().message.find("'a'"), std::string::npos) << typed.error().message;
}

}  // namespace
}  // namespace aether::attest
