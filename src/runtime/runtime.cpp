// Runtime: placement, pools and ports at create(), workers and the control
// loop at run() (runtime.hpp says the order and why).
#include "aether/runtime/runtime.hpp"

#include <poll.h>

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include <fmt/format.h>

#include "aether/core/cpu_list.hpp"
#include "aether/core/thread_setup.hpp"
#include "aether/net/port_registry.hpp"
#include "aether/runtime/placement.hpp"
#include "aether/runtime/stop_signal.hpp"
#include "aether/telemetry/dataplane_metrics.hpp"

namespace aether::runtime {

struct Runtime::OpenPort {
  const PortConfig* config = nullptr;
  mem::Mempool* pool = nullptr;
  std::unique_ptr<net::Port> port;
  bool fault_reported = false;
};

namespace {

// sched_setaffinity on the calling thread; `cpus` non-empty.
Result<void> set_current_affinity(const std::vector<unsigned>& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (unsigned cpu : cpus) CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    return errno_error(fmt::format("cannot move the control thread to CPUs {}", format_cpu_list(cpus)));
  }
  return {};
}

// The object made for the config item named `name` (`objects[i]` for
// `configs[i]`); the Error lists the names there are.
template <class Config, class Object>
Result<Object*> find_named(const std::vector<Config>& configs, const std::vector<std::unique_ptr<Object>>& objects,
                           std::string_view name, std::string_view kind) {
  std::vector<std::string_view> names;
  for (std::size_t i = 0; i < configs.size(); ++i) {
    if (configs[i].name == name) return objects[i].get();
    names.push_back(configs[i].name);
  }
  return invalid_argument(fmt::format("no {} is named '{}'; {}s: {}", kind, name, kind,
                                      names.empty() ? "none defined" : fmt::format("{}", fmt::join(names, ", "))));
}

std::vector<unsigned> sorted(std::vector<unsigned> cpus) {
  std::sort(cpus.begin(), cpus.end());
  return cpus;
}

}  // namespace

Result<std::unique_ptr<Runtime>> Runtime::create(RuntimeConfig config) {
  if (auto valid = validate_config(config); !valid) return std::move(valid).error();
  std::unique_ptr<Runtime> runtime(new Runtime());
  runtime->config_ = std::move(config);
  if (auto placed = runtime->place_threads(); !placed) return std::move(placed).error();
  if (auto metrics = runtime->start_metrics(); !metrics) return std::move(metrics).error();
  if (runtime->config_.lock_memory) {
    if (auto locked = lock_all_memory(); !locked) return std::move(locked).error();
  }
  if (auto allocated = runtime->allocate_pools(); !allocated) return std::move(allocated).error();
  if (auto opened = runtime->open_ports(); !opened) return std::move(opened).error();
  return runtime;
}

Result<std::unique_ptr<Runtime>> Runtime::create_from_file(const std::filesystem::path& path) {
  auto config = load_config(path);
  if (!config) return std::move(config).error();
  return create(std::move(*config));
}

Runtime::~Runtime() {
  port_sources_.clear();  // before the ports they read
  ports_.clear();         // before the pools: ports hold buffers of them
  pools_.clear();
  if (!creator_affinity_.empty()) {
    // Best effort: the creating thread may have ended, or a partition's
    // cpuset may now forbid CPUs it had.
    cpu_set_t set;
    CPU_ZERO(&set);
    for (unsigned cpu : creator_affinity_) CPU_SET(cpu, &set);
    (void)sched_setaffinity(creator_tid_, sizeof(set), &set);
  }
}

