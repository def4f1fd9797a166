// `aether feed generate`: a seeded, reproducible trading day of ITCH 5.0 in
// MoldUDP64 packets, written as a pcap file, or as Nasdaq's ITCH binary
// file for other ITCH books (docs/market-data.md).
#include <chrono>
#include <string>

#include <fmt/format.h>

#include "aether/feed/day_generator.hpp"
#include "aether/feed/itch_messages.hpp"
#include "aether/feed/pcap_file.hpp"
#include "feed_commands.hpp"

namespace aether::cli {
namespace {

void print_day(const feed::DayStats& stats, const std::string& path, double seconds) {
  fmt::print("wrote {}: {} messages in {} packets (+{} heartbeats, end of session), {:.1f} MB of UDP payload, {:.1f} s\n",
             path, stats.messages, stats.packets, stats.heartbeats, static_cast<double>(stats.bytes) / 1e6, seconds);
  fmt::print("live orders at the close: {}\n\n{:<5} {:<36} {:>12} {:>8}\n", stats.live_orders_at_close, "type", "message",
             "count", "share");
  feed::itch::for_each_message_type([&stats](auto message) {
    using Message = decltype(message);
    const std::uint64_t count = stats.by_type[static_cast<unsigned char>(Message::type)];
    if (count == 0) return;
    fmt::print("{:<5} {:<36} {:>12} {:>7.3f}%\n", Message::type, feed::itch::message_name(Message::type), count,
               100.0 * static_cast<double>(count) / static_cast<double>(stats.messages));
  });
}

}  // namespace

void register_feed_generate(CLI::App& feed_command, int& exit_code) {
  static feed::DayConfig config;
  static std::string out;
  static std::string format = "pcap";
  CLI::App* command = feed_command.add_subcommand(
      "generate", "Write a seeded, reproducible trading day of ITCH 5.0 in MoldUDP64 packets to a pcap file");
  command->add_option("--seed", config.seed, "Random seed: the same seed writes the same bytes")->capture_default_str();
  command->add_option("--symbols", config.symbols, "Symbols (stock locates 1..N)")->capture_default_str()->check(CLI::Range(1, 65535));
  command->add_option("--messages", config.messages, "ITCH messages in the day, all types")->capture_default_str();
  command->add_option("--session", config.session, "MoldUDP64 session name (10 characters at most)")->capture_default_str();
  command->add_option("--out", out, "File to write")->required();
  command
      ->add_option("--format", format,
                   "pcap: MoldUDP64 datagrams to 233.54.12.111:26400; itch: Nasdaq's ITCH 5.0 binary file "
                   "(2-byte length, message), as other ITCH books read")
      ->capture_default_str()
      ->check(CLI::IsMember({"pcap", "itch"}));
  command->callback([&exit_code] {
    const auto start = std::chrono::steady_clock::now();
    auto stats = format == "itch" ? feed::write_day_itch_file(config, out) : feed::write_day_pcap(config, out);
    if (!stats) {
      fmt::print(stderr, "aether feed generate: {}\n", stats.error().describe());
      exit_code = exit_failure;
      return;
    }
    print_day(*stats, out, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    exit_code = exit_ok;
  });
}

}  // namespace aether::cli
