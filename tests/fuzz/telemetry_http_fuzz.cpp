// Fuzz target: what a metrics client can send and what `aether stats` reads.
// Invariants: no crash or sanitizer report; a complete request head has an
// origin-form path inside the limit, a bad one says why; the exposition
// parser accepts or names a line; and any bytes as a label value survive
// render -> parse unchanged (the escaping round trip).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "aether/telemetry/http_request.hpp"
#include "aether/telemetry/metric_writer.hpp"
#include "aether/telemetry/scrape_client.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aether::telemetry;
  // An exact-size heap copy, so ASan catches a read one byte past the end.
  const std::string text(reinterpret_cast<const char*>(data), size);
  constexpr std::size_t limit = 512;
  const HttpParseResult request = parse_http_request(text, limit);
  if (request.status == HttpParse::complete) {
    if (request.head_bytes > limit || request.head_bytes > text.size()) std::abort();
    if (request.request.path.empty() || request.request.path.front() != '/') std::abort();
  }
  if (request.status == HttpParse::bad && request.reason.empty()) std::abort();
  if (request.status == HttpParse::incomplete && text.size() >= limit) std::abort();

  auto samples = parse_exposition(text);
  if (!samples && samples.error().message.empty()) std::abort();

  MetricWriter writer;
  writer.sample(writer.family("aether_fuzz", MetricType::gauge, "", "fuzz"), {{"value", text}}, std::uint64_t{1});
  std::string rendered;
  writer.render(rendered, ExpositionFormat::openmetrics);
  auto parsed = parse_exposition(rendered);
  if (!parsed || parsed->size() != 1 || (*parsed)[0].label("value") != text) std::abort();
  return 0;
}
