#include "aether/telemetry/dataplane_metrics.hpp"

#include <array>
#include <string_view>
#include <utility>

#include "aether/net/frame.hpp"

namespace aether::telemetry {
namespace {

using Family = MetricWriter::FamilyId;

}  // namespace

void write_queue_stats(MetricWriter& writer, std::string_view port, std::string_view queue, const net::QueueStats& stats) {
  const Family rx_packets = writer.family("aether_queue_rx_packets", MetricType::counter, "", "Packets rx_burst handed over");
  const Family rx_bytes = writer.family("aether_queue_rx_bytes", MetricType::counter, "bytes", "Bytes of the packets rx_burst handed over");
  const Family tx_packets = writer.family("aether_queue_tx_packets", MetricType::counter, "", "Packets taken by tx_burst and sent");
  const Family tx_bytes = writer.family("aether_queue_tx_bytes", MetricType::counter, "bytes", "Bytes of the packets taken by tx_burst and sent");
  const Family rx_drops = writer.family("aether_queue_rx_drops", MetricType::counter, "",
                                        "Frames received but not handed over, by reason");
  const Family tx_drops = writer.family("aether_queue_tx_drops", MetricType::counter, "",
                                        "Packets taken by tx_burst but not sent, by reason");
  writer.sample(rx_packets, {{"port", port}, {"queue", queue}}, stats.rx_packets);
  writer.sample(rx_bytes, {{"port", port}, {"queue", queue}}, stats.rx_bytes);
  writer.sample(tx_packets, {{"port", port}, {"queue", queue}}, stats.tx_packets);
  writer.sample(tx_bytes, {{"port", port}, {"queue", queue}}, stats.tx_bytes);
  writer.sample(rx_drops, {{"port", port}, {"queue", queue}, {"reason", "no_buffer"}}, stats.rx_drop_no_buffer);
  writer.sample(rx_drops, {{"port", port}, {"queue", queue}, {"reason", "bad_frame"}}, stats.rx_drop_bad_frame);
  writer.sample(rx_drops, {{"port", port}, {"queue", queue}, {"reason", "truncated"}}, stats.rx_drop_truncated);
  writer.sample(rx_drops, {{"port", port}, {"queue", queue}, {"reason", "kernel"}}, stats.rx_drop_kernel);
  writer.sample(tx_drops, {{"port", port}, {"queue", queue}, {"reason", "error"}}, stats.tx_drop_error);
  writer.sample(tx_drops, {{"port", port}, {"queue", queue}, {"reason", "bad_frame"}}, stats.tx_drop_bad_frame);
}

SourceHandle add_port(MetricsRegistry& registry, net::Port& port, std::string name) {
  return registry.add([&port, name = std::move(name)](MetricWriter& writer) {
    const net::PortInfo& info = port.info();
    writer.sample(writer.family("aether_port_info", MetricType::gauge, "", "An opened port: its kind and negotiated mode"),
                  {{"port", name}, {"kind", info.kind}, {"interface", info.interface}, {"mode", info.mode}},
                  std::uint64_t{1});
    const net::LinkState link = port.link_state();
    writer.sample(writer.family("aether_port_link_up", MetricType::gauge, "", "1 link up, 0 down, -1 unknown"),
                  {{"port", name}}, link == net::LinkState::up ? 1.0 : link == net::LinkState::down ? 0.0 : -1.0);
    std::array<char, 16> queue_label{};
    for (unsigned q = 0; q < info.queue_count; ++q) {
      const auto end = fmt::format_to_n(queue_label.data(), queue_label.size(), "{}", q).out;
      write_queue_stats(writer, name, std::string_view(queue_label.data(), static_cast<std::size_t>(end - queue_label.data())),
                  port.queue(q).stats());
    }
    const std::vector<net::XStat> xstats = port.xstats();
    if (!xstats.empty()) {
      const Family family = writer.family("aether_port_xstat", MetricType::unknown, "",
                                          "Backend-specific counters of the port (Port::xstats), by name");
      for (const net::XStat& xstat : xstats) writer.sample(family, {{"port", name}, {"name", xstat.name}}, xstat.value);
    }
  });
}

SourceHandle add_worker(MetricsRegistry& registry, const dataplane::Worker& worker) {
  return registry.add([&worker, cpu = std::to_string(worker.cpu())](MetricWriter& writer) {
    const dataplane::WorkerCounters& counters = worker.counters();
    // busy first, then loops: both only grow, so busy <= loops also holds
    // for a reader that races the worker (a ratio never above 1).
    const std::uint64_t busy = counters.busy_loops.get();
    const std::uint64_t loops = counters.loops.get();
    writer.sample(writer.family("aether_worker_loops", MetricType::counter, "", "Iterations of the worker's poll loop"),
                  {{"worker", worker.name()}, {"cpu", cpu}}, loops);
    writer.sample(writer.family("aether_worker_busy_loops", MetricType::counter, "",
                                "Iterations in which some poller did work; rate(busy)/rate(loops) is the busy share"),
                  {{"worker", worker.name()}, {"cpu", cpu}}, busy);
  });
}

SourceHandle add_echo(MetricsRegistry& registry, const dataplane::EchoResponder& echo, std::string name) {
  return registry.add([&echo, name = std::move(name)](MetricWriter& writer) {
    const dataplane::EchoCounters& c = echo.counters();
    writer.sample(writer.family("aether_echo_received", MetricType::counter, "", "Frames the echo responder received"),
                  {{"poller", name}}, c.received.get());
    writer.sample(writer.family("aether_echo_sent", MetricType::counter, "", "Replies the echo responder sent"),
                  {{"poller", name}}, c.sent.get());
    const Family dropped = writer.family("aether_echo_dropped", MetricType::counter, "",
                                         "Frames the echo responder did not answer, by reason");
    writer.sample(dropped, {{"poller", name}, {"reason", "tx_full"}}, c.dropped_tx_full.get());
    writer.sample(dropped, {{"poller", name}, {"reason", "not_for_us"}}, c.dropped_not_for_us.get());
    writer.sample(dropped, {{"poller", name}, {"reason", "malformed"}}, c.dropped_malformed.get());
    // dropped_not_udp, split by the parser's reason (index 0 is "none").
    for (std::size_t i = 1; i < c.dropped_by_reason.size(); ++i) {
      const std::string_view reason = net::to_string(static_cast<net::FrameError>(i));
      writer.sample(dropped, {{"poller", name}, {"reason", reason}}, c.dropped_by_reason[i].get());
    }
    const Family replies = writer.family("aether_echo_replies", MetricType::counter, "",
                                         "Local answers (echo --ip), by protocol");
    writer.sample(replies, {{"poller", name}, {"protocol", "arp"}}, c.arp_replies.get());
    writer.sample(replies, {{"poller", name}, {"protocol", "icmp"}}, c.icmp_replies.get());
    writer.sample(replies, {{"poller", name}, {"protocol", "udp"}}, c.udp_replies.get());
  });
}

SourceHandle add_forwarder(MetricsRegistry& registry, const dataplane::Forwarder& forwarder, std::string name) {
  return registry.add([&forwarder, name = std::move(name)](MetricWriter& writer) {
    writer.sample(writer.family("aether_forwarder_forwarded", MetricType::counter, "", "Packets forwarded"),
                  {{"poller", name}}, forwarder.forwarded());
    writer.sample(writer.family("aether_forwarder_dropped", MetricType::counter, "",
                                "Packets received but not taken by the output queue"),
                  {{"poller", name}}, forwarder.dropped());
  });
}

void write_latency_summary(MetricWriter& writer, MetricWriter::FamilyId family, Labels labels,
                           const LatencyHistogram& histogram) {
  constexpr std::array<double, 6> quantiles{0.5, 0.9, 0.99, 0.999, 0.9999, 1.0};
  std::array<std::pair<double, double>, quantiles.size()> values{};
  for (std::size_t i = 0; i < quantiles.size(); ++i) {
    values[i] = {quantiles[i], static_cast<double>(histogram.percentile(quantiles[i] * 100)) * 1e-9};
  }
  const double sum_seconds = histogram.mean() * static_cast<double>(histogram.count()) * 1e-9;
  writer.summary(family, labels, values, histogram.count(), sum_seconds);
}

SourceHandle add_latency_histogram(MetricsRegistry& registry, PublishedHistogram& histogram, std::string family,
                                   std::string help, std::string label_name, std::string label_value) {
  return registry.add([&histogram, family = std::move(family), help = std::move(help), label_name = std::move(label_name),
                       label_value = std::move(label_value)](MetricWriter& writer) {
    write_latency_summary(writer, writer.family(family, MetricType::summary, "seconds", help),
                          {{label_name, label_value}}, histogram.latest());
  });
}

}  // namespace aether::telemetry
