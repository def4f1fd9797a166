// Live telemetry end to end: a real `aether echo --metrics` on loopback,
// its scrape checked by Prometheus's own `promtool check metrics`, read by
// `aether stats --once`, and scraped by a real prometheus server whose HTTP
// API must return the echo's counter. No privileges needed: kernel UDP on
// 127.0.0.1 and TCP on 127.0.0.1 only.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aether/core/unique_fd.hpp"
#include "aether/telemetry/scrape_client.hpp"
#include "kernel_peer.hpp"
#include "run_command.hpp"

namespace aether::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A port on 127.0.0.1 nobody listens on right now (bind to 0, read, close).
std::uint16_t free_port(int type) {
  UniqueFd fd(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  socklen_t length = sizeof(address);
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length);
  return ntohs(address.sin_port);
}

using kernel_peer::ChildInNamespace;

// Polls `log` for a line matching `pattern` (group 1 returned), up to `limit`.
std::string wait_for_log(const std::string& log, const std::regex& pattern, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    std::smatch match;
    const std::string text = slurp(log);
    if (std::regex_search(text, match, pattern)) return match[1];
    std::this_thread::sleep_for(50ms);
  }
  return {};
}

// Sends `count` datagrams to 127.0.0.1:`port` and counts the echoes.
int echo_round_trips(std::uint16_t port, int count) {
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in target{};
  target.sin_family = AF_INET;
  target.sin_port = htons(port);
  target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&target), sizeof(target)), 0);
  timeval timeout{0, 200000};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  int answered = 0;
  char buffer[64] = "aether telemetry test";
  for (int i = 0; i < count; ++i) {
    if (::send(fd.get(), buffer, sizeof(buffer), 0) != sizeof(buffer)) continue;
    if (::recv(fd.get(), buffer, sizeof(buffer), 0) == sizeof(buffer)) ++answered;
  }
  return answered;
}

class Telemetry : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() / fmt::format("aether-telemetry-{}", ::getpid());
    std::filesystem::create_directories(directory_);
    udp_port_ = free_port(SOCK_DGRAM);
    echo_log_ = (directory_ / "echo.log").string();
    echo_ = std::make_unique<ChildInNamespace>(
        std::vector<std::string>{AETHER_CLI_PATH, "echo", fmt::format("udp:127.0.0.1:{}", udp_port_), "--buffers", "1024",
                                 "--metrics", "127.0.0.1:0"},
        echo_log_);
    metrics_ = wait_for_log(echo_log_, std::regex("metrics on http://([0-9.]+:[0-9]+)/metrics"), 10s);
    ASSERT_FALSE(metrics_.empty()) << slurp(echo_log_);
    ASSERT_FALSE(wait_for_log(echo_log_, std::regex("(answering on CPU)"), 10s).empty()) << slurp(echo_log_);
    ASSERT_EQ(echo_round_trips(udp_port_, 100), 100) << slurp(echo_log_);
  }
  void TearDown() override {
    echo_.reset();
    std::filesystem::remove_all(directory_);
  }

  std::filesystem::path directory_;
  std::uint16_t udp_port_ = 0;
  std::string echo_log_;
  std::unique_ptr<ChildInNamespace> echo_;
  std::string metrics_;  // HOST:PORT of the echo's endpoint
};

