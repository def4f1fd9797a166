// What a runtime runs, as data: pools, ports by spec string, workers and the
// pollers each one runs, and whether the workers take the partition's CPUs.
// Built in code (fill a RuntimeConfig, then validate_config) or read from a
// TOML file (load_config / parse_config):
//
//   [runtime]
//   partition = true            # workers on the Aether CPUs (docs/partition.md)
//   lock_memory = true          # mlockall before anything is allocated
//
//   [[pool]]
//   name = "shared"
//   buffers = 8192
//
//   [[port]]
//   name = "feed"
//   spec = "udp:127.0.0.1:9000"
//   pool = "shared"             # optional: else a pool of its own
//
//   [[ring]]                    # hands frames from one worker to another
//   name = "to-tx"
//   capacity = 1024             # slots, a power of two
//
//   [[worker]]
//   name = "rx"
//   cpu = 2                     # optional with partition = true
//   pollers = ["feed-handler"]  # names the application registers in code
//
//   [telemetry]
//   listen = "127.0.0.1:9464"   # Prometheus/OpenMetrics over HTTP; off without it
//
// A bad file is refused with "FILE:LINE:COLUMN: KEY: what is wrong; what is
// allowed". A key this schema does not know is refused, never ignored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aether/core/result.hpp"

namespace aether::runtime {

// Where an item was written: "FILE:LINE:COLUMN" in messages. Items built in
// code have none (line 0), and messages then name the item alone.
struct ConfigLocation {
  std::string source;  // the file name, or what the text came from
  std::uint32_t line = 0;
  std::uint32_t column = 0;

  [[nodiscard]] bool known() const noexcept { return line != 0; }
  // "config.toml:12:3: " or "" for an item built in code.
  [[nodiscard]] std::string prefix() const;
};

struct PoolConfig {
  std::string name;
  std::uint32_t buffers = 4096;  // 1 .. mem::Mempool::kMaxBufferCount
  ConfigLocation where;
};

struct PortConfig {
  std::string name;
  std::string spec;  // net/port_spec.hpp: "udp:127.0.0.1:9000", "afxdp:veth0?queue=0"
  // The pool its rx buffers come from; empty: a pool of its own with
  // `buffers` buffers. Ports sharing one pool forward without copying.
  std::string pool;
  std::uint32_t buffers = 4096;
  ConfigLocation where;
};

struct WorkerConfig {
  std::string name;
  // The CPU the worker is pinned to. Without partition placement it is
  // required; with it, either every worker names one (each an Aether CPU)
  // or none does (they take the first Aether CPUs, in order).
  std::optional<unsigned> cpu;
  std::optional<int> fifo_priority;  // SCHED_FIFO 1..99; none: SCHED_OTHER
  std::vector<std::string> pollers;  // run in this order, each on one worker only
  ConfigLocation where;
};

// A PacketRing (runtime/pollers.hpp) between two workers: allocated by
// Runtime::create next to the pools, found by Runtime::ring(name).
struct RingConfig {
  std::string name;
  std::uint32_t capacity = 1024;  // slots: a power of two, 1 .. max_ring_capacity
  ConfigLocation where;
};

// Most slots a configured ring may have (8 MiB of pointers).
inline constexpr std::uint32_t max_ring_capacity = 1u << 20;

// Live telemetry (docs/telemetry.md): the runtime serves every port's,
// queue's and worker's counters, and what the application registers, in
// the Prometheus/OpenMetrics text format on its control thread.
struct TelemetryConfig {
  // "A.B.C.D:PORT" (telemetry::parse_listen_address; port 0: any free
  // port). Empty: off.
  std::string listen;
  ConfigLocation where;
};

struct RuntimeConfig {
  bool partition = false;  // place workers on the partition's Aether CPUs
  std::string partition_journal;  // empty: partition::default_journal_path
  bool lock_memory = true;        // mlockall(MCL_CURRENT | MCL_FUTURE)
  std::vector<PoolConfig> pools;
  std::vector<PortConfig> ports;
  std::vector<WorkerConfig> workers;
  std::vector<RingConfig> rings;
  TelemetryConfig telemetry;
  // How placement errors name a worker's CPU setting: "worker cpu" for a
  // config, the option for a command line ("--cpu 1: CPU 1 is not an
  // Aether CPU").
  std::string cpu_setting_name = "worker cpu";

  // Building in code, one line per item; the returned item can be adjusted
  // (port.pool, worker.fifo_priority, ...). Checked by validate_config.
  PoolConfig& add_pool(std::string name, std::uint32_t buffers) {
    return pools.emplace_back(PoolConfig{std::move(name), buffers, {}});
  }
  PortConfig& add_port(std::string name, std::string spec) {
    return ports.emplace_back(PortConfig{std::move(name), std::move(spec), {}, 4096, {}});
  }
  WorkerConfig& add_worker(std::string name, std::optional<unsigned> cpu, std::vector<std::string> pollers) {
    return workers.emplace_back(WorkerConfig{std::move(name), cpu, std::nullopt, std::move(pollers), {}});
  }
  RingConfig& add_ring(std::string name, std::uint32_t capacity) {
    return rings.emplace_back(RingConfig{std::move(name), capacity, {}});
  }
};

// Checks what does not need the host: names are non-empty, made of
// [A-Za-z0-9_.-] and unique per kind; buffer counts in range; every port's
// spec parses (net::check_port_spec: kind, target, backend keys) and its
// pool exists; at least one worker; every worker has pollers and a CPU (or
// partition placement, with a CPU on every worker or on none); no CPU or
// poller on two workers; FIFO priority 1..99; ring names unique, capacities
// powers of two up to max_ring_capacity; the telemetry address parses.
// The Error names the item and where it was written.
[[nodiscard]] Result<void> validate_config(const RuntimeConfig& config);

// Parses TOML `text` (named `source` in messages) and validates it.
[[nodiscard]] Result<RuntimeConfig> parse_config(std::string_view text, std::string_view source = "<config>");

// Reads and parses the file at `path`.
[[nodiscard]] Result<RuntimeConfig> load_config(const std::filesystem::path& path);

}  // namespace aether::runtime
