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
//   [[worker]]
//   name = "rx"
//   cpu = 2                     # optional with partition = true
//   pollers = ["feed-handler"]  # names the application registers in code
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

struct RuntimeConfig {
  bool partition = false;  // place workers on the partition's Aether CPUs
  std::string partition_journal;  // empty: partition::default_journal_path
  bool lock_memory = true;        // mlockall(MCL_CURRENT | MCL_FUTURE)
  std::vector<PoolConfig> pools;
  std::vector<PortConfig> ports;
  std::vector<WorkerConfig> workers;

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
};

// Checks what does not need the host: names are non-empty, made of
// [A-Za-z0-9_.-] and unique per kind; buffer counts in range; every port's
// spec parses (net::check_port_spec: kind, target, backend keys) and its
// pool exists; at least one worker; every worker has pollers and a CPU (or
// partition placement, with a CPU on every worker or on none); no CPU or
// poller on two workers; FIFO priority 1..99.
// The Error names the item and where it was written.
[[nodiscard]] Result<void> validate_config(const RuntimeConfig& config);

// Parses TOML `text` (named `source` in messages) and validates it.
[[nodiscard]] Result<RuntimeConfig> parse_config(std::string_view text, std::string_view source = "<config>");

// Reads and parses the file at `path`.
[[nodiscard]] Result<RuntimeConfig> load_config(const std::filesystem::path& path);

}  // namespace aether::runtime
