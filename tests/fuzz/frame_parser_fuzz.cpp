// Fuzz target: the Ethernet/IPv4/UDP parser that `aether echo` runs on every
// received frame. Invariants: never reads outside the frame (ASan), a frame
// it accepts has its payload inside the frame, and the echo reply of an
// accepted frame parses again with the same payload length.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "aether/net/frame.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // An exact-size heap copy, so ASan catches a read one byte past the end.
  std::vector<std::byte> frame(reinterpret_cast<const std::byte*>(data), reinterpret_cast<const std::byte*>(data) + size);
  aether::net::FrameError error{};
  auto view = aether::net::parse_udp_frame(frame, error);
  if (!view) {
    if (error == aether::net::FrameError::none) std::abort();
    return 0;
  }
  const std::byte* begin = frame.data();
  const std::byte* end = frame.data() + frame.size();
  if (view->payload.data() < begin || view->payload.data() + view->payload.size() > end) std::abort();
  const std::size_t payload_size = view->payload.size();
  aether::net::swap_for_echo(*view);
  auto reply = aether::net::parse_udp_frame(frame, error);
  if (!reply || reply->payload.size() != payload_size) std::abort();
  return 0;
}
