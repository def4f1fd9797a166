// The event log: digests, replay (the PCR extend formula) and its JSON form.
#include <gtest/gtest.h>

#include "aether/attest/event_log.hpp"

namespace aether::attest {
namespace {

TEST(EventLog, EventDigestIsSha256OfItsData) {
  const Event event = make_event("x", "abc");
  // SHA-256("abc"), FIPS 180-2 appendix B.1.
  EXPECT_EQ(to_hex(event.digest), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(EventLog, ReplayExtendsEveryDigestFromZeros) {
  EventLog log;
  log.events = {make_event("a", "1"), make_event("b", "2")};
  Sha256 expected{};
  expected = sha256_extend(expected, sha256("1"));
  expected = sha256_extend(expected, sha256("2"));
  EXPECT_EQ(log.replay(), expected);
  EXPECT_EQ(EventLog{}.replay(), Sha256{});
}

TEST(EventLog, ReplayDependsOnOrder) {
  EventLog forward;
  forward.events = {make_event("a", "1"), make_event("b", "2")};
  EventLog backward;
  backward.events = {forward.events[1], forward.events[0]};
  EXPECT_NE(forward.replay(), backward.replay());
}

TEST(EventLog, EditedContentIsNamed) {
  EventLog log;
  log.events = {make_event("partition.irqs", "irq 24 0-1\n")};
  EXPECT_TRUE(log.inconsistent_events().empty());
  log.events[0].data = "irq 24 2\n";
  const auto lines = log.inconsistent_events();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("partition.irqs"), std::string::npos) << lines[0];
}

TEST(EventLog, JsonRoundTrip) {
  EventLog log;
  log.events = {make_event("aether.binary", "sha256 00\n"), make_event("iommu", "units none\n")};
  const auto json = log_to_json(log);
  EXPECT_EQ(json[1]["recnum"], 1);
  EXPECT_EQ(json[1]["pcr"], aether_pcr);
  EXPECT_EQ(json[1]["digests"][0]["hashAlg"], "sha256");
  auto parsed = log_from_json(json);
  ASSERT_TRUE(parsed) << parsed.error().message;
  ASSERT_EQ(parsed->events.size(), 2u);
  EXPECT_EQ(parsed->events[1].name, "iommu");
  EXPECT_EQ(parsed->replay(), log.replay());
}

TEST(EventLog, MalformedRecordsAreNamed) {
  EventLog log;
  log.events = {make_event("a", "1")};
  auto json = log_to_json(log);
  json[0]["digests"][0]["digest"] = "zz";
  auto parsed = log_from_json(json);
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().message.find("record 0"), std::string::npos) << parsed.error().message;

  json = log_to_json(log);
  json[0]["content_type"] = "ima_template";
  parsed = log_from_json(json);
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().message.find("content_type"), std::string::npos);

  EXPECT_FALSE(log_from_json(nlohmann::json::object()));
}

TEST(Digest, HexRoundTripAndErrors) {
  const std::vector<std::uint8_t> bytes{0x00, 0xab, 0xff};
  EXPECT_EQ(to_hex(bytes), "00abff");
  auto back = from_hex("00ABff", "test");
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, bytes);
  EXPECT_FALSE(from_hex("abc", "test"));
  EXPECT_FALSE(from_hex("zz", "test"));
  EXPECT_FALSE(sha256_from_hex("00", "test"));
}

}  // namespace
}  // namespace aether::attest
