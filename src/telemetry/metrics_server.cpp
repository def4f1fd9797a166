#include "aether/telemetry/metrics_server.hpp"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "aether/telemetry/http_request.hpp"

namespace aether::telemetry {
namespace {

constexpr int listen_backlog = 64;

// Half-closes so the client sees the end of the response, and drops what
// it may still have sent (a body we do not read), so that close() does not
// reset the connection under a response still in flight. Bounded: a client
// that keeps sending cannot keep us here.
void finish(int fd) noexcept {
  ::shutdown(fd, SHUT_WR);
  char drain[512];
  for (int i = 0; i < 16 && ::recv(fd, drain, sizeof(drain), MSG_DONTWAIT) > 0; ++i) {
  }
}

// Best effort, never blocks: for a client we are about to drop anyway.
void send_and_forget(int fd, std::string_view text) noexcept {
  (void)::send(fd, text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  finish(fd);
}

std::string format_address(const sockaddr_in& address) {
  char host[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &address.sin_addr, host, sizeof(host));
  return fmt::format("{}:{}", host, ntohs(address.sin_port));
}

}  // namespace

Result<sockaddr_in> parse_listen_address(std::string_view text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return invalid_argument(fmt::format("metrics address '{}' is not HOST:PORT (e.g. 127.0.0.1:9464)", text));
  }
  std::string host(text.substr(0, colon));
  if (host == "localhost") host = "127.0.0.1";
  const std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  const auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || error != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    return invalid_argument(fmt::format("metrics address '{}': port '{}' is not a number in 0-65535", text, port_text));
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) {
    return invalid_argument(fmt::format("metrics address '{}': '{}' is not an IPv4 address", text, host));
  }
  return address;
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(std::string_view address, MetricsRegistry& registry,
                                                            MetricsServerOptions options) {
  auto parsed = parse_listen_address(address);
  if (!parsed) return std::move(parsed).error();
  std::unique_ptr<MetricsServer> server(new MetricsServer(registry, options));
  server->listen_fd_ = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!server->listen_fd_.valid()) return errno_error("metrics server: socket(AF_INET, SOCK_STREAM)");
  const int one = 1;
  (void)::setsockopt(server->listen_fd_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(server->listen_fd_.get(), reinterpret_cast<const sockaddr*>(&*parsed), sizeof(*parsed)) != 0) {
    return errno_error(fmt::format("metrics server: cannot bind {}", address));
  }
  if (::listen(server->listen_fd_.get(), listen_backlog) != 0) {
    return errno_error(fmt::format("metrics server: cannot listen on {}", address));
  }
  sockaddr_in bound{};
  socklen_t length = sizeof(bound);
  if (::getsockname(server->listen_fd_.get(), reinterpret_cast<sockaddr*>(&bound), &length) != 0) {
    return errno_error("metrics server: getsockname");
  }
  server->address_ = format_address(bound);
  return server;
}

MetricsServer::~MetricsServer() = default;

void MetricsServer::serve_until(std::chrono::steady_clock::time_point deadline) {
  std::vector<pollfd> fds;
  fds.reserve(options_.max_connections + 1);
  for (;;) {
    auto now = std::chrono::steady_clock::now();
    // Expired clients: a slow request gets 408, a slow reader is closed.
    std::erase_if(connections_, [&](const std::unique_ptr<Connection>& connection) {
      if (now < connection->deadline) return false;
      if (!connection->writing) send_and_forget(connection->fd.get(), "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      ++stats_.timed_out;
      return true;
    });
    if (now >= deadline) return;
    auto wake = deadline;
    fds.clear();
    fds.push_back(pollfd{listen_fd_.get(), POLLIN, 0});
    for (const auto& connection : connections_) {
      fds.push_back(pollfd{connection->fd.get(), static_cast<short>(connection->writing ? POLLOUT : POLLIN), 0});
      wake = std::min(wake, connection->deadline);
    }
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(wake - now).count();
    const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(std::max<long>(wait, 0)));
    if (ready <= 0) continue;  // timeout, or EINTR: re-check deadlines
    // Connections first (fds[1..] match connections_ as they were), then new clients.
    std::size_t index = 1;
    std::erase_if(connections_, [&](const std::unique_ptr<Connection>& connection) {
      const short revents = fds[index++].revents;
      if (revents == 0) return false;
      if (!connection->writing) read_request(*connection);
      if (connection->writing) return write_response(*connection);
      return !connection->fd.valid();
    });
    if ((fds[0].revents & POLLIN) != 0) accept_clients();
  }
}

