// Reading a metrics endpoint: one HTTP GET with a deadline, and the
// Prometheus/OpenMetrics text parsed into samples. `aether stats` and the
// tests use it; it trusts nothing it reads (bounded size, every malformed
// line is an error naming it).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aether/core/result.hpp"

namespace aether::telemetry {

struct HttpResponse {
  int status = 0;
  std::string content_type;
  std::string body;
};

// GET `path` from "A.B.C.D:PORT", the whole exchange within `timeout`;
// the response may be at most `max_bytes`. `accept` is sent as Accept.
[[nodiscard]] Result<HttpResponse> http_get(std::string_view address, std::string_view path,
                                            std::chrono::milliseconds timeout, std::string_view accept = "",
                                            std::size_t max_bytes = std::size_t{64} << 20);

struct ScrapedSample {
  std::string name;  // as in the sample line ("aether_queue_rx_packets_total")
  std::vector<std::pair<std::string, std::string>> labels;  // unescaped values
  double value = 0;

  // The value of label `key`, or "" when absent.
  [[nodiscard]] std::string_view label(std::string_view key) const noexcept;
};

// Parses the sample lines of a text exposition (comments and "# EOF"
// skipped). The Error names the line number and what is wrong.
[[nodiscard]] Result<std::vector<ScrapedSample>> parse_exposition(std::string_view text);

}  // namespace aether::telemetry
