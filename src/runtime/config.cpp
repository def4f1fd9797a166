// validate_config: the checks a RuntimeConfig passes whether it came from a
// file or from code (config.hpp lists them).
#include "aether/runtime/config.hpp"

#include <algorithm>
#include <bit>
#include <map>
#include <set>

#include <fmt/format.h>

#include "aether/mem/mempool.hpp"
#include "aether/net/port_registry.hpp"
#include "aether/telemetry/metrics_server.hpp"

namespace aether::runtime {

std::string ConfigLocation::prefix() const {
  if (!known()) return {};
  return fmt::format("{}:{}:{}: ", source, line, column);
}

namespace {

Error config_error(const ConfigLocation& where, std::string_view message) {
  return invalid_argument(fmt::format("{}{}", where.prefix(), message));
}

bool valid_name_character(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
         c == '.';
}

// `kind` names the item in messages ("pool", "port", "worker", "poller").
Result<void> check_name(std::string_view kind, std::string_view name, const ConfigLocation& where) {
  if (name.empty()) return config_error(where, fmt::format("{}: name is empty; give it a name", kind));
  if (!std::all_of(name.begin(), name.end(), valid_name_character)) {
    return config_error(where, fmt::format("{} '{}': name may use only letters, digits, '_', '-' and '.'", kind, name));
  }
  return {};
}

// Refuses a name given twice; `seen` maps each name to where it was first.
Result<void> check_unique(std::string_view kind, const std::string& name, const ConfigLocation& where,
                          std::map<std::string, ConfigLocation>& seen) {
  const auto [first, inserted] = seen.emplace(name, where);
  if (inserted) return {};
  const std::string earlier = first->second.known() ? fmt::format(" (first at line {})", first->second.line) : "";
  return config_error(where, fmt::format("{} '{}' is defined twice{}; names must be unique", kind, name, earlier));
}

Result<void> check_buffers(std::string_view what, std::uint32_t buffers, const ConfigLocation& where) {
  if (buffers >= 1 && buffers <= mem::Mempool::kMaxBufferCount) return {};
  return config_error(where, fmt::format("{}: buffers = {} is out of range; allowed: 1..{}", what, buffers,
                                         mem::Mempool::kMaxBufferCount));
}

std::string joined_names(const std::map<std::string, ConfigLocation>& names) {
  std::string out;
  for (const auto& [name, where] : names) out += (out.empty() ? "" : ", ") + name;
  return out.empty() ? "none defined" : out;
}

Result<void> check_pools(const RuntimeConfig& config, std::map<std::string, ConfigLocation>& pools) {
  for (const PoolConfig& pool : config.pools) {
    if (auto ok = check_name("pool", pool.name, pool.where); !ok) return ok;
    if (auto ok = check_unique("pool", pool.name, pool.where, pools); !ok) return ok;
    if (auto ok = check_buffers(fmt::format("pool '{}'", pool.name), pool.buffers, pool.where); !ok) return ok;
  }
  return {};
}

Result<void> check_ports(const RuntimeConfig& config, const std::map<std::string, ConfigLocation>& pools) {
  std::map<std::string, ConfigLocation> ports;
  for (const PortConfig& port : config.ports) {
    if (auto ok = check_name("port", port.name, port.where); !ok) return ok;
    if (auto ok = check_unique("port", port.name, port.where, ports); !ok) return ok;
    if (auto spec = net::check_port_spec(port.spec); !spec) {
      return config_error(port.where, fmt::format("port '{}': spec: {}", port.name, spec.error().message));
    }
    if (port.pool.empty()) {
      if (auto ok = check_buffers(fmt::format("port '{}'", port.name), port.buffers, port.where); !ok) return ok;
    } else if (!pools.contains(port.pool)) {
      return config_error(port.where, fmt::format("port '{}': pool '{}' is not defined; pools: {}", port.name,
                                                  port.pool, joined_names(pools)));
    }
  }
  return {};
}

Result<void> check_worker(const RuntimeConfig& config, const WorkerConfig& worker,
                          std::map<std::string, ConfigLocation>& pollers, std::map<unsigned, std::string>& cpus) {
  if (worker.pollers.empty()) {
    return config_error(worker.where, fmt::format("worker '{}': pollers is empty; a worker runs at least one poller",
                                                  worker.name));
  }
  for (const std::string& poller : worker.pollers) {
    if (auto ok = check_name("poller", poller, worker.where); !ok) return ok;
    if (const auto it = pollers.find(poller); it != pollers.end()) {
      return config_error(worker.where, fmt::format("worker '{}': poller '{}' is already on another worker; "
                                                    "a poller runs on one worker only",
                                                    worker.name, poller));
    }
    pollers.emplace(poller, worker.where);
  }
  if (!worker.cpu && !config.partition) {
    return config_error(worker.where, fmt::format("worker '{}': no cpu; give cpu = N, or partition = true in "
                                                  "[runtime] to take the partition's Aether CPUs",
                                                  worker.name));
  }
  if (worker.cpu) {
    const auto [other, inserted] = cpus.emplace(*worker.cpu, worker.name);
    if (!inserted) {
      return config_error(worker.where, fmt::format("worker '{}': cpu {} is already worker '{}''s; one worker per CPU",
                                                    worker.name, *worker.cpu, other->second));
    }
  }
  if (worker.fifo_priority && (*worker.fifo_priority < 1 || *worker.fifo_priority > 99)) {
    return config_error(worker.where, fmt::format("worker '{}': fifo_priority = {} is out of range; allowed: 1..99",
                                                  worker.name, *worker.fifo_priority));
  }
  return {};
}

Result<void> check_workers(const RuntimeConfig& config) {
  if (config.workers.empty()) {
    return invalid_argument("no worker is defined; add a [[worker]] with a name and its pollers");
  }
  if (config.partition) {
    const auto with_cpu = std::count_if(config.workers.begin(), config.workers.end(),
                                        [](const WorkerConfig& worker) { return worker.cpu.has_value(); });
    if (with_cpu != 0 && static_cast<std::size_t>(with_cpu) != config.workers.size()) {
      const auto without = std::find_if(config.workers.begin(), config.workers.end(),
                                        [](const WorkerConfig& worker) { return !worker.cpu.has_value(); });
      return config_error(without->where, fmt::format("worker '{}': no cpu, but other workers name one; with "
                                                      "partition = true give cpu to every worker or to none",
                                                      without->name));
    }
  }
  std::map<std::string, ConfigLocation> workers;
  std::map<std::string, ConfigLocation> pollers;
  std::map<unsigned, std::string> cpus;
  for (const WorkerConfig& worker : config.workers) {
    if (auto ok = check_name("worker", worker.name, worker.where); !ok) return ok;
    if (auto ok = check_unique("worker", worker.name, worker.where, workers); !ok) return ok;
    if (auto ok = check_worker(config, worker, pollers, cpus); !ok) return ok;
  }
  return {};
}

Result<void> check_rings(const RuntimeConfig& config) {
  std::map<std::string, ConfigLocation> rings;
  for (const RingConfig& ring : config.rings) {
    if (auto ok = check_name("ring", ring.name, ring.where); !ok) return ok;
    if (auto ok = check_unique("ring", ring.name, ring.where, rings); !ok) return ok;
    if (ring.capacity == 0 || ring.capacity > max_ring_capacity || !std::has_single_bit(ring.capacity)) {
      return config_error(ring.where, fmt::format("ring '{}': capacity = {} is not allowed; allowed: a power of two "
                                                  "in 1..{}",
                                                  ring.name, ring.capacity, max_ring_capacity));
    }
  }
  return {};
}

Result<void> check_telemetry(const TelemetryConfig& telemetry) {
  if (telemetry.listen.empty()) return {};
  if (auto parsed = telemetry::parse_listen_address(telemetry.listen); !parsed) {
    return config_error(telemetry.where, fmt::format("telemetry: listen: {}", parsed.error().message));
  }
  return {};
}

}  // namespace

Result<void> validate_config(const RuntimeConfig& config) {
  std::map<std::string, ConfigLocation> pools;
  if (auto ok = check_pools(config, pools); !ok) return ok;
  if (auto ok = check_ports(config, pools); !ok) return ok;
  if (auto ok = check_rings(config); !ok) return ok;
  if (auto ok = check_telemetry(config.telemetry); !ok) return ok;
  return check_workers(config);
}

}  // namespace aether::runtime
