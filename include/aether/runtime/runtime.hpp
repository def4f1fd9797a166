// aether::runtime::Runtime: the entry point of an application on Aether.
//
//   auto config = runtime::load_config("app.toml");        // or fill a RuntimeConfig
//   auto rt = runtime::Runtime::create(std::move(*config)); // place, lock, allocate, open
//   MyPoller receive(*rt->port("feed").value());            // the application's pollers
//   rt->add_poller("feed-handler", receive);                // by the name the config gives
//   auto report = rt->run();                                // until Ctrl-C, stop() or a fault
//
// create() does, in this order: validate the config; place the workers
// (partition: the Aether CPUs, cpuset joined; else the CPUs the config
// names) and move the calling (control) thread off their CPUs; mlockall;
// allocate and first-touch every pool while the control thread runs on the
// workers' CPUs (same NUMA node and caches as the workers), then back; open
// every port by its spec with its pool. With [telemetry] listen it binds
// the metrics endpoint right after placement (a busy address fails before
// anything is allocated) and registers every port. run() starts one pinned worker per
// [[worker]] (dataplane::Worker: pollers in the configured order), and the
// calling thread becomes the control loop: it checks for stop and device
// faults, answers metrics scrapes between checks and calls the
// application's tick, never on a worker CPU.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aether/core/result.hpp"
#include "aether/core/unique_fd.hpp"
#include "aether/dataplane/poller.hpp"
#include "aether/mem/mempool.hpp"
#include "aether/net/port.hpp"
#include "aether/runtime/config.hpp"
#include "aether/runtime/pollers.hpp"
#include "aether/telemetry/metrics_server.hpp"
#include "aether/telemetry/registry.hpp"

namespace aether::runtime {

// A port reported a device fault (Port::device_fault: a userspace driver's
// device reset or gone underneath it).
struct DeviceFault {
  std::string port;  // the config's name of the port
  std::string what;  // the backend's description
};

enum class FaultAction : std::uint8_t {
  stop,      // end the run; run() returns the fault in its report
  carry_on,  // keep running (the application handles it, e.g. fails over)
};

struct RunOptions {
  // How often the control loop wakes: to see a stop request, check every
  // port for a device fault and call on_tick. A stop takes at most this long.
  std::chrono::milliseconds control_interval{100};
  // Stop after this long; zero: until stop(), SIGINT/SIGTERM or a fault.
  std::chrono::milliseconds duration{0};
  // Called on the control thread for each new fault (once per port). None:
  // stop.
  std::function<FaultAction(const DeviceFault&)> on_fault;
  // Called on the control thread every control_interval with the time since
  // the workers started: the place for rates, telemetry export, reloads.
  std::function<void(std::chrono::nanoseconds elapsed)> on_tick;
};

struct WorkerReport {
  std::string name;
  unsigned cpu = 0;
  dataplane::WorkerStats stats;
};

struct RunReport {
  std::vector<WorkerReport> workers;  // in the config's order
  std::chrono::nanoseconds elapsed{0};
  bool stopped_by_signal = false;     // SIGINT or SIGTERM
  std::vector<DeviceFault> faults;    // every fault seen, the one that stopped the run last
};

class Runtime {
 public:
  // Validates, places, locks memory, allocates pools and opens ports (see
  // above). Errors name the config item (FILE:LINE:COLUMN when it came from
  // a file) and the resource at fault.
  [[nodiscard]] static Result<std::unique_ptr<Runtime>> create(RuntimeConfig config);
  // load_config(path), then create().
  [[nodiscard]] static Result<std::unique_ptr<Runtime>> create_from_file(const std::filesystem::path& path);

