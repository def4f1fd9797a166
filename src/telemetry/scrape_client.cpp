#include "aether/telemetry/scrape_client.hpp"

#include <poll.h>
#include <strings.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "aether/core/unique_fd.hpp"
#include "aether/telemetry/metrics_server.hpp"

namespace aether::telemetry {
namespace {

using Clock = std::chrono::steady_clock;

// Waits until `fd` is ready for `events` or the deadline passed.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd descriptor{fd, events, 0};
    const int ready = ::poll(&descriptor, 1, static_cast<int>(left));
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) return false;
  }
}

Result<HttpResponse> parse_response(std::string_view address, std::string_view raw) {
  const std::size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string_view::npos || !raw.starts_with("HTTP/1.")) {
    return invalid_argument(fmt::format("{}: the answer is not an HTTP response", address));
  }
  HttpResponse response;
  const std::string_view status_text = raw.substr(9, 3);
  if (std::from_chars(status_text.data(), status_text.data() + status_text.size(), response.status).ec != std::errc()) {
    return invalid_argument(fmt::format("{}: the HTTP status line is malformed", address));
  }
  std::string_view head = raw.substr(0, head_end);
  for (std::size_t at = head.find("\r\n"); at != std::string_view::npos; at = head.find("\r\n", at + 2)) {
    const std::string_view line = head.substr(at + 2, head.find("\r\n", at + 2) - at - 2);
    constexpr std::string_view key = "content-type:";
    if (line.size() > key.size() && strncasecmp(line.data(), key.data(), key.size()) == 0) {
      std::string_view value = line.substr(key.size());
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      response.content_type = value;
    }
  }
  response.body = raw.substr(head_end + 4);
  return response;
}

}  // namespace

Result<HttpResponse> http_get(std::string_view address, std::string_view path, std::chrono::milliseconds timeout,
                              std::string_view accept, std::size_t max_bytes) {
  auto target = parse_listen_address(address);
  if (!target) return std::move(target).error();
  const auto deadline = Clock::now() + timeout;
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return errno_error("socket(AF_INET, SOCK_STREAM)");
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*target), sizeof(*target)) != 0 && errno != EINPROGRESS) {
    return errno_error(fmt::format("cannot connect to {}", address));
  }
  if (!wait_for(fd.get(), POLLOUT, deadline)) return errno_error(fmt::format("{}: no connection within the timeout", address), ETIMEDOUT);
  int error = 0;
  socklen_t length = sizeof(error);
  (void)::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length);
  if (error != 0) return errno_error(fmt::format("cannot connect to {}", address), error);
  std::string request = fmt::format("GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", path, address);
  if (!accept.empty()) request += fmt::format("Accept: {}\r\n", accept);
  request += "\r\n";
  for (std::size_t sent = 0; sent < request.size();) {
    if (!wait_for(fd.get(), POLLOUT, deadline)) return errno_error(fmt::format("{}: request not sent within the timeout", address), ETIMEDOUT);
    const ssize_t n = ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return errno_error(fmt::format("{}: sending the request", address));
    if (n > 0) sent += static_cast<std::size_t>(n);
  }
  // Connection: close: the response ends where the stream does.
  std::string raw;
  char buffer[65536];
  for (;;) {
    if (!wait_for(fd.get(), POLLIN, deadline)) return errno_error(fmt::format("{}: no whole response within the timeout", address), ETIMEDOUT);
    const ssize_t n = ::recv(fd.get(), buffer, sizeof(buffer), 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return errno_error(fmt::format("{}: reading the response", address));
    }
    raw.append(buffer, static_cast<std::size_t>(n));
    if (raw.size() > max_bytes) return invalid_argument(fmt::format("{}: response larger than {} bytes", address, max_bytes));
  }
  return parse_response(address, raw);
}

std::string_view ScrapedSample::label(std::string_view key) const noexcept {
  for (const auto& [label_name, label_value] : labels) {
    if (label_name == key) return label_value;
  }
  return {};
}

Result<std::vector<ScrapedSample>> parse_exposition(std::string_view text) {
  std::vector<ScrapedSample> samples;
  std::size_t line_number = 0;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++line_number;
    if (line.empty() || line.front() == '#') continue;
    auto malformed = [&](std::string_view what) {
      return invalid_argument(fmt::format("metrics line {}: {}: '{}'", line_number, what, line.substr(0, 120)));
    };
    ScrapedSample sample;
    const std::size_t name_end = line.find_first_of("{ ");
    if (name_end == 0 || name_end == std::string_view::npos) return malformed("no metric name");
    sample.name = line.substr(0, name_end);
    std::size_t at = name_end;
    if (line[at] == '{') {
      ++at;
      while (at < line.size() && line[at] != '}') {
        const std::size_t equals = line.find("=\"", at);
        if (equals == std::string_view::npos) return malformed("label without =\"value\"");
        std::string name(line.substr(at, equals - at));
        std::string value;
        at = equals + 2;
        for (; at < line.size() && line[at] != '"'; ++at) {
          if (line[at] == '\\' && at + 1 < line.size()) {
            ++at;
            value += line[at] == 'n' ? '\n' : line[at];
          } else {
            value += line[at];
          }
        }
        if (at >= line.size()) return malformed("unterminated label value");
        ++at;  // the closing quote
        if (at < line.size() && line[at] == ',') ++at;
        sample.labels.emplace_back(std::move(name), std::move(value));
      }
      if (at >= line.size()) return malformed("unterminated label set");
      ++at;  // '}'
    }
    std::string_view value = line.substr(at);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    value = value.substr(0, value.find(' '));  // a timestamp may follow
    if (value == "+Inf" || value == "Inf") {
      sample.value = HUGE_VAL;
    } else if (value == "-Inf") {
      sample.value = -HUGE_VAL;
    } else if (value == "NaN") {
      sample.value = std::nan("");
    } else {
      const std::string copy(value);
      char* parsed_end = nullptr;
      sample.value = std::strtod(copy.c_str(), &parsed_end);
      if (copy.empty() || parsed_end != copy.c_str() + copy.size()) return malformed("value is not a number");
    }
    samples.push_back(std::move(sample));
  }
  return samples;
}

}  // namespace aether::telemetry
