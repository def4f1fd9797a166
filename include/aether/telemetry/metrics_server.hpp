// MetricsServer: GET /metrics over HTTP/1.1 on one address, served on the
// caller's (control) thread by serve_until(), never on a worker.
//
// Hostile clients cannot stall or crash it: every socket is non-blocking;
// a request head must arrive whole within request_timeout of the accept
// (slow clients get 408 and are closed); a head above max_request_bytes
// gets 413, a malformed one 400, another method 405, another path 404;
// beyond max_connections a new client gets 503 at once. Memory is bounded
// by max_connections x (max_request_bytes + one scrape). Each response
// closes its connection (Connection: close).
#pragma once

#include <netinet/in.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aether/core/result.hpp"
#include "aether/core/unique_fd.hpp"
#include "aether/telemetry/metric_writer.hpp"
#include "aether/telemetry/registry.hpp"

namespace aether::telemetry {

// "A.B.C.D:PORT" (or "localhost:PORT") to an IPv4 socket address; port 0
// asks the kernel for a free one. The Error names the text and what is wrong.
[[nodiscard]] Result<sockaddr_in> parse_listen_address(std::string_view text);

struct MetricsServerOptions {
  std::size_t max_connections = 16;
  std::size_t max_request_bytes = 8192;
  std::chrono::milliseconds request_timeout{2000};  // from accept to the last byte of the response
};

struct MetricsServerStats {
  std::uint64_t scrapes = 0;        // 200 responses
  std::uint64_t rejected = 0;       // 400, 404, 405, 413
  std::uint64_t timed_out = 0;      // 408 or closed while writing
  std::uint64_t over_limit = 0;     // 503: max_connections reached
};

class MetricsServer {
 public:
  // Binds and listens on `address` (see parse_listen_address).
  [[nodiscard]] static Result<std::unique_ptr<MetricsServer>> start(std::string_view address, MetricsRegistry& registry,
                                                                    MetricsServerOptions options = {});
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // The bound address as "A.B.C.D:PORT" (the real port when 0 was asked).
  [[nodiscard]] const std::string& address() const noexcept { return address_; }

  // Serves clients until `deadline` (poll(2) in between; returns at the
  // deadline even when clients are mid-request).
  void serve_until(std::chrono::steady_clock::time_point deadline);

  [[nodiscard]] const MetricsServerStats& stats() const noexcept { return stats_; }

 private:
  struct Connection {
    UniqueFd fd;
    std::chrono::steady_clock::time_point deadline;
    std::string received;
    std::string response;
    std::size_t sent = 0;
    bool writing = false;
  };
  MetricsServer(MetricsRegistry& registry, MetricsServerOptions options) : registry_(registry), options_(options) {}
  void accept_clients();
  // Reads what is there; on a whole head (or an error) prepares the response.
  void read_request(Connection& connection);
  void respond(Connection& connection, int status, std::string_view reason, std::string_view body,
               std::string_view content_type);
  // Sends what the socket takes; true when the connection is finished.
  bool write_response(Connection& connection);

  MetricsRegistry& registry_;
  MetricsServerOptions options_;
  UniqueFd listen_fd_;
  std::string address_;
  std::vector<std::unique_ptr<Connection>> connections_;
  MetricWriter writer_;
  std::string scrape_;
  MetricsServerStats stats_;
};

}  // namespace aether::telemetry
