// The runtime's TOML config: a good file read whole, and bad files refused
// with FILE:LINE:COLUMN, the key, and what is allowed. Unknown keys are
// refused, never ignored.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "aether/runtime/config.hpp"

namespace aether::runtime {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr const char* good_config = R"(# a pipeline on two workers
[runtime]
partition = false
lock_memory = false

[[pool]]
name = "shared"
buffers = 8192

[[port]]
name = "in"
spec = "udp:127.0.0.1:9000"
pool = "shared"

[[port]]
name = "out"
spec = "udp:127.0.0.1:9001"
buffers = 1024

[[worker]]
name = "rx"
cpu = 0
pollers = ["receive", "classify"]

[[worker]]
name = "tx"
cpu = 1
fifo_priority = 10
pollers = ["send"]
)";

// The message of parsing `text` named "test.toml", which must fail.
std::string error_of(const std::string& text) {
  auto config = parse_config(text, "test.toml");
  if (config) return "<parsed without error>";
  return config.error().message;
}

// A minimal valid file with `extra` appended to the worker's table.
std::string one_worker(const std::string& extra = "") {
  return "[[worker]]\nname = \"w\"\ncpu = 1\npollers = [\"p\"]\n" + extra;
}

TEST(RuntimeConfig, ReadsEverySection) {
  auto config = parse_config(good_config, "good.toml");
  ASSERT_TRUE(config) << config.error().describe();
  EXPECT_FALSE(config->partition);
  EXPECT_FALSE(config->lock_memory);
  ASSERT_EQ(config->pools.size(), 1u);
  EXPECT_EQ(config->pools[0].name, "shared");
  EXPECT_EQ(config->pools[0].buffers, 8192u);
  EXPECT_EQ(config->pools[0].where.line, 6u);
  ASSERT_EQ(config->ports.size(), 2u);
  EXPECT_EQ(config->ports[0].spec, "udp:127.0.0.1:9000");
  EXPECT_EQ(config->ports[0].pool, "shared");
  EXPECT_EQ(config->ports[1].pool, "");
  EXPECT_EQ(config->ports[1].buffers, 1024u);
  ASSERT_EQ(config->workers.size(), 2u);
  EXPECT_EQ(config->workers[0].cpu, 0u);
  EXPECT_EQ(config->workers[0].pollers, (std::vector<std::string>{"receive", "classify"}));
  EXPECT_FALSE(config->workers[0].fifo_priority.has_value());
  EXPECT_EQ(config->workers[1].fifo_priority, 10);
  EXPECT_EQ(config->workers[1].where.prefix(), "good.toml:25:1: ");
}

TEST(RuntimeConfig, DefaultsLockMemoryAndNoPartition) {
  auto config = parse_config(one_worker());
  ASSERT_TRUE(config) << config.error().describe();
  EXPECT_TRUE(config->lock_memory);
  EXPECT_FALSE(config->partition);
  EXPECT_TRUE(config->partition_journal.empty());
}

TEST(RuntimeConfig, PartitionPlacementMakesCpuOptional) {
  auto config = parse_config("[runtime]\npartition = true\n[[worker]]\nname = \"w\"\npollers = [\"p\"]\n");
  ASSERT_TRUE(config) << config.error().describe();
  EXPECT_FALSE(config->workers[0].cpu.has_value());
}

TEST(RuntimeConfig, PartitionPlacementWantsACpuOnEveryWorkerOrNone) {
  EXPECT_THAT(error_of("[runtime]\npartition = true\n[[worker]]\nname = \"a\"\ncpu = 2\npollers = [\"p\"]\n"
                       "[[worker]]\nname = \"b\"\npollers = [\"q\"]\n"),
              StartsWith("test.toml:7:1: worker 'b': no cpu, but other workers name one"));
}

TEST(RuntimeConfig, InvalidTomlNamesLineAndColumn) {
  EXPECT_THAT(error_of("[[worker]\nname = 1\n"), StartsWith("test.toml:1:"));
  EXPECT_THAT(error_of("[runtime]\npartition = \n"), StartsWith("test.toml:2:"));
  EXPECT_THAT(error_of("[runtime]\npartition = true\npartition = false\n"), StartsWith("test.toml:3:"));
  EXPECT_THAT(error_of("[runtime]\npartition = true\npartition = false\n"), HasSubstr("not valid TOML"));
}

TEST(RuntimeConfig, RefusesUnknownTopLevelKey) {
  const std::string message = error_of(one_worker() + "\n[wokrer]\nname = \"x\"\n");
  EXPECT_THAT(message, StartsWith("test.toml:6:2: wokrer: unknown key"));
  EXPECT_THAT(message, HasSubstr("allowed here: runtime, pool, port, ring, worker, telemetry"));
}

