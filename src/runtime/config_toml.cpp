// parse_config / load_config: the TOML schema of config.hpp, read with
// toml++ (Debian libtomlplusplus-dev). Every key is checked against the keys
// its table allows before any is read, so a typo is refused with the list of
// allowed keys; every value's type is checked and named in the message.
#include <algorithm>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <sstream>

#include <fmt/format.h>

#include <toml++/toml.h>

#include "aether/runtime/config.hpp"

namespace aether::runtime {
namespace {

// Reads one TOML document into a RuntimeConfig, remembering the first error.
class ConfigReader {
 public:
  explicit ConfigReader(std::string_view source) : source_(source) {}

  Result<RuntimeConfig> read(const toml::table& document) {
    if (auto ok = check_keys(document, "", {"runtime", "pool", "port", "ring", "worker", "telemetry"}); !ok) {
      return std::move(ok).error();
    }
    if (const toml::node* runtime = document.get("runtime")) {
      if (auto ok = read_runtime(*runtime); !ok) return std::move(ok).error();
    }
    if (const toml::node* telemetry = document.get("telemetry")) {
      if (auto ok = read_telemetry(*telemetry); !ok) return std::move(ok).error();
    }
    if (auto ok = read_array_of_tables(document, "pool", &ConfigReader::read_pool); !ok) return std::move(ok).error();
    if (auto ok = read_array_of_tables(document, "port", &ConfigReader::read_port); !ok) return std::move(ok).error();
    if (auto ok = read_array_of_tables(document, "ring", &ConfigReader::read_ring); !ok) return std::move(ok).error();
    if (auto ok = read_array_of_tables(document, "worker", &ConfigReader::read_worker); !ok) {
      return std::move(ok).error();
    }
    return std::move(config_);
  }

 private:
  using TableReader = Result<void> (ConfigReader::*)(const toml::table&, const std::string&);

  ConfigLocation location(const toml::source_region& region) const {
    return ConfigLocation{source_, region.begin.line, region.begin.column};
  }

  Error error_at(const toml::source_region& region, std::string_view key, std::string_view message) const {
    return invalid_argument(fmt::format("{}{}: {}", location(region).prefix(), key, message));
  }

  static std::string_view type_name(const toml::node& node) {
    switch (node.type()) {
      case toml::node_type::table: return "a table";
      case toml::node_type::array: return "an array";
      case toml::node_type::string: return "a string";
      case toml::node_type::integer: return "an integer";
      case toml::node_type::floating_point: return "a floating-point number";
      case toml::node_type::boolean: return "a boolean";
      case toml::node_type::date: return "a date";
      case toml::node_type::time: return "a time";
      case toml::node_type::date_time: return "a date-time";
      case toml::node_type::none: break;
    }
    return "nothing";
  }

  Error wrong_type(const toml::node& node, std::string_view key, std::string_view expected) const {
    return error_at(node.source(), key, fmt::format("expected {}, got {}", expected, type_name(node)));
  }

  static std::string path(std::string_view table, std::string_view key) {
    return table.empty() ? std::string(key) : fmt::format("{}.{}", table, key);
  }

  // Refuses any key of `table` not in `allowed`, listing the allowed ones.
  Result<void> check_keys(const toml::table& table, std::string_view table_path,
                          std::initializer_list<std::string_view> allowed) const {
    for (const auto& [key, node] : table) {
      if (std::find(allowed.begin(), allowed.end(), key.str()) != allowed.end()) continue;
      return error_at(key.source(), path(table_path, key.str()),
                      fmt::format("unknown key; allowed here: {}", fmt::join(allowed, ", ")));
    }
    return {};
  }

  Result<void> read_string(const toml::table& table, std::string_view table_path, std::string_view key,
                           std::string& out) const {
    const toml::node* node = table.get(key);
    if (node == nullptr) return {};
    if (!node->is_string()) return wrong_type(*node, path(table_path, key), "a string");
    out = node->as_string()->get();
    return {};
  }

