// Fuzz target: partition journal text. The journal is what `aether partition
// revert` reads back as root, possibly torn by a crash or edited by hand.
// Invariants: no crash or sanitizer report; errors name a line; the
// escaping the format uses round-trips any bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "aether/partition/journal.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto contents = aether::partition::parse_journal(text);
  if (!contents && contents.error().message.empty()) std::abort();
  (void)aether::partition::journal_unescape(text);
  auto round_trip = aether::partition::journal_unescape(aether::partition::journal_escape(text));
  if (!round_trip || *round_trip != text) std::abort();
  return 0;
}
