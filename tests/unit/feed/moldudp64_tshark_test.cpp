// Our MoldUDP64 framing, read by an independent implementation: Debian's
// tshark and its moldudp64 dissector decode a pcap we wrote (PcapWriter,
// PacketBuilder) and must see our session, sequence numbers, counts and
// block lengths. Needs only the tshark binary (scripts/install-deps), no
// privileges: it reads a file.
#include <cstdio>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "aether/feed/moldudp64.hpp"
#include "aether/feed/pcap_file.hpp"

namespace aether::feed {
namespace {

std::string run(const std::string& command) {
  std::string output;
  std::FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return output;
  char chunk[4096];
  std::size_t got = 0;
  while ((got = std::fread(chunk, 1, sizeof chunk, pipe)) > 0) output.append(chunk, got);
  pclose(pipe);
  return output;
}

TEST(MoldUdp64Tshark, DissectorReadsOurSessionSequenceAndBlocks) {
  ASSERT_EQ(std::system("command -v tshark >/dev/null 2>&1"), 0) << "tshark is missing: run scripts/install-deps";
  const std::string path = testing::TempDir() + "aether_mold_tshark.pcap";
  {
    auto writer = PcapWriter::create(path);
    ASSERT_TRUE(writer) << writer.error().describe();
    std::vector<std::byte> buffer(mold::header_size + mold::default_payload_size);
    mold::PacketBuilder builder(buffer);
    builder.begin("AETHER0001", 1);
    ASSERT_TRUE(builder.try_add(std::vector<std::byte>(36, std::byte{'A'})));
    ASSERT_TRUE(builder.try_add(std::vector<std::byte>(19, std::byte{'D'})));
    ASSERT_TRUE(writer->write_udp(builder.finish(), 1'000'000'000));
    ASSERT_TRUE(writer->write_udp(builder.header_only("AETHER0001", 3, mold::heartbeat_count), 2'000'000'000));
    ASSERT_TRUE(writer->write_udp(builder.header_only("AETHER0001", 3, mold::end_of_session_count), 3'000'000'000));
    // A retransmission request for message 2 (client to re-request server).
    ASSERT_TRUE(writer->write_udp(builder.header_only("AETHER0001", 2, 1), 4'000'000'000));
    ASSERT_TRUE(writer->close());
  }
  const std::string output = run(
      "tshark -n -r " + path + " -d udp.port==" + std::to_string(default_feed_port) +
      ",moldudp64 -T fields -E separator=';' -e moldudp64.session -e moldudp64.sequence -e moldudp64.count"
      " -e moldudp64.msgseq -e moldudp64.msglen -e _ws.malformed -e _ws.expert 2>/dev/null");
  // One line per packet; repeated fields are comma-joined. The dissector
  // calls any 20-byte packet with a count above 0 a request, so it flags our
  // end of session (count 0xFFFF, no blocks) as one too: its heuristic, not
  // a framing error (MoldUDP64 v1.00 tells them apart by direction only).
  EXPECT_EQ(output,
            "AETHER0001;1;2;1,2;36,19;;\n"
            "AETHER0001;3;0;;;;\n"
            "AETHER0001;3;65535;;;;Expert Info (Comment/Comment): Number of Requested Messages\n"
            "AETHER0001;2;1;;;;Expert Info (Comment/Comment): Number of Requested Messages\n")
      << output;
  std::remove(path.c_str());
}

}  // namespace
}  // namespace aether::feed
