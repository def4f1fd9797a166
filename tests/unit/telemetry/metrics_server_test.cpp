// The metrics server over real loopback sockets: scrapes, every refusal,
// and hostile clients (slow, huge, malformed, too many, never reading) that
// must not stall the next scrape.
#include "aether/telemetry/metrics_server.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "aether/core/unique_fd.hpp"
#include "aether/telemetry/scrape_client.hpp"

namespace aether::telemetry {
namespace {

using namespace std::chrono_literals;

// A server on 127.0.0.1 (a free port) served by its own thread.
class ServedRegistry {
 public:
  explicit ServedRegistry(MetricsServerOptions options = {}) {
    source_ = registry_.add([](MetricWriter& writer) {
      const auto family = writer.family("aether_test_packets", MetricType::counter, "", "Test packets");
      for (unsigned i = 0; i < 1000; ++i) writer.sample(family, {{"queue", std::to_string(i)}}, std::uint64_t{i});
    });
    auto server = MetricsServer::start("127.0.0.1:0", registry_, options);
    EXPECT_TRUE(server) << server.error().describe();
    server_ = std::move(*server);
    thread_ = std::thread([this] {
      while (!stop_.load(std::memory_order_relaxed)) server_->serve_until(std::chrono::steady_clock::now() + 20ms);
    });
  }
  ~ServedRegistry() { (void)stop_and_stats(); }
  [[nodiscard]] const std::string& address() const { return server_->address(); }
  // Read only after the serving thread stopped.
  MetricsServerStats stop_and_stats() {
    stop_.store(true, std::memory_order_relaxed);
    if (thread_.joinable()) thread_.join();
    return server_->stats();
  }

 private:
  MetricsRegistry registry_;
  SourceHandle source_;
  std::unique_ptr<MetricsServer> server_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

UniqueFd connect_to(const std::string& address) {
  auto target = parse_listen_address(address);
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_EQ(::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*target), sizeof(*target)), 0);
  return fd;
}

// Sends `request` on a fresh connection and reads until the server closes.
std::string send_request(const std::string& address, std::string_view request) {
  UniqueFd fd = connect_to(address);
  (void)::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL);
  timeval timeout{5, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string answer;
  char buffer[4096];
  for (ssize_t n; (n = ::recv(fd.get(), buffer, sizeof(buffer), 0)) > 0;) answer.append(buffer, static_cast<std::size_t>(n));
  return answer;
}

TEST(ListenAddress, NamesWhatIsWrong) {
  EXPECT_TRUE(parse_listen_address("127.0.0.1:9464"));
  EXPECT_TRUE(parse_listen_address("localhost:0"));
  auto no_port = parse_listen_address("127.0.0.1");
  ASSERT_FALSE(no_port);
  EXPECT_NE(no_port.error().message.find("HOST:PORT"), std::string::npos);
  auto big_port = parse_listen_address("127.0.0.1:70000");
  ASSERT_FALSE(big_port);
  EXPECT_NE(big_port.error().message.find("70000"), std::string::npos);
  auto bad_host = parse_listen_address("example.com:9464");
  ASSERT_FALSE(bad_host);
  EXPECT_NE(bad_host.error().message.find("example.com"), std::string::npos);
}

TEST(MetricsServer, AnAddressInUseIsAnErrorNamingIt) {
  MetricsRegistry registry;
  auto first = MetricsServer::start("127.0.0.1:0", registry);
  ASSERT_TRUE(first);
  auto second = MetricsServer::start((*first)->address(), registry);
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message.find((*first)->address()), std::string::npos);
}