TEST(RuntimeConfig, RefusesUnknownKeyInEveryTable) {
  EXPECT_THAT(error_of("[runtime]\npartitoin = true\n" + one_worker()),
              StartsWith("test.toml:2:1: runtime.partitoin: unknown key; allowed here: partition, partition_journal, "
                         "lock_memory"));
  EXPECT_THAT(error_of("[[pool]]\nname = \"p\"\ncount = 3\n" + one_worker()),
              StartsWith("test.toml:3:1: pool[0].count: unknown key; allowed here: name, buffers"));
  EXPECT_THAT(error_of("[[port]]\nname = \"p\"\nspec = \"udp:127.0.0.1:1\"\nqueue = 3\n" + one_worker()),
              StartsWith("test.toml:4:1: port[0].queue: unknown key; allowed here: name, spec, pool, buffers"));
  EXPECT_THAT(error_of(one_worker("core = 3\n")),
              StartsWith("test.toml:5:1: worker[0].core: unknown key; allowed here: name, cpu, fifo_priority, pollers"));
}

TEST(RuntimeConfig, RefusesWrongTypesNamingExpectedAndGot) {
  EXPECT_THAT(error_of("[runtime]\npartition = \"yes\"\n" + one_worker()),
              StartsWith("test.toml:2:13: runtime.partition: expected a boolean (true or false), got a string"));
  EXPECT_THAT(error_of("runtime = 3\n" + one_worker()),
              StartsWith("test.toml:1:11: runtime: expected a table ([runtime]), got an integer"));
  EXPECT_THAT(error_of("port = \"udp:1.2.3.4:5\"\n" + one_worker()),
              HasSubstr("port: expected an array of tables ([[port]]), got a string"));
  EXPECT_THAT(error_of("[[worker]]\nname = \"w\"\ncpu = \"2\"\npollers = [\"p\"]\n"),
              StartsWith("test.toml:3:7: worker[0].cpu: expected an integer, got a string"));
  EXPECT_THAT(error_of("[[worker]]\nname = \"w\"\ncpu = 2.5\npollers = [\"p\"]\n"),
              HasSubstr("expected an integer, got a floating-point number"));
  EXPECT_THAT(error_of("[[worker]]\nname = \"w\"\ncpu = 1\npollers = \"p\"\n"),
              HasSubstr("worker[0].pollers: expected an array of strings, got a string"));
  EXPECT_THAT(error_of("[[worker]]\nname = \"w\"\ncpu = 1\npollers = [\"p\", 3]\n"),
              HasSubstr("worker[0].pollers[1]: expected a string (a poller's name), got an integer"));
  EXPECT_THAT(error_of("[[worker]]\nname = 7\ncpu = 1\npollers = [\"p\"]\n"),
              HasSubstr("worker[0].name: expected a string, got an integer"));
}

TEST(RuntimeConfig, RefusesOutOfRangeIntegers) {
  EXPECT_THAT(error_of("[[worker]]\nname = \"w\"\ncpu = -1\npollers = [\"p\"]\n"),
              HasSubstr("worker[0].cpu: -1 is out of range; allowed: 0..4095"));
  EXPECT_THAT(error_of(one_worker("fifo_priority = 100\n")),
              HasSubstr("worker[0].fifo_priority: 100 is out of range; allowed: 1..99"));
  EXPECT_THAT(error_of("[[pool]]\nname = \"p\"\nbuffers = 0\n" + one_worker()),
              HasSubstr("pool[0].buffers: 0 is out of range"));
  EXPECT_THAT(error_of("[[pool]]\nname = \"p\"\nbuffers = 99999999999\n" + one_worker()),
              HasSubstr("pool[0].buffers: 99999999999 is out of range"));
  EXPECT_THAT(error_of("[[pool]]\nname = \"p\"\nbuffers = 4000000000\n" + one_worker()),
              StartsWith("test.toml:1:1: pool 'p': buffers = 4000000000 is out of range; allowed: 1.."));
}

TEST(RuntimeConfig, RefusesMissingRequiredKeys) {
  EXPECT_THAT(error_of("[[worker]]\ncpu = 1\npollers = [\"p\"]\n"),
              StartsWith("test.toml:1:1: worker[0].name: missing; this table needs it"));
  EXPECT_THAT(error_of("[[worker]]\nname = \"w\"\ncpu = 1\n"), HasSubstr("worker[0].pollers: missing"));
  EXPECT_THAT(error_of("[[port]]\nname = \"p\"\n" + one_worker()), HasSubstr("port[0].spec: missing"));
  EXPECT_THAT(error_of("[[pool]]\nbuffers = 3\n" + one_worker()), HasSubstr("pool[0].name: missing"));
}

