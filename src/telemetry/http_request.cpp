#include "aether/telemetry/http_request.hpp"

namespace aether::telemetry {
namespace {

// tchar of RFC 9110 section 5.6.2.
bool is_token_char(char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  constexpr std::string_view specials = "!#$%&'*+-.^_`|~";
  return specials.find(c) != std::string_view::npos;
}

bool is_token(std::string_view text) noexcept {
  if (text.empty()) return false;
  for (const char c : text) {
    if (!is_token_char(c)) return false;
  }
  return true;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view text) noexcept {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

HttpParseResult bad(std::string_view reason) noexcept {
  HttpParseResult result;
  result.status = HttpParse::bad;
  result.reason = reason;
  return result;
}

// The next line of `head` (without its CRLF or LF), advancing `head`.
std::string_view next_line(std::string_view& head) noexcept {
  const std::size_t end = head.find('\n');
  std::string_view line = head.substr(0, end);
  head.remove_prefix(end == std::string_view::npos ? head.size() : end + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace

HttpParseResult parse_http_request(std::string_view received, std::size_t max_head_bytes) noexcept {
  // The head ends at the first empty line: "\r\n\r\n" or, leniently, "\n\n"
  // (or a mix).
  std::size_t head_end = std::string_view::npos;
  for (std::size_t i = received.find('\n'); i != std::string_view::npos; i = received.find('\n', i + 1)) {
    std::size_t next = i + 1;
    if (next < received.size() && received[next] == '\r') ++next;
    if (next < received.size() && received[next] == '\n') {
      head_end = next + 1;
      break;
    }
  }
  const std::string_view limited = received.substr(0, head_end == std::string_view::npos ? received.size() : head_end);
  for (const char c : limited) {
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\r' && c != '\n' && c != '\t') || c == 0x7f) {
      return bad("control character in the request head");
    }
  }
  if (head_end == std::string_view::npos || head_end > max_head_bytes) {
    HttpParseResult result;
    result.status = received.size() >= max_head_bytes || head_end != std::string_view::npos ? HttpParse::too_large
                                                                                             : HttpParse::incomplete;
    return result;
  }
  std::string_view head = received.substr(0, head_end);
  const std::string_view request_line = next_line(head);
  const std::size_t first_space = request_line.find(' ');
  const std::size_t second_space = request_line.find(' ', first_space == std::string_view::npos ? 0 : first_space + 1);
  if (first_space == std::string_view::npos || second_space == std::string_view::npos) {
    return bad("request line is not METHOD TARGET VERSION");
  }
  HttpParseResult result;
  result.request.method = request_line.substr(0, first_space);
  const std::string_view target = request_line.substr(first_space + 1, second_space - first_space - 1);
  const std::string_view version = request_line.substr(second_space + 1);
  if (!is_token(result.request.method)) return bad("method is not a token");
  if (target.empty() || target.front() != '/' || target.find(' ') != std::string_view::npos) {
    return bad("target is not an absolute path");
  }
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return bad("version is not HTTP/1.0 or HTTP/1.1");
  result.request.path = target.substr(0, target.find('?'));
  for (std::string_view line = next_line(head); !line.empty(); line = next_line(head)) {
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) {
      return bad("header line is not NAME: VALUE");
    }
    if (equals_ignoring_case(line.substr(0, colon), "accept") &&
        trim(line.substr(colon + 1)).find("application/openmetrics-text") != std::string_view::npos) {
      result.request.wants_openmetrics = true;
    }
  }
  result.status = HttpParse::complete;
  result.head_bytes = head_end;
  return result;
}

}  // namespace aether::telemetry
