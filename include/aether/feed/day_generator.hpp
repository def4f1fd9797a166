// A synthetic, reproducible Nasdaq trading day as MoldUDP64 packets.
//
// Same config (seed included) -> the same bytes, on any machine: the only
// randomness is std::mt19937_64, whose output the C++ standard fixes, mapped
// to ranges by our own arithmetic (never the std:: distributions, whose
// output is implementation-defined).
//
// The day follows the published shape of a real one (shared specs section
// 5, Nasdaq's 30 Oct 2019 file): System Event 'O', the Stock Directory and a
// trading action for every symbol, MWCB levels, 'S' at 04:00, 3.3% of the
// flow before the 09:30 open, 95.7% in market hours with bursts in the first
// 15 and the last 10 minutes, 1% after 16:00, 'E' at 20:00, 'C' at 20:05,
// then End of Session. The order flow keeps the real mix (add 43.7%,
// delete 41.9%, replace 8.7%, execute 2.5%, NOII 1.3%, cancel 1.2%, trade
// 0.5%, ...), every delete, execute, cancel and replace names a live order,
// and prices walk per symbol in cents around a mid.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "aether/core/result.hpp"
#include "aether/feed/moldudp64.hpp"

namespace aether::feed {

struct DayConfig {
  std::uint64_t seed = 1;
  std::uint32_t symbols = 1000;        // locates 1..symbols; at most 65535
  std::uint64_t messages = 1'000'000;  // ITCH messages in the day, directory and system events included
  std::string session = "AETHER0001";  // MoldUDP64 session (10 characters at most)
  std::size_t payload_size = mold::default_payload_size;  // message blocks per packet, bytes
  // A packet closes when the next message is due more than this after its
  // first one (a real feed sends as soon as it can; this is its coalescing).
  std::uint64_t packet_window_ns = 20'000;
};

struct DayStats {
  std::uint64_t messages = 0;
  std::uint64_t packets = 0;     // data packets
  std::uint64_t heartbeats = 0;  // sent in quiet periods of over a second
  std::uint64_t bytes = 0;       // UDP payload bytes, all packets
  std::uint64_t live_orders_at_close = 0;
  std::array<std::uint64_t, 256> by_type{};  // messages per ITCH type byte
};

// Receives each finished packet (data, heartbeat, end of session) with the
// time it is due, ns since midnight.
using PacketSink = std::function<Result<void>(std::span<const std::byte> packet, std::uint64_t due_ns)>;

// The minimum `messages` for `symbols`: directory, trading actions and
// system events come first and must fit.
[[nodiscard]] std::uint64_t minimum_day_messages(std::uint32_t symbols) noexcept;

// Generates the day into `sink`. Errors: a config out of range (named), or
// the first error the sink returns.
[[nodiscard]] Result<DayStats> generate_day(const DayConfig& config, const PacketSink& sink);

// The day as a pcap file (pcap_file.hpp), stamped on a fixed calendar day.
[[nodiscard]] Result<DayStats> write_day_pcap(const DayConfig& config, const std::string& path);

// The day's messages in Nasdaq's ITCH 5.0 binary file format: each message
// after its length (2 bytes, big-endian), no packet framing; the format of
// Nasdaq's historical ITCH files, which other ITCH books read.
[[nodiscard]] Result<DayStats> write_day_itch_file(const DayConfig& config, const std::string& path);

// The stock symbol of a 0-based symbol index: "A".."Z", "AA", ... (unique).
[[nodiscard]] std::string symbol_name(std::uint32_t index);

}  // namespace aether::feed