TEST(RuntimeConfig, RefusesPortSpecsTheRegistryRefuses) {
  EXPECT_THAT(error_of("[[port]]\nname = \"p\"\nspec = \"carrier-pigeon:x\"\n" + one_worker()),
              StartsWith("test.toml:1:1: port 'p': spec: "));
  EXPECT_THAT(error_of("[[port]]\nname = \"p\"\nspec = \"udp:127.0.0.1:9000?bogus=1\"\n" + one_worker()),
              HasSubstr("bogus"));
}

TEST(RuntimeConfig, RefusesReferencesToUndefinedPools) {
  EXPECT_THAT(error_of("[[pool]]\nname = \"a\"\n[[port]]\nname = \"p\"\nspec = \"udp:127.0.0.1:9000\"\n"
                       "pool = \"b\"\n" +
                       one_worker()),
              StartsWith("test.toml:3:1: port 'p': pool 'b' is not defined; pools: a"));
  EXPECT_THAT(error_of("[[port]]\nname = \"p\"\nspec = \"udp:127.0.0.1:9000\"\npool = \"b\"\n" + one_worker()),
              HasSubstr("pools: none defined"));
  EXPECT_THAT(error_of("[[pool]]\nname = \"a\"\n[[port]]\nname = \"p\"\nspec = \"udp:127.0.0.1:9000\"\n"
                       "pool = \"a\"\nbuffers = 5\n" +
                       one_worker()),
              HasSubstr("port[0].buffers: a port with a shared pool takes the pool's buffers"));
}

TEST(RuntimeConfig, RefusesDuplicateAndBadNames) {
  EXPECT_THAT(error_of("[[pool]]\nname = \"a\"\n[[pool]]\nname = \"a\"\n" + one_worker()),
              StartsWith("test.toml:3:1: pool 'a' is defined twice (first at line 1); names must be unique"));
  EXPECT_THAT(error_of(one_worker() + one_worker()), HasSubstr("worker 'w' is defined twice"));
  EXPECT_THAT(error_of("[[worker]]\nname = \"\"\ncpu = 1\npollers = [\"p\"]\n"), HasSubstr("worker: name is empty"));
  EXPECT_THAT(error_of("[[worker]]\nname = \"a b\"\ncpu = 1\npollers = [\"p\"]\n"),
              HasSubstr("worker 'a b': name may use only letters, digits"));
  EXPECT_THAT(error_of("[[worker]]\nname = \"w\"\ncpu = 1\npollers = [\"p/q\"]\n"),
              HasSubstr("poller 'p/q': name may use only"));
}

TEST(RuntimeConfig, RefusesWorkersThatCannotRun) {
  EXPECT_THAT(error_of(""), HasSubstr("no worker is defined"));
  EXPECT_THAT(error_of("[[worker]]\nname = \"w\"\ncpu = 1\npollers = []\n"),
              StartsWith("test.toml:1:1: worker 'w': pollers is empty"));
  EXPECT_THAT(error_of("[[worker]]\nname = \"w\"\npollers = [\"p\"]\n"),
              HasSubstr("worker 'w': no cpu; give cpu = N, or partition = true"));
  EXPECT_THAT(error_of("[[worker]]\nname = \"a\"\ncpu = 1\npollers = [\"p\"]\n"
                       "[[worker]]\nname = \"b\"\ncpu = 1\npollers = [\"q\"]\n"),
              StartsWith("test.toml:5:1: worker 'b': cpu 1 is already worker 'a''s"));
  EXPECT_THAT(error_of("[[worker]]\nname = \"a\"\ncpu = 1\npollers = [\"p\"]\n"
                       "[[worker]]\nname = \"b\"\ncpu = 2\npollers = [\"p\"]\n"),
              HasSubstr("worker 'b': poller 'p' is already on another worker"));
  EXPECT_THAT(error_of("[[worker]]\nname = \"a\"\ncpu = 1\npollers = [\"p\", \"p\"]\n"),
              HasSubstr("poller 'p' is already on another worker"));
}

TEST(RuntimeConfig, ValidatesConfigsBuiltInCodeWithoutLocations) {
  RuntimeConfig config;
  config.workers.push_back(WorkerConfig{.name = "w", .cpu = 3, .fifo_priority = {}, .pollers = {"p"}, .where = {}});
  EXPECT_TRUE(validate_config(config));
  config.ports.push_back(PortConfig{.name = "p", .spec = "udp:127.0.0.1:9000", .pool = "nope", .buffers = 1, .where = {}});
  auto result = validate_config(config);
  ASSERT_FALSE(result);
  EXPECT_THAT(result.error().message, StartsWith("port 'p': pool 'nope' is not defined"));
}