Result<void> Runtime::place_threads() {
  // What the calling thread may run on now: given back when the runtime is
  // destroyed (a program may create another one, or run other code).
  auto before = allowed_cpus();
  if (!before) return std::move(before).error();
  creator_tid_ = gettid();
  creator_affinity_ = std::move(*before);
  if (config_.partition) {
    PartitionRequest request;
    request.workers = config_.workers.size();
    for (const WorkerConfig& worker : config_.workers) {
      if (worker.cpu) request.requested.push_back(*worker.cpu);
    }
    request.requested_option = config_.cpu_setting_name;
    if (!config_.partition_journal.empty()) request.journal = config_.partition_journal;
    auto placement = place_on_partition(request);
    if (!placement) return std::move(placement).error();
    worker_cpus_ = std::move(placement->worker_cpus);
    control_cpus_ = std::move(placement->control_cpus);
    placement_report_ = std::move(placement->report);
    cpu_dma_latency_ = std::move(placement->cpu_dma_latency);
    return {};
  }
  // The control thread keeps off the workers' CPUs where its affinity
  // allows another; threads created later (backends' control threads)
  // inherit this.
  auto allowed = allowed_cpus();
  if (!allowed) return std::move(allowed).error();
  for (const WorkerConfig& worker : config_.workers) {
    if (!cpu_list_contains(*allowed, *worker.cpu)) {
      return invalid_argument(fmt::format("{}worker '{}': cpu {} is not one this process may run on; allowed: {} "
                                          "(offline, absent, or outside the affinity or cpuset)",
                                          worker.where.prefix(), worker.name, *worker.cpu, format_cpu_list(*allowed)));
    }
    worker_cpus_.push_back(*worker.cpu);
  }
  const std::vector<unsigned> workers = sorted(worker_cpus_);
  for (unsigned cpu : *allowed) {
    if (!std::binary_search(workers.begin(), workers.end(), cpu)) control_cpus_.push_back(cpu);
  }
  if (control_cpus_.empty()) {
    placement_report_.push_back(fmt::format("the control thread shares CPUs {} with the workers (no other CPU is "
                                            "allowed)",
                                            format_cpu_list(*allowed)));
    return {};
  }
  if (control_cpus_ != *allowed) {
    if (auto moved = set_current_affinity(control_cpus_); !moved) return moved;
  }
  placement_report_.push_back(fmt::format("workers on CPUs {}, control thread on CPUs {}",
                                          format_cpu_list(worker_cpus_), format_cpu_list(control_cpus_)));
  return {};
}

Result<void> Runtime::allocate_pools() {
  // First touch on the workers' CPUs: Mempool::create writes every buffer's
  // metadata, so the pages land on their NUMA node. Back to the control
  // CPUs before the ports open, since backends may start threads of their
  // own that inherit the affinity.
  if (auto moved = set_current_affinity(sorted(worker_cpus_)); !moved) return moved;
  auto allocate = [this]() -> Result<void> {
    for (const PoolConfig& pool : config_.pools) {
      auto created = mem::Mempool::create(net::default_packet_pool_config(pool.buffers, pool.name));
      if (!created) return invalid_argument(fmt::format("{}pool '{}': {}", pool.where.prefix(), pool.name,
                                                        created.error().describe()));
      pools_.push_back(std::move(*created));
    }
    for (const PortConfig& port : config_.ports) {
      if (!port.pool.empty()) continue;
      auto created = mem::Mempool::create(net::default_packet_pool_config(port.buffers, "port-" + port.name));
      if (!created) return invalid_argument(fmt::format("{}port '{}': its pool: {}", port.where.prefix(), port.name,
                                                        created.error().describe()));
      pools_.push_back(std::move(*created));
    }
    for (const RingConfig& ring : config_.rings) {
      auto created = PacketRing::create(ring.capacity);
      if (!created) return invalid_argument(fmt::format("{}ring '{}': {}", ring.where.prefix(), ring.name,
                                                        created.error().describe()));
      rings_.push_back(std::make_unique<PacketRing>(std::move(*created)));
    }
    return {};
  };
  auto allocated = allocate();
  if (!control_cpus_.empty()) {
    if (auto moved = set_current_affinity(control_cpus_); !moved) return moved;
  }
  return allocated;
}