TEST_F(Telemetry, EchoExportsEveryCounterAndPromtoolAcceptsTheScrape) {
  // The worker counts a burst after answering it: the last echo may reach
  // the client a moment before its count does. Scrape until it shows.
  Result<telemetry::HttpResponse> scrape = Error{};
  Result<std::vector<telemetry::ScrapedSample>> samples = Error{};
  for (const auto deadline = Clock::now() + 5s; Clock::now() < deadline; std::this_thread::sleep_for(20ms)) {
    scrape = telemetry::http_get(metrics_, "/metrics", 5s);
    ASSERT_TRUE(scrape) << scrape.error().describe();
    ASSERT_EQ(scrape->status, 200);
    samples = telemetry::parse_exposition(scrape->body);
    ASSERT_TRUE(samples) << samples.error().describe();
    if (scrape->body.find("aether_echo_sent_total{poller=\"echo\"} 100\n") != std::string::npos) break;
  }
  const std::string port = fmt::format("udp:127.0.0.1:{}", udp_port_);
  auto value = [&](std::string_view name, std::string_view label, std::string_view label_value) {
    for (const auto& sample : *samples) {
      if (sample.name == name && sample.label(label) == label_value) return sample.value;
    }
    ADD_FAILURE() << "no " << name << "{" << label << "=" << label_value << "} in\n" << scrape->body;
    return -1.0;
  };
  EXPECT_EQ(value("aether_echo_received_total", "poller", "echo"), 100);
  EXPECT_EQ(value("aether_echo_sent_total", "poller", "echo"), 100);
  EXPECT_EQ(value("aether_queue_rx_packets_total", "port", port), 100);
  EXPECT_EQ(value("aether_queue_tx_packets_total", "port", port), 100);
  EXPECT_EQ(value("aether_queue_rx_drops_total", "reason", "no_buffer"), 0);
  EXPECT_GT(value("aether_worker_loops_total", "worker", "aether-echo"), 0);
  EXPECT_GE(value("aether_worker_busy_loops_total", "worker", "aether-echo"), 1);

  // Prometheus's own linter reads the Prometheus 0.0.4 text format (what
  // we serve without an Accept header); exit 0 means no problem found, lint
  // included (HELP on every family, counter names). The OpenMetrics form is
  // what a prometheus server negotiates: ARealPrometheusServerScrapesTheEcho.
  const std::string file = (directory_ / "scrape.txt").string();
  std::ofstream(file) << scrape->body;
  const CommandOutput promtool = run_command("promtool check metrics < " + file);
  EXPECT_EQ(promtool.exit_code, 0) << promtool.out << promtool.err;
  auto open = telemetry::http_get(metrics_, "/metrics", 5s, "application/openmetrics-text; version=1.0.0");
  ASSERT_TRUE(open) << open.error().describe();
  EXPECT_TRUE(open->body.ends_with("# EOF\n"));
  EXPECT_NE(open->body.find("# UNIT aether_queue_rx_bytes bytes\n"), std::string::npos);
}

TEST_F(Telemetry, StatsOnceShowsTheRunningEcho) {
  const CommandOutput stats = run_command(fmt::format("{} stats {} --once --interval 0.3", AETHER_CLI_PATH, metrics_));
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_NE(stats.out.find(fmt::format("udp:127.0.0.1:{} q0", udp_port_)), std::string::npos) << stats.out;
  EXPECT_NE(stats.out.find("aether-echo"), std::string::npos) << stats.out;
  EXPECT_NE(stats.out.find("aether_echo_received_total{poller=echo}"), std::string::npos) << stats.out;
  // Nobody there: an error naming the address, not a hang.
  const std::string nobody = fmt::format("127.0.0.1:{}", free_port(SOCK_STREAM));
  const CommandOutput refused = run_command(fmt::format("{} stats {} --once", AETHER_CLI_PATH, nobody));
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find(nobody), std::string::npos) << refused.err;
}

TEST_F(Telemetry, ARealPrometheusServerScrapesTheEcho) {
  const std::uint16_t web_port = free_port(SOCK_STREAM);
  const std::string config = (directory_ / "prometheus.yml").string();
  std::ofstream(config) << fmt::format(
      "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
      "scrape_configs:\n  - job_name: aether\n    static_configs:\n      - targets: ['{}']\n",
      metrics_);
  const std::string log = (directory_ / "prometheus.log").string();
  ChildInNamespace prometheus({"/usr/bin/prometheus", "--config.file=" + config, "--storage.tsdb.path=" + (directory_ / "data").string(),
                    fmt::format("--web.listen-address=127.0.0.1:{}", web_port)},
                   log);
  const std::string api = fmt::format("127.0.0.1:{}", web_port);
  // Up to 60 s: prometheus starts, scrapes every second, and answers.
  double received = -1;
  std::string last;
  for (const auto deadline = Clock::now() + 60s; Clock::now() < deadline && received < 100;) {
    std::this_thread::sleep_for(500ms);
    auto answer = telemetry::http_get(api, "/api/v1/query?query=aether_echo_received_total", 2s);
    if (!answer || answer->status != 200) continue;
    last = answer->body;
    const auto json = nlohmann::json::parse(answer->body, nullptr, false);
    if (json.is_discarded() || json["data"]["result"].empty()) continue;
    received = std::stod(json["data"]["result"][0]["value"][1].get<std::string>());
  }
  EXPECT_EQ(received, 100) << last << "\n" << slurp(log);
  // The target is healthy in prometheus's own view.
  auto up = telemetry::http_get(api, "/api/v1/query?query=up%7Bjob%3D%22aether%22%7D", 2s);
  ASSERT_TRUE(up) << up.error().describe();
  EXPECT_NE(up->body.find("\"1\"]"), std::string::npos) << up->body;
  // Prometheus asks for OpenMetrics first (its scrape Accept header); the
  // target's last scrape parsed without error.
  auto targets = telemetry::http_get(api, "/api/v1/targets", 2s);
  ASSERT_TRUE(targets) << targets.error().describe();
  EXPECT_NE(targets->body.find("\"lastError\":\"\""), std::string::npos) << targets->body;
  EXPECT_EQ(prometheus.interrupt_and_wait(), 0) << slurp(log);  // SIGINT: a clean shutdown
}

