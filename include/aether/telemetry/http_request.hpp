// The HTTP/1.1 request head the metrics server accepts (RFC 9112, section 3
// request line, section 5 field lines), parsed from what a client has sent
// so far. Pure: no I/O, no allocation; the views point into `received`.
#pragma once

#include <cstddef>
#include <string_view>

namespace aether::telemetry {

enum class HttpParse : unsigned char {
  incomplete,  // no empty line yet and below the size limit: read more
  complete,    // a well-formed head; see HttpRequest
  bad,         // malformed: answer 400
  too_large,   // no end of head within max_head_bytes: answer 413
};

struct HttpRequest {
  std::string_view method;   // "GET"
  std::string_view path;     // the target without its query ("/metrics")
  bool wants_openmetrics = false;  // Accept names application/openmetrics-text
};

struct HttpParseResult {
  HttpParse status = HttpParse::incomplete;
  HttpRequest request;
  std::string_view reason;  // what was wrong, for the 400 body
  std::size_t head_bytes = 0;  // with the final empty line, when complete
};

// Parses the head at the start of `received`. Lines end in CRLF (a bare LF
// is accepted, RFC 9112 section 2.2). The request line must be
// "METHOD SP TARGET SP HTTP/1.0|HTTP/1.1" with an origin-form target
// ("/..."); each field line "name: value" with a token name. Control
// characters other than tab are refused anywhere in the head.
[[nodiscard]] HttpParseResult parse_http_request(std::string_view received, std::size_t max_head_bytes) noexcept;

}  // namespace aether::telemetry
