// `aether feed verify`: runs a generated day (streamed, any length) or a
// pcap through the fast order book and the reference book side by side and
// reports every divergence; exit 1 if there is any. The 10^8-message check
// of docs/market-data.md is this command.
#include <chrono>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "aether/feed/book_check.hpp"
#include "aether/feed/day_generator.hpp"
#include "aether/feed/itch_decoder.hpp"
#include "aether/feed/pcap_file.hpp"
#include "feed_commands.hpp"

namespace aether::cli {
namespace {

// Full comparisons this often (every level of every symbol).
constexpr std::uint64_t full_check_interval = std::uint64_t{1} << 22;

struct Verification {
  std::unique_ptr<feed::BookCheck> books = std::make_unique<feed::BookCheck>();
  feed::DropCounters drops;
  std::uint64_t messages = 0;
  std::uint64_t full_checks = 0;
  std::uint64_t full_check_differences = 0;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();

  void packet(std::span<const std::byte> bytes) {
    (void)feed::mold::parse_packet(bytes, drops, [this](std::uint64_t, std::span<const std::byte> message) {
      (void)feed::decode_message(message, *books, drops);
      if (++messages % full_check_interval == 0) full_check();
    });
  }
  void full_check() {
    full_check_differences += books->compare_all();
    ++full_checks;
    if (messages % (full_check_interval * 8) == 0) {
      fmt::print("  {} messages, {} divergences so far, {:.0f} s\n", messages,
                 books->top_divergences() + full_check_differences, seconds());
    }
  }
  [[nodiscard]] double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
};

int report(Verification& run) {
  run.full_check();
  const feed::BookAnomalies& anomalies = run.books->fast().anomalies();
  fmt::print(
      "{} messages ({} book messages), {:.0f} s\n"
      "best bid/offer divergences after each book message: {}\n"
      "full comparisons (every level of every symbol): {}, differences: {}\n"
      "live orders at the end: {} (reference: {})\n"
      "anomalies: bad add {}, duplicate order {}, unknown order {}, overfill {}\n"
      "drops: {}\n",
      run.messages, run.books->book_messages(), run.seconds(), run.books->top_divergences(), run.full_checks,
      run.full_check_differences, run.books->fast().order_count(), run.books->reference().order_count(),
      anomalies.bad_add, anomalies.duplicate_order, anomalies.unknown_order, anomalies.overfill, run.drops.total());
  const bool identical = run.books->top_divergences() == 0 && run.full_check_differences == 0;
  fmt::print("{}\n", identical ? "zero divergence" : "DIVERGED");
  return identical ? exit_ok : exit_failure;
}

}  // namespace

void register_feed_verify(CLI::App& feed_command, int& exit_code) {
  static feed::DayConfig config;
  static std::string pcap;
  CLI::App* command = feed_command.add_subcommand(
      "verify", "Check the fast order book against the reference book over a generated day or a pcap");
  command->add_option("--seed", config.seed, "Random seed of the generated day")->capture_default_str();
  command->add_option("--symbols", config.symbols, "Symbols of the generated day")->capture_default_str()->check(CLI::Range(1, 65535));
  command->add_option("--messages", config.messages, "Messages of the generated day")->capture_default_str();
  command->add_option("--pcap", pcap, "Read this pcap (aether feed generate --out) instead of generating");
  command->callback([&exit_code] {
    Verification run;
    if (!pcap.empty()) {
      auto reader = feed::PcapReader::open(pcap);
      if (!reader) {
        fmt::print(stderr, "aether feed verify: {}\n", reader.error().describe());
        exit_code = exit_failure;
        return;
      }
      feed::PcapRecord record;
      for (;;) {
        auto more = reader->next(record);
        if (!more) {
          fmt::print(stderr, "aether feed verify: {}\n", more.error().describe());
          exit_code = exit_failure;
          return;
        }
        if (!*more) break;
        run.packet(record.udp_payload);
      }
    } else {
      const feed::PacketSink sink = [&run](std::span<const std::byte> packet, std::uint64_t) -> Result<void> {
        run.packet(packet);
        return {};
      };
      auto stats = feed::generate_day(config, sink);
      if (!stats) {
        fmt::print(stderr, "aether feed verify: {}\n", stats.error().describe());
        exit_code = exit_failure;
        return;
      }
    }
    exit_code = report(run);
  });
}

}  // namespace aether::cli