  Result<void> read_bool(const toml::table& table, std::string_view table_path, std::string_view key,
                         bool& out) const {
    const toml::node* node = table.get(key);
    if (node == nullptr) return {};
    if (!node->is_boolean()) return wrong_type(*node, path(table_path, key), "a boolean (true or false)");
    out = node->as_boolean()->get();
    return {};
  }

  // An integer in min..max; absent leaves `out` as it is.
  template <class Integer>
  Result<void> read_integer(const toml::table& table, std::string_view table_path, std::string_view key,
                            std::int64_t min, std::int64_t max, Integer& out) const {
    const toml::node* node = table.get(key);
    if (node == nullptr) return {};
    if (!node->is_integer()) return wrong_type(*node, path(table_path, key), "an integer");
    const std::int64_t value = node->as_integer()->get();
    if (value < min || value > max) {
      return error_at(node->source(), path(table_path, key),
                      fmt::format("{} is out of range; allowed: {}..{}", value, min, max));
    }
    out = static_cast<Integer>(value);
    return {};
  }

  // A key every item of this table needs.
  Result<void> require(const toml::table& table, std::string_view table_path, std::string_view key) const {
    if (table.contains(key)) return {};
    return error_at(table.source(), path(table_path, key), "missing; this table needs it");
  }

  Result<void> read_runtime(const toml::node& node) {
    const toml::table* table = node.as_table();
    if (table == nullptr) return wrong_type(node, "runtime", "a table ([runtime])");
    if (auto ok = check_keys(*table, "runtime", {"partition", "partition_journal", "lock_memory"}); !ok) return ok;
    if (auto ok = read_bool(*table, "runtime", "partition", config_.partition); !ok) return ok;
    if (auto ok = read_string(*table, "runtime", "partition_journal", config_.partition_journal); !ok) return ok;
    return read_bool(*table, "runtime", "lock_memory", config_.lock_memory);
  }

  Result<void> read_telemetry(const toml::node& node) {
    const toml::table* table = node.as_table();
    if (table == nullptr) return wrong_type(node, "telemetry", "a table ([telemetry])");
    if (auto ok = check_keys(*table, "telemetry", {"listen"}); !ok) return ok;
    if (auto ok = require(*table, "telemetry", "listen"); !ok) return ok;
    config_.telemetry.where = location(table->get("listen")->source());
    return read_string(*table, "telemetry", "listen", config_.telemetry.listen);
  }

  // [[key]] ...: each element a table, handed to `reader` with its path.
  Result<void> read_array_of_tables(const toml::table& document, std::string_view key, TableReader reader) {
    const toml::node* node = document.get(key);
    if (node == nullptr) return {};
    const toml::array* array = node->as_array();
    if (array == nullptr) return wrong_type(*node, key, fmt::format("an array of tables ([[{}]])", key));
    for (std::size_t i = 0; i < array->size(); ++i) {
      const toml::node& element = *array->get(i);
      const std::string element_path = fmt::format("{}[{}]", key, i);
      const toml::table* table = element.as_table();
      if (table == nullptr) return wrong_type(element, element_path, fmt::format("a table ([[{}]])", key));
      if (auto ok = (this->*reader)(*table, element_path); !ok) return ok;
    }
    return {};
  }

  Result<void> read_pool(const toml::table& table, const std::string& at) {
    if (auto ok = check_keys(table, at, {"name", "buffers"}); !ok) return ok;
    if (auto ok = require(table, at, "name"); !ok) return ok;
    PoolConfig pool;
    pool.where = location(table.source());
    if (auto ok = read_string(table, at, "name", pool.name); !ok) return ok;
    if (auto ok = read_integer(table, at, "buffers", 1, std::numeric_limits<std::uint32_t>::max(), pool.buffers); !ok) {
      return ok;
    }
    config_.pools.push_back(std::move(pool));
    return {};
  }