TEST(MetricsServer, ServesBothFormats) {
  ServedRegistry served;
  auto plain = http_get(served.address(), "/metrics", 5s);
  ASSERT_TRUE(plain) << plain.error().describe();
  EXPECT_EQ(plain->status, 200);
  EXPECT_EQ(plain->content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(plain->body.find("# TYPE aether_test_packets_total counter\n"), std::string::npos);
  auto samples = parse_exposition(plain->body);
  ASSERT_TRUE(samples) << samples.error().describe();
  EXPECT_EQ(samples->size(), 1002u);  // 1000 + the scrape's own two
  auto open = http_get(served.address(), "/metrics", 5s, "application/openmetrics-text; version=1.0.0");
  ASSERT_TRUE(open) << open.error().describe();
  EXPECT_EQ(open->content_type, "application/openmetrics-text; version=1.0.0; charset=utf-8");
  EXPECT_TRUE(open->body.ends_with("# EOF\n"));
}

TEST(MetricsServer, RefusesWhatItDoesNotServe) {
  ServedRegistry served;
  EXPECT_TRUE(send_request(served.address(), "GET /other HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 "));
  const std::string post = send_request(served.address(), "POST /metrics HTTP/1.1\r\nContent-Length: 2\r\n\r\nab");
  EXPECT_TRUE(post.starts_with("HTTP/1.1 405 ")) << post;
  EXPECT_NE(post.find("Allow: GET\r\n"), std::string::npos);
  EXPECT_TRUE(send_request(served.address(), "GARBAGE\r\n\r\n").starts_with("HTTP/1.1 400 "));
  EXPECT_TRUE(send_request(served.address(), std::string("GET /metrics HTTP/1.1\r\nA: \0\r\n\r\n", 31)).starts_with("HTTP/1.1 400 "));
  const std::string huge = "GET /metrics HTTP/1.1\r\nX: " + std::string(100000, 'a');
  EXPECT_TRUE(send_request(served.address(), huge).starts_with("HTTP/1.1 413 "));
  // Still serving.
  auto scrape = http_get(served.address(), "/metrics", 5s);
  ASSERT_TRUE(scrape) << scrape.error().describe();
  EXPECT_EQ(scrape->status, 200);
  const MetricsServerStats stats = served.stop_and_stats();
  EXPECT_EQ(stats.rejected, 5u);
  EXPECT_EQ(stats.scrapes, 1u);
}

TEST(MetricsServer, ASlowClientTimesOutAndDoesNotStallOthers) {
  MetricsServerOptions options;
  options.request_timeout = 300ms;
  ServedRegistry served(options);
  UniqueFd slow = connect_to(served.address());
  (void)::send(slow.get(), "GET /met", 8, MSG_NOSIGNAL);  // and never more
  auto scrape = http_get(served.address(), "/metrics", 5s);  // served meanwhile
  ASSERT_TRUE(scrape) << scrape.error().describe();
  EXPECT_EQ(scrape->status, 200);
  timeval timeout{5, 0};
  ::setsockopt(slow.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  char answer[64] = {};
  ASSERT_GT(::recv(slow.get(), answer, sizeof(answer) - 1, 0), 0);
  EXPECT_TRUE(std::string_view(answer).starts_with("HTTP/1.1 408 ")) << answer;
  EXPECT_EQ(served.stop_and_stats().timed_out, 1u);
}

TEST(MetricsServer, ConnectionsBeyondTheLimitGet503AndTheLimitFreesUp) {
  MetricsServerOptions options;
  options.max_connections = 4;
  options.request_timeout = 1000ms;
  ServedRegistry served(options);
  std::vector<UniqueFd> idle;
  // The kernel queues the connections in order, so the server accepts the
  // four idle ones before the fifth whenever it gets to run.
  for (int i = 0; i < 4; ++i) idle.push_back(connect_to(served.address()));
  EXPECT_TRUE(send_request(served.address(), "GET /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 503 "));
  // The idle ones time out; then a scrape is served again.
  std::this_thread::sleep_for(1100ms);
  auto scrape = http_get(served.address(), "/metrics", 5s);
  ASSERT_TRUE(scrape) << scrape.error().describe();
  EXPECT_EQ(scrape->status, 200);
}

TEST(MetricsServer, AClientThatNeverReadsItsResponseIsDroppedAtTheDeadline) {
  MetricsServerOptions options;
  options.request_timeout = 300ms;
  ServedRegistry served(options);
  std::vector<UniqueFd> readers;
  // Small receive buffers, many requests, nobody reading: the responses
  // cannot all fit the socket buffers, the server must not block on them.
  for (int i = 0; i < 8; ++i) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const int small = 1024;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    auto target = parse_listen_address(served.address());
    ASSERT_EQ(::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*target), sizeof(*target)), 0);
    ASSERT_EQ(::send(fd.get(), "GET /metrics HTTP/1.1\r\n\r\n", 25, MSG_NOSIGNAL), 25);
    readers.push_back(std::move(fd));
  }
  auto scrape = http_get(served.address(), "/metrics", 5s);
  ASSERT_TRUE(scrape) << scrape.error().describe();
  EXPECT_EQ(scrape->status, 200);
}

TEST(MetricsServer, ClientsThatVanishMidRequestAreForgotten) {
  ServedRegistry served;
  for (int i = 0; i < 50; ++i) {
    UniqueFd fd = connect_to(served.address());
    (void)::send(fd.get(), "GET /metrics HT", 15, MSG_NOSIGNAL);
  }  // each closed at once
  // Beyond the limit some got 503; the rest are forgotten on their EOF.
  std::this_thread::sleep_for(200ms);
  auto scrape = http_get(served.address(), "/metrics", 5s);
  ASSERT_TRUE(scrape) << scrape.error().describe();
  EXPECT_EQ(scrape->status, 200);
}

}  // namespace
}  // namespace aether::telemetry