// A live latency series: `aether ping --metrics` exports its ICMP round
// trips as a summary while it runs (the worker publishes, the control
// thread serves), and promtool accepts the scrape. The peer is `aether
// echo --ip` over memif (an abstract socket: no privileges, no network).
TEST(PingTelemetry, TheRoundTripSummaryIsLiveAndPromtoolAcceptsIt) {
  const std::filesystem::path directory =
      std::filesystem::temp_directory_path() / fmt::format("aether-ping-telemetry-{}", ::getpid());
  std::filesystem::create_directories(directory);
  const std::string socket = fmt::format("memif:@aether-ping-telemetry-{}", ::getpid());
  const std::string echo_log = (directory / "echo.log").string();
  const std::string ping_log = (directory / "ping.log").string();
  // The echo sleeps on memif's interrupt when idle: both commands may get the
  // same CPU. Default buffers: a zero-copy memif client lends its pool, and
  // 1024 buffers would all sit in its 1024-slot receive ring.
  ChildInNamespace echo({AETHER_CLI_PATH, "echo", socket + "?role=server&mode=interrupt", "--ip", "10.0.0.2"},
                        echo_log);
  ASSERT_FALSE(wait_for_log(echo_log, std::regex("(answering on CPU)"), 10s).empty()) << slurp(echo_log);
  ChildInNamespace ping({AETHER_CLI_PATH, "ping", socket + "?role=client", "--ip", "10.0.0.1", "--peer", "10.0.0.2",
                         "--count", "1000", "--interval-ms", "5", "--metrics", "127.0.0.1:0"},
                        ping_log);
  const std::string metrics = wait_for_log(ping_log, std::regex("metrics on http://([0-9.]+:[0-9]+)/metrics"), 10s);
  ASSERT_FALSE(metrics.empty()) << slurp(ping_log);

  // While the ping runs: scrape until the summary has counted replies.
  const std::regex count(R"(aether_ping_round_trip_seconds_count\{poller="ping"\} ([0-9]+))");
  std::string body;
  std::uint64_t replies_seen = 0;
  for (const auto deadline = Clock::now() + 20s; Clock::now() < deadline && replies_seen == 0;
       std::this_thread::sleep_for(50ms)) {
    auto scrape = telemetry::http_get(metrics, "/metrics", 5s);
    if (!scrape) break;  // the ping is over; failed below
    body = scrape->body;
    std::smatch match;
    if (std::regex_search(body, match, count)) replies_seen = std::stoull(match[1]);
  }
  ASSERT_GT(replies_seen, 0u) << body << slurp(ping_log);
  EXPECT_NE(body.find("aether_ping_round_trip_seconds{poller=\"ping\",quantile=\"0.999\"}"), std::string::npos) << body;
  EXPECT_NE(body.find("aether_worker_loops_total{worker=\"aether-ping\""), std::string::npos) << body;
  const std::string file = (directory / "scrape.txt").string();
  std::ofstream(file) << body;
  const CommandOutput promtool = run_command("promtool check metrics < " + file);
  EXPECT_EQ(promtool.exit_code, 0) << promtool.out << promtool.err;

  EXPECT_EQ(ping.wait(), 0) << slurp(ping_log);
  const std::string out = slurp(ping_log);
  EXPECT_NE(out.find("result: complete"), std::string::npos) << out;
  EXPECT_NE(out.find("ICMP round trip (us): min "), std::string::npos) << out;
  std::filesystem::remove_all(directory);
}

}  // namespace
}  // namespace aether::test