  Result<void> read_port(const toml::table& table, const std::string& at) {
    if (auto ok = check_keys(table, at, {"name", "spec", "pool", "buffers"}); !ok) return ok;
    if (auto ok = require(table, at, "name"); !ok) return ok;
    if (auto ok = require(table, at, "spec"); !ok) return ok;
    if (table.contains("pool") && table.contains("buffers")) {
      return error_at(table.get("buffers")->source(), path(at, "buffers"),
                      "a port with a shared pool takes the pool's buffers; give either pool or buffers");
    }
    PortConfig port;
    port.where = location(table.source());
    if (auto ok = read_string(table, at, "name", port.name); !ok) return ok;
    if (auto ok = read_string(table, at, "spec", port.spec); !ok) return ok;
    if (auto ok = read_string(table, at, "pool", port.pool); !ok) return ok;
    if (auto ok = read_integer(table, at, "buffers", 1, std::numeric_limits<std::uint32_t>::max(), port.buffers); !ok) {
      return ok;
    }
    config_.ports.push_back(std::move(port));
    return {};
  }

  Result<void> read_ring(const toml::table& table, const std::string& at) {
    if (auto ok = check_keys(table, at, {"name", "capacity"}); !ok) return ok;
    if (auto ok = require(table, at, "name"); !ok) return ok;
    RingConfig ring;
    ring.where = location(table.source());
    if (auto ok = read_string(table, at, "name", ring.name); !ok) return ok;
    if (auto ok = read_integer(table, at, "capacity", 1, max_ring_capacity, ring.capacity); !ok) return ok;
    config_.rings.push_back(std::move(ring));
    return {};
  }

  Result<void> read_worker(const toml::table& table, const std::string& at) {
    if (auto ok = check_keys(table, at, {"name", "cpu", "fifo_priority", "pollers"}); !ok) return ok;
    if (auto ok = require(table, at, "name"); !ok) return ok;
    if (auto ok = require(table, at, "pollers"); !ok) return ok;
    WorkerConfig worker;
    worker.where = location(table.source());
    if (auto ok = read_string(table, at, "name", worker.name); !ok) return ok;
    if (table.contains("cpu")) {
      unsigned cpu = 0;
      if (auto ok = read_integer(table, at, "cpu", 0, 4095, cpu); !ok) return ok;
      worker.cpu = cpu;
    }
    if (table.contains("fifo_priority")) {
      int priority = 0;
      if (auto ok = read_integer(table, at, "fifo_priority", 1, 99, priority); !ok) return ok;
      worker.fifo_priority = priority;
    }
    const toml::node& pollers = *table.get("pollers");
    const toml::array* array = pollers.as_array();
    if (array == nullptr) return wrong_type(pollers, path(at, "pollers"), "an array of strings");
    for (std::size_t i = 0; i < array->size(); ++i) {
      const toml::node& element = *array->get(i);
      if (!element.is_string()) {
        return wrong_type(element, fmt::format("{}.pollers[{}]", at, i), "a string (a poller's name)");
      }
      worker.pollers.push_back(element.as_string()->get());
    }
    config_.workers.push_back(std::move(worker));
    return {};
  }

  std::string source_;
  RuntimeConfig config_;
};

}  // namespace

Result<RuntimeConfig> parse_config(std::string_view text, std::string_view source) {
  toml::table document;
  try {
    document = toml::parse(text, source);
  } catch (const toml::parse_error& error) {
    const auto& begin = error.source().begin;
    return invalid_argument(fmt::format("{}:{}:{}: not valid TOML: {}", source, begin.line, begin.column,
                                        error.description()));
  }
  auto config = ConfigReader(source).read(document);
  if (!config) return config;
  if (auto ok = validate_config(*config); !ok) return std::move(ok).error();
  return config;
}

Result<RuntimeConfig> load_config(const std::filesystem::path& path) {
  std::ifstream file(path);
  if (!file) return errno_error(fmt::format("cannot read the runtime config {}", path.string()));
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) return errno_error(fmt::format("cannot read the runtime config {}", path.string()));
  return parse_config(text.str(), path.string());
}

}  // namespace aether::runtime
