// `aether feed handle --port SPEC`: the feed handler (feed_handler.hpp) on
// one pinned worker: joins the group, decodes, recovers gaps by re-request,
// keeps the book and sends an OUCH Enter Order on each best bid/offer
// change; stops at the end of the session (every gap recovered), at
// --seconds or on Ctrl-C, and prints what it did. Exit 1 if the day is
// incomplete: a gap still open, nothing received, or no end of session
// seen without --seconds.
#include <arpa/inet.h>

#include <memory>
#include <string>

#include <fmt/format.h>

#include "aether/feed/feed_handler.hpp"
#include "feed_commands.hpp"
#include "feed_worker.hpp"
#include "opened_port.hpp"

namespace aether::cli {
namespace {

struct HandleOptions {
  std::string port;
  std::string group = "239.54.12.111";  // "none": do not join
  std::string ip = "10.0.0.2";          // source of requests and orders on L2 ports
  unsigned udp_port = 26401;
  std::string session;
  double request_timeout_us = 1000;
  bool no_orders = false;
  std::size_t buffers = 16384;
  double link_timeout = 10;
  FeedWorkerOptions worker{-1, 0, 0, "aether-feed"};
};

void print_summary(const feed::FeedHandler& handler, net::Port& port, const Clock& clock) {
  const auto& c = handler.counters();
  const net::QueueStats queue = port.stats();
  fmt::print("messages applied {}, data packets {}, heartbeats {}, end of session {}\n", c.messages_applied.get(),
             c.data_packets.get(), c.heartbeats.get(), c.end_of_session.get());
  fmt::print("gaps {} ({} messages missed); recovered: {} times, {} messages, {} symbols touched; requests sent {}, "
             "dropped {}\n",
             c.gaps.get(), c.messages_missed.get(), c.gaps_recovered.get(), c.messages_recovered.get(),
             c.gap_symbols_recovered.get(), c.requests_sent.get(), c.requests_dropped.get());
  fmt::print("frames {}: dropped not udp {}, other session {}, bad packet {}, hold full {}, out of order {}; "
             "duplicates {}; message drops {}\n",
             c.frames.get(), c.dropped_not_udp.get(), c.dropped_other_session.get(), c.dropped_bad_packet.get(),
             c.dropped_hold_full.get(), c.dropped_out_of_order.get(), c.duplicates.get(),
             handler.message_drops().total());
  fmt::print("orders sent {}, dropped {}\n", c.orders_sent.get(), c.orders_dropped.get());
  fmt::print("port: rx {} frames, rx drops {} (kernel {}, no buffer {}), tx {}, tx drops {}\n", queue.rx_packets,
             queue.rx_drops(), queue.rx_drop_kernel, queue.rx_drop_no_buffer, queue.tx_packets, queue.tx_drops());
  fmt::print("tick-to-trade (rx_burst returned -> order taken by tx_burst): {}\n",
             describe_ticks(handler.tick_to_trade_ticks(), clock));
  fmt::print("book: {} live orders, digest {:#018x}\n", handler.book().order_count(), handler.book().digest());
  fmt::print("day complete: {}; gap open: {}\n", c.end_of_session_applied.get() > 0 ? "yes" : "no",
             handler.stale() ? "yes" : "no");
}

int run_handle(const HandleOptions& options) {
  const auto fail = [](const Error& error) {
    fmt::print(stderr, "aether feed handle: {}\n", error.describe());
    return exit_failure;
  };
  auto opened = open_port_with_pool(options.port, 0, options.buffers);
  if (!opened) return fail(opened.error());
  if (auto up = wait_for_link(*opened->port, options.link_timeout); !up) return fail(up.error());
  if (options.group != "none") {
    const std::uint32_t group = *net::parse_ipv4_be(options.group);  // checked by the option's validator
    if (auto joined = opened->port->join_multicast(group); !joined) {
      // Not fatal: a unicast feed still arrives, and a backend without
      // membership control (yet) says why here.
      fmt::print(stderr, "aether feed handle: note: not joined to {}: {}\n", options.group,
                 joined.error().describe());
    }
  }
  const Clock clock = Clock::calibrate();
  feed::FeedHandlerConfig config;
  config.session = options.session;
  config.local = {opened->port->info().mac, *net::parse_ipv4_be(options.ip), htons(static_cast<std::uint16_t>(options.udp_port))};
  config.request_timeout_ticks = clock.from_ns(static_cast<std::uint64_t>(options.request_timeout_us * 1000));
  config.send_orders = !options.no_orders;
  auto handler = std::make_unique<feed::FeedHandler>(opened->port->queue(0), *opened->pool, config);
  const auto& counters = handler->counters();
  auto stats = run_feed_worker(options.worker, *handler, [&] { return counters.end_of_session_applied.get() > 0; });
  if (!stats) return fail(stats.error());
  print_summary(*handler, *opened->port, clock);
  // Complete: the whole day, or (with --seconds) something and no gap open.
  const bool complete = counters.end_of_session_applied.get() > 0 ||
                        (options.worker.seconds > 0 && counters.messages_applied.get() > 0 && !handler->stale());
  return complete ? exit_ok : exit_failure;
}

}  // namespace

void register_feed_handle(CLI::App& feed_command, int& exit_code) {
  auto options = std::make_shared<HandleOptions>();
  CLI::App* command = feed_command.add_subcommand(
      "handle", "Feed handler: decode, recover gaps by MoldUDP64 re-request, keep the book, send an OUCH Enter Order "
                "on each best bid/offer change (docs/market-data.md)");
  command->add_option("--port", options->port, "Port spec to receive the feed on, e.g. udp:0.0.0.0:26400, memif:@feed")
      ->required();
  command->add_option("--group", options->group, "Multicast group to join, or none")->capture_default_str();
  command->add_option("--ip", options->ip, "Source IPv4 of requests and orders on L2 ports")
      ->capture_default_str()
      ->check(CLI::ValidIPV4);
  command->add_option("--udp-port", options->udp_port, "Source UDP port of requests and orders on L2 ports")
      ->capture_default_str()
      ->check(CLI::Range(1, 65535));
  command->add_option("--session", options->session, "MoldUDP64 session (default: the first packet's)");
  command->add_option("--request-timeout-us", options->request_timeout_us, "Ask again after this long without an answer")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_flag("--no-orders", options->no_orders, "Book only: send no orders");
  command->add_option("--link-timeout", options->link_timeout, "Seconds to wait for the port's link (a memif peer)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command->add_option("--buffers", options->buffers, "Packet buffers")->capture_default_str()->check(CLI::Range(1024, 1 << 20));
  command->add_option("--cpu", options->worker.cpu, "CPU of the worker (default: the last allowed)")
      ->check(CLI::NonNegativeNumber);
  command->add_option("--fifo", options->worker.fifo_priority, "SCHED_FIFO priority of the worker")->check(CLI::Range(1, 99));
  command->add_option("--seconds", options->worker.seconds, "Stop after this long (default: at the end of the session)")
      ->check(CLI::NonNegativeNumber);
  command->callback([options, &exit_code] {
    if (options->group != "none" && !net::parse_ipv4_be(options->group)) {
      fmt::print(stderr, "aether feed handle: --group {}: not an IPv4 address or none\n", options->group);
      exit_code = exit_failure;
      return;
    }
    exit_code = run_handle(*options);
  });
}

}  // namespace aether::cli
