// Wire field types for Nasdaq's binary protocols (ITCH 5.0, MoldUDP64, OUCH).
//
// Every integer on these wires is big-endian and unaligned (ITCH "Data
// Types"; MoldUDP64 v1.00), including the 6-byte timestamp. The structs that
// describe the wire hold fields as byte arrays of these types, so they have
// alignment 1, no padding, and sizeof/offsetof equal the spec's lengths and
// offsets (checked by static_assert next to each struct).
#pragma once

#include <array>
#include <bit>
#include <cstring>
#include <type_traits>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace aether::feed {

// An unsigned big-endian integer of `Size` bytes (1..8).
template <std::size_t Size>
struct BigEndian {
  static_assert(Size >= 1 && Size <= 8);
  std::array<std::uint8_t, Size> bytes;

  [[nodiscard]] constexpr std::uint64_t value() const noexcept {
    if (std::is_constant_evaluated() || std::endian::native != std::endian::little) {
      std::uint64_t result = 0;
      for (std::uint8_t byte : bytes) result = (result << 8) | byte;
      return result;
    }
    // One unaligned load and a byte swap (GCC does not turn the loop above
    // into this; perf showed it in the book's hot path). The bytes go to the
    // high end of a zeroed word, so the swap leaves them in the low end.
    std::uint64_t word = 0;
    std::memcpy(reinterpret_cast<std::uint8_t*>(&word) + (8 - Size), bytes.data(), Size);
    return __builtin_bswap64(word);
  }
  // Stores the low `Size` bytes of `number`.
  constexpr void set(std::uint64_t number) noexcept {
    for (std::size_t i = Size; i-- > 0;) {
      bytes[i] = static_cast<std::uint8_t>(number & 0xFF);
      number >>= 8;
    }
  }
};

// An ASCII field, left-justified and padded on the right with spaces.
template <std::size_t Size>
struct Alpha {
  std::array<char, Size> chars;

  // The text without its right padding.
  [[nodiscard]] constexpr std::string_view text() const noexcept {
    std::size_t length = Size;
    while (length > 0 && chars[length - 1] == ' ') --length;
    return std::string_view(chars.data(), length);
  }
  // Copies `text` (cut at Size) and pads with spaces.
  constexpr void set(std::string_view text) noexcept {
    for (std::size_t i = 0; i < Size; ++i) chars[i] = i < text.size() ? text[i] : ' ';
  }
};

static_assert(sizeof(BigEndian<6>) == 6 && alignof(BigEndian<6>) == 1);
static_assert(sizeof(Alpha<8>) == 8 && alignof(Alpha<8>) == 1);

}  // namespace aether::feed