Result<void> Runtime::open_ports() {
  std::size_t own_pool = config_.pools.size();
  for (std::size_t i = 0; i < config_.ports.size(); ++i) {
    const PortConfig& port = config_.ports[i];
    auto entry = std::make_unique<OpenPort>();
    entry->config = &port;
    if (port.pool.empty()) {
      entry->pool = pools_[own_pool++].get();
    } else {
      const auto shared = std::find_if(config_.pools.begin(), config_.pools.end(),
                                       [&](const PoolConfig& pool) { return pool.name == port.pool; });
      entry->pool = pools_[static_cast<std::size_t>(shared - config_.pools.begin())].get();
    }
    auto opened = net::open_port(port.spec, net::PortOptions{entry->pool, static_cast<std::uint16_t>(i)});
    if (!opened) {
      return Error{opened.error().code,
                   fmt::format("{}port '{}': {}", port.where.prefix(), port.name, opened.error().message)};
    }
    entry->port = std::move(*opened);
    // Labelled by the spec: what `aether stats` and the port's own messages show.
    port_sources_.push_back(telemetry::add_port(metrics_registry_, *entry->port, port.spec));
    ports_.push_back(std::move(entry));
  }
  return {};
}

Result<net::Port*> Runtime::port(std::string_view name) const {
  for (const auto& entry : ports_) {
    if (entry->config->name == name) return entry->port.get();
  }
  std::vector<std::string_view> names;
  for (const auto& entry : ports_) names.push_back(entry->config->name);
  return invalid_argument(fmt::format("no port is named '{}'; ports: {}", name,
                                      names.empty() ? "none defined" : fmt::format("{}", fmt::join(names, ", "))));
}

Result<mem::Mempool*> Runtime::pool_of_port(std::string_view port_name) const {
  for (const auto& entry : ports_) {
    if (entry->config->name == port_name) return entry->pool;
  }
  if (auto missing = port(port_name); !missing) return std::move(missing).error();
  return invalid_argument(fmt::format("port '{}' has no pool", port_name));
}

Result<mem::Mempool*> Runtime::pool(std::string_view name) const {
  return find_named(config_.pools, pools_, name, "pool");
}

Result<PacketRing*> Runtime::ring(std::string_view name) const {
  return find_named(config_.rings, rings_, name, "ring");
}

Result<void> Runtime::start_metrics() {
  const TelemetryConfig& telemetry = config_.telemetry;
  if (telemetry.listen.empty()) return {};
  auto server = telemetry::MetricsServer::start(telemetry.listen, metrics_registry_);
  if (!server) {
    return Error{server.error().code, fmt::format("{}telemetry: {}", telemetry.where.prefix(), server.error().message)};
  }
  metrics_server_ = std::move(*server);
  return {};
}

std::string Runtime::metrics_address() const {
  return metrics_server_ ? metrics_server_->address() : std::string();
}

void Runtime::wait_until(std::chrono::steady_clock::time_point deadline) {
  if (metrics_server_) {
    // Scrapes are answered here, on the control thread; a stop signal is
    // seen at the deadline (serve_until polls again after EINTR), so a stop
    // takes at most one control interval.
    metrics_server_->serve_until(deadline);
    return;
  }
  // poll(2), not sleep_until: a stop signal interrupts it (EINTR) and the
  // flag is read at once; sanitizer runtimes also deliver signals only
  // inside calls like this one.
  const auto now = std::chrono::steady_clock::now();
  if (deadline > now) {
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
    ::poll(nullptr, 0, static_cast<int>(wait.count()));
  }
}

Result<void> Runtime::add_poller(std::string_view name, dataplane::Poller& poller) {
  const bool configured = std::any_of(config_.workers.begin(), config_.workers.end(), [&](const WorkerConfig& worker) {
    return std::find(worker.pollers.begin(), worker.pollers.end(), name) != worker.pollers.end();
  });
  if (!configured) {
    return invalid_argument(fmt::format("poller '{}': no worker runs it; add it to a worker's pollers list", name));
  }
  for (const auto& [added, existing] : pollers_) {
    if (added == name) return invalid_argument(fmt::format("poller '{}' is already added", name));
  }
  pollers_.emplace_back(std::string(name), &poller);
  return {};
}

