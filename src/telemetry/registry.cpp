#include "aether/telemetry/registry.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

namespace aether::telemetry {

SourceHandle::SourceHandle(SourceHandle&& other) noexcept
    : registry_(std::exchange(other.registry_, nullptr)), id_(other.id_) {}

SourceHandle& SourceHandle::operator=(SourceHandle&& other) noexcept {
  if (this != &other) {
    reset();
    registry_ = std::exchange(other.registry_, nullptr);
    id_ = other.id_;
  }
  return *this;
}

SourceHandle::~SourceHandle() { reset(); }

void SourceHandle::reset() noexcept {
  if (registry_ != nullptr) registry_->remove(id_);
  registry_ = nullptr;
}

SourceHandle MetricsRegistry::add(Collect collect) {
  std::lock_guard lock(mutex_);
  const std::uint64_t id = next_id_++;
  sources_.push_back(Source{id, std::move(collect)});
  return SourceHandle(this, id);
}

void MetricsRegistry::remove(std::uint64_t id) noexcept {
  std::lock_guard lock(mutex_);
  std::erase_if(sources_, [id](const Source& source) { return source.id == id; });
}

void MetricsRegistry::scrape(MetricWriter& writer) {
  const auto start = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  writer.clear();
  for (const Source& source : sources_) source.collect(writer);
  const std::size_t series = writer.series();
  writer.sample(writer.family("aether_scrape_series", MetricType::gauge, "",
                              "Series in this scrape, not counting the scrape's own"),
                {}, static_cast<std::uint64_t>(series));
  writer.sample(writer.family("aether_scrape_duration_seconds", MetricType::gauge, "seconds",
                              "Time the previous scrape took to collect and render"),
                {}, last_scrape_seconds_);
  last_scrape_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void MetricsRegistry::scrape_text(MetricWriter& writer, std::string& out, ExpositionFormat format) {
  const auto start = std::chrono::steady_clock::now();
  scrape(writer);
  out.clear();
  writer.render(out, format);
  std::lock_guard lock(mutex_);
  last_scrape_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace aether::telemetry
