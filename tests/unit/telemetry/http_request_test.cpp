// The request-head parser the metrics server trusts nothing beyond.
#include "aether/telemetry/http_request.hpp"

#include <gtest/gtest.h>

#include <string>

namespace aether::telemetry {
namespace {

constexpr std::size_t limit = 8192;

TEST(HttpRequest, ParsesAPrometheusScrape) {
  const std::string head =
      "GET /metrics?x=1 HTTP/1.1\r\nHost: 127.0.0.1:9464\r\n"
      "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5\r\n\r\n";
  const auto parsed = parse_http_request(head, limit);
  ASSERT_EQ(parsed.status, HttpParse::complete) << parsed.reason;
  EXPECT_EQ(parsed.request.method, "GET");
  EXPECT_EQ(parsed.request.path, "/metrics");
  EXPECT_TRUE(parsed.request.wants_openmetrics);
  EXPECT_EQ(parsed.head_bytes, head.size());
}

TEST(HttpRequest, BareLineFeedsAndNoAcceptMeanPrometheusText) {
  const auto parsed = parse_http_request("GET /metrics HTTP/1.0\nUser-Agent: curl\n\n", limit);
  ASSERT_EQ(parsed.status, HttpParse::complete) << parsed.reason;
  EXPECT_FALSE(parsed.request.wants_openmetrics);
}

TEST(HttpRequest, IncompleteUntilTheEmptyLine) {
  EXPECT_EQ(parse_http_request("", limit).status, HttpParse::incomplete);
  EXPECT_EQ(parse_http_request("GET /metrics HTTP/1.1\r\n", limit).status, HttpParse::incomplete);
  EXPECT_EQ(parse_http_request("GET /metrics HTTP/1.1\r\nHost: x\r\n\r", limit).status, HttpParse::incomplete);
}

TEST(HttpRequest, TooLargeAtTheLimitWithoutAnEnd) {
  const std::string huge = "GET /metrics HTTP/1.1\r\nX: " + std::string(limit, 'a');
  EXPECT_EQ(parse_http_request(huge, limit).status, HttpParse::too_large);
  const std::string long_but_ended = huge + "\r\n\r\n";
  EXPECT_EQ(parse_http_request(long_but_ended, limit).status, HttpParse::too_large);
}

TEST(HttpRequest, MalformedHeadsAreBadWithAReason) {
  for (const char* head : {
           "GET\r\n\r\n",                               // no target, no version
           "GET /metrics\r\n\r\n",                      // no version
           "GET metrics HTTP/1.1\r\n\r\n",              // not origin-form
           "GET /metrics HTTP/2.0\r\n\r\n",             // not HTTP/1.x
           "G(T /metrics HTTP/1.1\r\n\r\n",             // method not a token
           "GET /metrics HTTP/1.1\r\nno colon\r\n\r\n",  // header without ':'
           "GET /metrics HTTP/1.1\r\n: empty\r\n\r\n",   // empty header name
           "GET /met\x01rics HTTP/1.1\r\n\r\n",          // control character
       }) {
    const auto parsed = parse_http_request(head, limit);
    EXPECT_EQ(parsed.status, HttpParse::bad) << head;
    EXPECT_FALSE(parsed.reason.empty()) << head;
  }
  // A NUL inside the head.
  const std::string with_nul("GET /metrics HTTP/1.1\r\nA: b\0c\r\n\r\n", 32);
  EXPECT_EQ(parse_http_request(with_nul, limit).status, HttpParse::bad);
}

TEST(HttpRequest, OtherMethodsAndPathsParseForTheServerToRefuse) {
  const auto post = parse_http_request("POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", limit);
  ASSERT_EQ(post.status, HttpParse::complete);
  EXPECT_EQ(post.request.method, "POST");
  const auto other = parse_http_request("GET /other HTTP/1.1\r\n\r\n", limit);
  ASSERT_EQ(other.status, HttpParse::complete);
  EXPECT_EQ(other.request.path, "/other");
}

}  // namespace
}  // namespace aether::telemetry