void MetricsServer::accept_clients() {
  for (;;) {
    UniqueFd client(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!client.valid()) return;  // EAGAIN (none left) or a client that went away
    if (connections_.size() >= options_.max_connections) {
      send_and_forget(client.get(), "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      ++stats_.over_limit;
      continue;
    }
    auto connection = std::make_unique<Connection>();
    connection->fd = std::move(client);
    connection->deadline = std::chrono::steady_clock::now() + options_.request_timeout;
    connections_.push_back(std::move(connection));
  }
}

void MetricsServer::read_request(Connection& connection) {
  char buffer[2048];
  for (;;) {
    // Never hold more than the limit (+1 to tell "exactly full" from "over").
    const std::size_t room = options_.max_request_bytes + 1 - std::min(connection.received.size(), options_.max_request_bytes);
    const ssize_t got = ::recv(connection.fd.get(), buffer, std::min(sizeof(buffer), room), MSG_DONTWAIT);
    if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      connection.fd.reset();  // the client went away before a whole request
      return;
    }
    if (got < 0) break;
    connection.received.append(buffer, static_cast<std::size_t>(got));
    if (connection.received.size() > options_.max_request_bytes) break;
  }
  const HttpParseResult parsed = parse_http_request(connection.received, options_.max_request_bytes);
  switch (parsed.status) {
    case HttpParse::incomplete: return;
    case HttpParse::too_large:
      respond(connection, 413, "Content Too Large", "request head too large\n", "text/plain");
      return;
    case HttpParse::bad:
      respond(connection, 400, "Bad Request", fmt::format("{}\n", parsed.reason), "text/plain");
      return;
    case HttpParse::complete: break;
  }
  if (parsed.request.path != "/metrics") {
    respond(connection, 404, "Not Found", "only /metrics is served\n", "text/plain");
  } else if (parsed.request.method != "GET") {
    respond(connection, 405, "Method Not Allowed", "only GET is allowed\n", "text/plain");
  } else {
    const ExpositionFormat format =
        parsed.request.wants_openmetrics ? ExpositionFormat::openmetrics : ExpositionFormat::prometheus;
    registry_.scrape_text(writer_, scrape_, format);
    respond(connection, 200, "OK", scrape_, content_type(format));
  }
}

void MetricsServer::respond(Connection& connection, int status, std::string_view reason, std::string_view body,
                            std::string_view content_type) {
  if (status == 200) {
    ++stats_.scrapes;
  } else {
    ++stats_.rejected;
  }
  connection.response = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n{}\r\n",
                                    status, reason, content_type, body.size(), status == 405 ? "Allow: GET\r\n" : "");
  connection.response += body;
  connection.received = std::string();  // the request is done with: give its memory back
  connection.writing = true;
  connection.sent = 0;
}

bool MetricsServer::write_response(Connection& connection) {
  while (connection.sent < connection.response.size()) {
    const ssize_t sent = ::send(connection.fd.get(), connection.response.data() + connection.sent,
                                connection.response.size() - connection.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return false;  // wait for POLLOUT
    if (sent <= 0) return true;  // the client went away
    connection.sent += static_cast<std::size_t>(sent);
  }
  finish(connection.fd.get());
  return true;
}

}  // namespace aether::telemetry
