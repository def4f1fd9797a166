// `aether feed replay --port SPEC --rate N|max`: the publisher
// (feed_publisher.hpp) on one pinned worker: a generated day as MoldUDP64
// multicast frames, paced by the TSC, every Nth data packet left out with
// --gap-every, and re-requests answered from the day's store until
// --linger seconds after the last packet.
#include <arpa/inet.h>

#include <charconv>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "aether/feed/feed_publisher.hpp"
#include "feed_commands.hpp"
#include "feed_worker.hpp"
#include "opened_port.hpp"

namespace aether::cli {
namespace {

struct ReplayOptions {
  std::string port;
  std::string rate = "100000";
  std::uint64_t gap_every = 0;
  feed::DayConfig day;
  std::string group = "239.54.12.111:26400";
  std::string ip = "10.0.0.1";  // source of the feed on L2 ports
  unsigned udp_port = 26400;
  double linger = 1;
  std::size_t buffers = 16384;
  double link_timeout = 10;
  FeedWorkerOptions worker{-1, 0, 0, "aether-replay"};
};

// "A.B.C.D:PORT" -> endpoint with the group's MAC.
Result<net::UdpEndpoint> parse_group(const std::string& text) {
  const auto colon = text.rfind(':');
  unsigned port = 0;
  const char* end = text.data() + text.size();
  const auto ip = colon == std::string::npos ? std::nullopt : net::parse_ipv4_be(text.substr(0, colon));
  if (!ip || std::from_chars(text.data() + colon + 1, end, port).ptr != end || port == 0 || port > 65535) {
    return Error{std::make_error_code(std::errc::invalid_argument),
                 fmt::format("--group {}: expected A.B.C.D:PORT (e.g. 239.54.12.111:26400)", text)};
  }
  return net::UdpEndpoint{feed::multicast_mac(*ip), *ip, htons(static_cast<std::uint16_t>(port))};
}

int run_replay(const ReplayOptions& options) {
  const auto fail = [](const Error& error) {
    fmt::print(stderr, "aether feed replay: {}\n", error.describe());
    return exit_failure;
  };
  auto group = parse_group(options.group);
  if (!group) return fail(group.error());
  double rate = 0;
  if (options.rate != "max" && (std::from_chars(options.rate.data(), options.rate.data() + options.rate.size(), rate).ec !=
                                    std::errc() || rate <= 0)) {
    return fail(Error{std::make_error_code(std::errc::invalid_argument),
                      fmt::format("--rate {}: expected messages per second (a positive number) or max", options.rate)});
  }
  auto opened = open_port_with_pool(options.port, 0, options.buffers);
  if (!opened) return fail(opened.error());
  if (auto up = wait_for_link(*opened->port, options.link_timeout); !up) return fail(up.error());
  const auto started = std::chrono::steady_clock::now();
  auto day = feed::record_day(options.day);
  if (!day) return fail(day.error());
  fmt::print(stderr, "aether feed replay: day of {} messages in {} packets generated in {:.1f} s\n", day->stats.messages,
             day->packets.size(), std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  const Clock clock = Clock::calibrate();
  feed::FeedPublisherConfig config;
  config.source = {opened->port->info().mac, *net::parse_ipv4_be(options.ip), htons(static_cast<std::uint16_t>(options.udp_port))};
  config.group = *group;
  config.messages_per_second = rate;
  config.gap_every = options.gap_every;
  config.ticks_per_second = clock.ticks_per_ns() * 1e9;
  auto publisher = std::make_unique<feed::FeedPublisher>(opened->port->queue(0), *opened->pool, *day, config);
  const auto& c = publisher->counters();
  // Done once every packet left and nothing was asked for `linger` seconds.
  auto quiet_since = std::chrono::steady_clock::now();
  std::uint64_t last_requests = 0;
  auto stats = run_feed_worker(options.worker, *publisher, [&] {
    const auto now = std::chrono::steady_clock::now();
    if (c.done.get() == 0 || c.requests.get() != last_requests) {
      last_requests = c.requests.get();
      quiet_since = now;
    }
    return std::chrono::duration<double>(now - quiet_since).count() >= options.linger;
  });
  if (!stats) return fail(stats.error());
  fmt::print("sent {} packets ({} messages); left out {} packets ({} messages) as injected gaps; tx full {} times\n",
             c.packets_sent.get(), c.messages_sent.get(), c.packets_skipped.get(), c.messages_skipped.get(),
             c.tx_full.get());
  fmt::print("end of session repeated {} times after the last packet\n", c.end_of_session_repeats.get());
  fmt::print("requests {}: answered {}, refused {}, answers dropped {}; orders received {}; other frames {}\n",
             c.requests.get(), c.requests_answered.get(), c.requests_refused.get(), c.answers_dropped.get(),
             c.orders.get(), c.other_frames.get());
  fmt::print("send lateness (due -> taken by tx_burst): {}\n", describe_ticks(publisher->send_lateness_ticks(), clock));
  fmt::print("wire to wire (triggering packet due -> order received): {}; untimed orders {}\n",
             describe_ticks(publisher->wire_to_wire_ticks(), clock), c.orders_untimed.get());
  fmt::print("book: {} live orders at the end of the day, digest {:#018x}\n", day->stats.live_orders_at_close,
             day->book_digest);
  return c.done.get() > 0 ? exit_ok : exit_failure;
}

}  // namespace

void register_feed_replay(CLI::App& feed_command, int& exit_code) {
  auto options = std::make_shared<ReplayOptions>();
  CLI::App* command = feed_command.add_subcommand(
      "replay", "Publisher: send a generated day over a port as MoldUDP64 multicast, paced, with injected gaps, and "
                "answer re-requests (docs/market-data.md)");
  command->add_option("--port", options->port, "Port spec to send on, e.g. udp:127.0.0.1:0, memif:@feed?role=server")
      ->required();
  command->add_option("--rate", options->rate, "Messages per second, or max")->capture_default_str();
  command->add_option("--gap-every", options->gap_every, "Leave out every Nth data packet (0: none)")->capture_default_str();
  command->add_option("--seed", options->day.seed, "Seed of the day")->capture_default_str();
  command->add_option("--symbols", options->day.symbols, "Symbols")->capture_default_str()->check(CLI::Range(1, 65535));
  command->add_option("--messages", options->day.messages, "ITCH messages in the day")->capture_default_str();
  command->add_option("--session", options->day.session, "MoldUDP64 session")->capture_default_str();
  command->add_option("--group", options->group, "Destination A.B.C.D:PORT (a multicast group, or unicast)")
      ->capture_default_str();
  command->add_option("--ip", options->ip, "Source IPv4 on L2 ports")->capture_default_str()->check(CLI::ValidIPV4);
  command->add_option("--udp-port", options->udp_port, "Source UDP port on L2 ports")
      ->capture_default_str()
      ->check(CLI::Range(1, 65535));
  command->add_option("--linger", options->linger, "Seconds to keep answering re-requests after the last packet")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command->add_option("--link-timeout", options->link_timeout, "Seconds to wait for the port's link (a memif peer)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command->add_option("--buffers", options->buffers, "Packet buffers")->capture_default_str()->check(CLI::Range(1024, 1 << 20));
  command->add_option("--cpu", options->worker.cpu, "CPU of the worker (default: the last allowed)")
      ->check(CLI::NonNegativeNumber);
  command->add_option("--fifo", options->worker.fifo_priority, "SCHED_FIFO priority of the worker")->check(CLI::Range(1, 99));
  command->add_option("--seconds", options->worker.seconds, "Stop after this long (default: when done)")
      ->check(CLI::NonNegativeNumber);
  command->callback([options, &exit_code] { exit_code = run_replay(*options); });
}

}  // namespace aether::cli
