// MetricsRegistry: the sources a scrape reads, and the one entry point a
// runtime or a command registers its ports, workers and pollers with.
//
// A source is a callback run at scrape time on the scraping (control)
// thread. It reads single-writer counters (relaxed loads of
// net::QueueCounters and the like) and writes samples into a MetricWriter.
// The data path never sees the registry: it only keeps writing its
// counters, and never waits for, locks against or allocates for a scrape.
//
// Registration returns a move-only handle that removes the source when it
// goes away; the registry must outlive its handles, and whatever a source
// reads must outlive the source's handle. add(), the handles and scrape()
// may be called from any control-path thread (one mutex, never taken by the
// data path). A source runs under that mutex: it must not add or remove
// sources.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "aether/telemetry/metric_writer.hpp"

namespace aether::telemetry {

class MetricsRegistry;

// Removes its source from the registry on destruction.
class SourceHandle {
 public:
  SourceHandle() noexcept = default;
  SourceHandle(SourceHandle&& other) noexcept;
  SourceHandle& operator=(SourceHandle&& other) noexcept;
  SourceHandle(const SourceHandle&) = delete;
  SourceHandle& operator=(const SourceHandle&) = delete;
  ~SourceHandle();
  void reset() noexcept;

 private:
  friend class MetricsRegistry;
  SourceHandle(MetricsRegistry* registry, std::uint64_t id) noexcept : registry_(registry), id_(id) {}
  MetricsRegistry* registry_ = nullptr;
  std::uint64_t id_ = 0;
};

class MetricsRegistry {
 public:
  using Collect = std::function<void(MetricWriter&)>;

  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Adds a source; scrapes call it in the order sources were added.
  [[nodiscard]] SourceHandle add(Collect collect);

  // Runs every source into `writer` (cleared first), then the scrape's own
  // gauges (aether_scrape_series, aether_scrape_duration_seconds of the
  // previous scrape).
  void scrape(MetricWriter& writer);

  // Clears `writer`, scrapes, and renders into `out` (cleared first).
  void scrape_text(MetricWriter& writer, std::string& out, ExpositionFormat format);

 private:
  friend class SourceHandle;
  void remove(std::uint64_t id) noexcept;

  struct Source {
    std::uint64_t id;
    Collect collect;
  };
  std::mutex mutex_;
  std::vector<Source> sources_;
  std::uint64_t next_id_ = 1;
  double last_scrape_seconds_ = 0;
};

}  // namespace aether::telemetry