TEST(RuntimeConfig, BuildsInCodeOneLinePerItem) {
  RuntimeConfig config;
  config.add_pool("shared", 1024);
  config.add_port("in", "udp:127.0.0.1:9000").pool = "shared";
  config.add_port("out", "udp:127.0.0.1:9001").buffers = 512;
  config.add_worker("w", 1, {"p"}).fifo_priority = 5;
  ASSERT_TRUE(validate_config(config));
  EXPECT_EQ(config.ports[0].pool, "shared");
  EXPECT_EQ(config.ports[1].pool, "");
  EXPECT_EQ(config.ports[1].buffers, 512u);
  EXPECT_EQ(config.workers[0].cpu, 1u);
  EXPECT_EQ(config.workers[0].fifo_priority, 5);
  EXPECT_FALSE(config.workers[0].where.known());
}

TEST(RuntimeConfig, ReadsRingsAndTelemetry) {
  auto config = parse_config(one_worker("\n[[ring]]\nname = \"to-tx\"\ncapacity = 256\n[[ring]]\nname = \"back\"\n"
                                        "[telemetry]\nlisten = \"127.0.0.1:9464\"\n"),
                             "app.toml");
  ASSERT_TRUE(config) << config.error().describe();
  ASSERT_EQ(config->rings.size(), 2u);
  EXPECT_EQ(config->rings[0].name, "to-tx");
  EXPECT_EQ(config->rings[0].capacity, 256u);
  EXPECT_EQ(config->rings[0].where.prefix(), "app.toml:6:1: ");
  EXPECT_EQ(config->rings[1].capacity, 1024u);  // the default
  EXPECT_EQ(config->telemetry.listen, "127.0.0.1:9464");
  EXPECT_EQ(config->telemetry.where.prefix(), "app.toml:12:10: ");
  auto off = parse_config(one_worker());
  ASSERT_TRUE(off) << off.error().describe();
  EXPECT_TRUE(off->telemetry.listen.empty());  // off by default
}

TEST(RuntimeConfig, RefusesBadRingsAndTelemetry) {
  EXPECT_THAT(error_of(one_worker("[[ring]]\nname = \"r\"\ncapacity = 1000\n")),
              StartsWith("test.toml:5:1: ring 'r': capacity = 1000 is not allowed; allowed: a power of two in "
                         "1..1048576"));
  EXPECT_THAT(error_of(one_worker("[[ring]]\nname = \"r\"\ncapacity = 0\n")),
              StartsWith("test.toml:7:12: ring[0].capacity: 0 is out of range; allowed: 1..1048576"));
  EXPECT_THAT(error_of(one_worker("[[ring]]\nname = \"r\"\nslots = 8\n")),
              StartsWith("test.toml:7:1: ring[0].slots: unknown key; allowed here: name, capacity"));
  EXPECT_THAT(error_of(one_worker("[[ring]]\ncapacity = 8\n")), HasSubstr("ring[0].name: missing"));
  EXPECT_THAT(error_of(one_worker("[[ring]]\nname = \"r\"\n[[ring]]\nname = \"r\"\n")),
              HasSubstr("ring 'r' is defined twice (first at line 5)"));
  EXPECT_THAT(error_of(one_worker("[telemetry]\nlisten = \"127.0.0.1\"\n")),
              StartsWith("test.toml:6:10: telemetry: listen: metrics address '127.0.0.1' is not HOST:PORT"));
  EXPECT_THAT(error_of(one_worker("[telemetry]\nlisten = \"nohost:9464\"\n")),
              HasSubstr("'nohost' is not an IPv4 address"));
  EXPECT_THAT(error_of(one_worker("[telemetry]\nlisten = 9464\n")),
              StartsWith("test.toml:6:10: telemetry.listen: expected a string, got an integer"));
  EXPECT_THAT(error_of(one_worker("[telemetry]\nlisten = \"127.0.0.1:1\"\nport = 2\n")),
              StartsWith("test.toml:7:1: telemetry.port: unknown key; allowed here: listen"));
  EXPECT_THAT(error_of(one_worker("[telemetry]\n")), StartsWith("test.toml:5:1: telemetry.listen: missing"));
  RuntimeConfig in_code;
  in_code.add_worker("w", 1, {"p"});
  in_code.add_ring("r", 3);
  auto result = validate_config(in_code);
  ASSERT_FALSE(result);
  EXPECT_THAT(result.error().message, StartsWith("ring 'r': capacity = 3 is not allowed"));
}

TEST(RuntimeConfig, LoadsAFileAndNamesAMissingOne) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("aether-runtime-config-" + std::to_string(getpid()) + ".toml");
  {
    std::ofstream file(path);
    file << good_config;
  }
  auto config = load_config(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(config) << config.error().describe();
  EXPECT_EQ(config->workers[0].where.source, path.string());

  auto missing = load_config("/nonexistent/aether.toml");
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().describe(), HasSubstr("cannot read the runtime config /nonexistent/aether.toml"));
}

}  // namespace
}  // namespace aether::runtime
