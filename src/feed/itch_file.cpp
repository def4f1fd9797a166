// write_day_itch_file: the generated day in Nasdaq's ITCH 5.0 binary file
// format (see day_generator.hpp).
//
// Nasdaq's historical ITCH files (e.g. 01302019.NASDAQ_ITCH50) are each
// message preceded by its length as a 2-byte big-endian integer
// ("BinaryFILE" format), which is byte for byte a MoldUDP64 message block
// (MoldUDP64 v1.00 section 2: Message Length, then Message Data). So the
// file is the data packets' blocks back to back, without packet headers,
// heartbeats or end of session. Open-source ITCH books read this format.
#include <array>
#include <cerrno>
#include <cstdio>

#include <fmt/format.h>

#include "aether/feed/day_generator.hpp"
#include "aether/feed/drop_counters.hpp"
#include "aether/feed/pcap_file.hpp"

namespace aether::feed {

Result<DayStats> write_day_itch_file(const DayConfig& config, const std::string& path) {
  UniqueFile file(std::fopen(path.c_str(), "wb"));
  if (!file) return errno_error(fmt::format("cannot create {}", path));
  bool write_failed = false;
  const PacketSink sink = [&](std::span<const std::byte> packet, std::uint64_t) -> Result<void> {
    DropCounters drops;
    (void)mold::parse_packet(packet, drops, [&](std::uint64_t, std::span<const std::byte> message) {
      const std::array<unsigned char, 2> length{static_cast<unsigned char>(message.size() >> 8),
                                                static_cast<unsigned char>(message.size() & 0xFF)};
      write_failed |= std::fwrite(length.data(), 1, 2, file.get()) != 2 ||
                      std::fwrite(message.data(), 1, message.size(), file.get()) != message.size();
    });
    if (write_failed) return errno_error(fmt::format("cannot write {}", path));
    return {};
  };
  auto stats = generate_day(config, sink);
  if (!stats) return stats;
  if (std::fclose(file.release()) != 0) return errno_error(fmt::format("cannot write {}", path));
  return stats;
}

}  // namespace aether::feed
