// The sources for Aether's own objects: ports (every queue's counters, each
// drop reason, link state, xstats), workers (loop iterations, busy loops),
// the reference pollers (echo, forwarder) and latency histograms.
//
// Each add_* registers a source that reads the object's single-writer
// counters at scrape time; the object must outlive the returned handle.
// Metric names and labels are listed in docs/telemetry.md.
#pragma once

#include <string>
#include <string_view>

#include "aether/dataplane/echo.hpp"
#include "aether/dataplane/poller.hpp"
#include "aether/net/port.hpp"
#include "aether/stats/latency_histogram.hpp"
#include "aether/stats/published_histogram.hpp"
#include "aether/telemetry/registry.hpp"

namespace aether::telemetry {

// aether_port_info, aether_port_link_up, aether_queue_* per queue (label
// port=`name`, queue=N), aether_port_xstat per backend counter. `name` is
// what the port is called in labels (e.g. its spec).
[[nodiscard]] SourceHandle add_port(MetricsRegistry& registry, net::Port& port, std::string name);

// The aether_queue_* samples of one queue (what add_port writes per queue),
// for a source that holds queues without their port.
void write_queue_stats(MetricWriter& writer, std::string_view port, std::string_view queue, const net::QueueStats& stats);

// aether_worker_loops_total, aether_worker_busy_loops_total (labels
// worker=its name, cpu).
[[nodiscard]] SourceHandle add_worker(MetricsRegistry& registry, const dataplane::Worker& worker);

// aether_echo_* (label poller=`name`): received, sent, each drop reason.
[[nodiscard]] SourceHandle add_echo(MetricsRegistry& registry, const dataplane::EchoResponder& echo, std::string name);

// aether_forwarder_* (label poller=`name`): forwarded, dropped.
[[nodiscard]] SourceHandle add_forwarder(MetricsRegistry& registry, const dataplane::Forwarder& forwarder,
                                         std::string name);

// Writes `histogram` (nanoseconds) as a summary in seconds: quantiles 0.5,
// 0.9, 0.99, 0.999, 0.9999 and 1 (the max), _count and _sum. The histogram
// is not thread-safe: pass one nobody records into meanwhile (a poller's
// published snapshot, or a merged copy made on the control thread).
void write_latency_summary(MetricWriter& writer, MetricWriter::FamilyId family, Labels labels,
                           const LatencyHistogram& histogram);

// A live latency series: `family` (a name ending in _seconds) as a summary
// (write_latency_summary) of what `histogram`'s writer published by the
// scrape, labelled `label_name`=`label_value`. The histogram's writer calls
// publish() on its thread (e.g. once per poll).
[[nodiscard]] SourceHandle add_latency_histogram(MetricsRegistry& registry, PublishedHistogram& histogram,
                                                 std::string family, std::string help, std::string label_name,
                                                 std::string label_value);

}  // namespace aether::telemetry