  // Closes the ports, frees the pools and rings, and gives the creating
  // thread back the CPU affinity it had before create() moved it.
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // The port the config names `name`; the Error lists the defined ones.
  [[nodiscard]] Result<net::Port*> port(std::string_view name) const;
  // The pool `port_name`'s rx buffers come from (shared or its own): where a
  // poller allocates the frames it sends on that port.
  [[nodiscard]] Result<mem::Mempool*> pool_of_port(std::string_view port_name) const;
  // The [[pool]] named `name`.
  [[nodiscard]] Result<mem::Mempool*> pool(std::string_view name) const;
  // The [[ring]] named `name`; the Error lists the defined ones.
  [[nodiscard]] Result<PacketRing*> ring(std::string_view name) const;

  // Telemetry ([telemetry] listen): the registry the endpoint serves. The
  // runtime adds every port (label port = its spec) at create() and every
  // worker (label worker = its name) while run() runs; the application adds
  // its pollers' counters (telemetry/dataplane_metrics.hpp) and keeps the
  // handles while they live. Usable with telemetry off too (nobody scrapes).
  [[nodiscard]] telemetry::MetricsRegistry& metrics() noexcept { return metrics_registry_; }
  // The bound endpoint "A.B.C.D:PORT" (the real port when 0 was asked);
  // empty when telemetry is off.
  [[nodiscard]] std::string metrics_address() const;

  // Registers the poller a worker's `pollers` list names; it must outlive
  // run(). Errors: no worker runs a poller of that name, or it is taken.
  [[nodiscard]] Result<void> add_poller(std::string_view name, dataplane::Poller& poller);

  // Starts the workers and runs the control loop on the calling thread
  // until stop(), SIGINT/SIGTERM, options.duration or a fault the
  // application does not carry on from; then stops and joins the workers.
  // Errors: a configured poller was never added (named, with where the
  // config lists it), a worker could not be pinned or made SCHED_FIFO.
  [[nodiscard]] Result<RunReport> run(const RunOptions& options = {});

  // Ends run() from any thread (a poller, on_tick, another thread).
  void stop() noexcept;

  [[nodiscard]] const RuntimeConfig& config() const noexcept { return config_; }
  // The CPU each worker is pinned to, in the config's order.
  [[nodiscard]] const std::vector<unsigned>& worker_cpus() const noexcept { return worker_cpus_; }
  // Lines for people about where threads went (partition source, notes).
  [[nodiscard]] const std::vector<std::string>& placement_report() const noexcept { return placement_report_; }

 private:
  struct OpenPort;
  Runtime() = default;
  Result<void> place_threads();
  Result<void> allocate_pools();
  Result<void> open_ports();
  Result<void> start_metrics();
  // Until `deadline`: answers scrapes when telemetry is on, else sleeps.
  void wait_until(std::chrono::steady_clock::time_point deadline);
  Result<std::vector<std::vector<dataplane::Poller*>>> pollers_per_worker() const;
  // One look at every port; returns whether the run should stop.
  bool check_faults(const RunOptions& options, RunReport& report);

  RuntimeConfig config_;
  std::vector<unsigned> worker_cpus_;
  std::vector<unsigned> control_cpus_;  // empty: unchanged
  pid_t creator_tid_ = 0;                  // the thread that called create()
  std::vector<unsigned> creator_affinity_;  // its CPUs before
  std::vector<std::string> placement_report_;
  UniqueFd cpu_dma_latency_;  // the partition's PM QoS request, while the runtime lives (placement.hpp)
  // Declaration order is destruction order reversed: the metrics sources
  // (which read the ports) before the ports, ports (which hold buffers of
  // the pools) before the pools, the registry after everything it reads.
  telemetry::MetricsRegistry metrics_registry_;
  std::unique_ptr<telemetry::MetricsServer> metrics_server_;
  std::vector<std::unique_ptr<PacketRing>> rings_;  // config_.rings' order
  std::vector<std::unique_ptr<mem::Mempool>> pools_;  // the [[pool]]s, then one per port without a shared pool
  std::vector<std::unique_ptr<OpenPort>> ports_;
  std::vector<telemetry::SourceHandle> port_sources_;
  std::vector<std::pair<std::string, dataplane::Poller*>> pollers_;
  std::atomic<bool> stop_requested_{false};
};

}  // namespace aether::runtime