Result<std::vector<std::vector<dataplane::Poller*>>> Runtime::pollers_per_worker() const {
  std::vector<std::vector<dataplane::Poller*>> result;
  for (const WorkerConfig& worker : config_.workers) {
    auto& list = result.emplace_back();
    for (const std::string& name : worker.pollers) {
      const auto found = std::find_if(pollers_.begin(), pollers_.end(), [&](const auto& added) {
        return added.first == name;
      });
      if (found == pollers_.end()) {
        return invalid_argument(fmt::format("{}worker '{}': poller '{}' was never added (Runtime::add_poller)",
                                            worker.where.prefix(), worker.name, name));
      }
      list.push_back(found->second);
    }
  }
  return result;
}

void Runtime::stop() noexcept { stop_requested_.store(true, std::memory_order_relaxed); }

bool Runtime::check_faults(const RunOptions& options, RunReport& report) {
  bool stop_now = false;
  for (auto& entry : ports_) {
    if (entry->fault_reported) continue;
    auto fault = entry->port->device_fault();
    if (!fault) continue;
    entry->fault_reported = true;
    report.faults.push_back(DeviceFault{entry->config->name, std::move(*fault)});
    const FaultAction action = options.on_fault ? options.on_fault(report.faults.back()) : FaultAction::stop;
    if (action == FaultAction::stop) stop_now = true;
  }
  return stop_now;
}

Result<RunReport> Runtime::run(const RunOptions& options) {
  auto pollers = pollers_per_worker();
  if (!pollers) return std::move(pollers).error();
  const std::atomic<bool>& signalled = install_stop_signals();
  stop_requested_.store(false, std::memory_order_relaxed);

  std::vector<std::unique_ptr<dataplane::Worker>> workers;
  for (std::size_t i = 0; i < config_.workers.size(); ++i) {
    dataplane::WorkerOptions worker_options;
    worker_options.cpu = worker_cpus_[i];
    worker_options.fifo_priority = config_.workers[i].fifo_priority;
    worker_options.name = config_.workers[i].name;
    auto started = dataplane::Worker::start(worker_options, (*pollers)[i], &signalled);
    if (!started) {
      return Error{started.error().code, fmt::format("{}worker '{}': {}", config_.workers[i].where.prefix(),
                                                     config_.workers[i].name, started.error().message)};
    }  // the workers started so far stop and join in their destructors
    workers.push_back(std::move(*started));
  }
  // After the workers: the sources go first, before what they read.
  std::vector<telemetry::SourceHandle> worker_sources;
  for (const auto& worker : workers) worker_sources.push_back(telemetry::add_worker(metrics_registry_, *worker));

  RunReport report;
  const auto start = std::chrono::steady_clock::now();
  auto next = start + options.control_interval;
  for (;;) {
    // relaxed: the flags carry no data; a late read costs one interval.
    if (signalled.load(std::memory_order_relaxed)) {
      report.stopped_by_signal = true;
      break;
    }
    if (stop_requested_.load(std::memory_order_relaxed)) break;
    const auto elapsed = std::chrono::steady_clock::now() - start;
    if (options.duration.count() > 0 && elapsed >= options.duration) break;
    if (check_faults(options, report)) break;
    if (options.on_tick) options.on_tick(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed));
    wait_until(next);
    next += options.control_interval;
  }
  worker_sources.clear();
  for (auto& worker : workers) worker->stop();
  for (std::size_t i = 0; i < workers.size(); ++i) {
    report.workers.push_back(WorkerReport{config_.workers[i].name, worker_cpus_[i], workers[i]->join()});
  }
  report.elapsed = std::chrono::steady_clock::now() - start;
  return report;
}

}  // namespace aether::runtime
