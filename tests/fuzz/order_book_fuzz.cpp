// Fuzz target: arbitrary bytes as a stream of ITCH messages (each input is
// cut into blocks by a length byte) applied to the fast order book and the
// reference book together. Invariants: no crash or out-of-bounds access
// (ASan/UBSan), and the two books never disagree on any level, live order
// count or anomaly counter.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "aether/feed/book_check.hpp"
#include "aether/feed/itch_decoder.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  aether::feed::BookCheck books(16);  // tiny order table: growth and wrap-around on every input
  aether::feed::DropCounters drops;
  std::size_t offset = 0;
  while (offset < size) {
    const std::size_t length = data[offset++];
    const std::size_t take = length < size - offset ? length : size - offset;
    // An exact-size heap copy, so ASan catches a read one byte past the block.
    std::vector<std::byte> block(reinterpret_cast<const std::byte*>(data + offset),
                                 reinterpret_cast<const std::byte*>(data + offset + take));
    (void)aether::feed::decode_message(block, books, drops);
    offset += take;
  }
  if (books.top_divergences() != 0 || books.compare_all() != 0) std::abort();
  return 0;
}
