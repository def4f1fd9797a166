#include "one_port_runtime.hpp"

#include <optional>

#include <fmt/format.h>

#include "aether/core/thread_setup.hpp"
#include "aether/net/port_registry.hpp"
#include "opened_port.hpp"

namespace aether::cli {
namespace {

Result<runtime::RuntimeConfig> one_port_config(const OnePortOptions& options, std::string_view worker_name,
                                               std::string_view poller_name) {
  if (auto checked = net::check_port_spec(options.spec); !checked) return std::move(checked).error();
  runtime::RuntimeConfig config;
  config.partition = options.partition.enabled;
  config.partition_journal = options.partition.journal;
  config.cpu_setting_name = "--cpu";
  config.lock_memory = options.lock_memory;
  config.telemetry.listen = options.metrics;
  config.add_port("port", options.spec).buffers = static_cast<std::uint32_t>(options.buffers);
  std::optional<unsigned> cpu;
  if (options.cpu >= 0) {
    cpu = static_cast<unsigned>(options.cpu);
  } else if (!options.partition.enabled) {
    auto allowed = allowed_cpus();
    if (!allowed) return std::move(allowed).error();
    cpu = allowed->back();
  }
  auto& worker = config.add_worker(std::string(worker_name), cpu, {std::string(poller_name)});
  if (options.fifo_priority > 0) worker.fifo_priority = options.fifo_priority;
  return config;
}

}  // namespace

Result<std::unique_ptr<runtime::Runtime>> create_one_port_runtime(const OnePortOptions& options,
                                                                 std::string_view worker_name,
                                                                 std::string_view poller_name,
                                                                 std::string_view command) {
  auto config = one_port_config(options, worker_name, poller_name);
  if (!config) return std::move(config).error();
  auto created = runtime::Runtime::create(std::move(*config));
  if (!created) return created;
  runtime::Runtime& rt = **created;
  if (options.partition.enabled) {
    for (const std::string& line : rt.placement_report()) fmt::print(stderr, "{}: --partition: {}\n", command, line);
  }
  if (!rt.metrics_address().empty()) fmt::print(stderr, "{}: metrics on http://{}/metrics\n", command, rt.metrics_address());
  describe_opened_port(options.spec, *rt.port("port").value());
  return created;
}

}  // namespace aether::cli
