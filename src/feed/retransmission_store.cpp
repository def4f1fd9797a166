// RetransmissionStore (see retransmission_store.hpp).
#include "aether/feed/retransmission_store.hpp"

#include <algorithm>
#include <cstring>

namespace aether::feed {

void RetransmissionStore::append(std::span<const std::byte> message) {
  offsets_.push_back(bytes_.size());
  bytes_.insert(bytes_.end(), message.begin(), message.end());
}

std::span<const std::byte> RetransmissionStore::answer(std::span<const std::byte> request,
                                                       std::span<std::byte> buffer) const noexcept {
  if (request.size() != mold::header_size || buffer.size() < mold::header_size) return {};
  mold::Header header;
  std::memcpy(&header, request.data(), mold::header_size);
  Alpha<10> session{};
  session.set(session_);
  const std::uint64_t first = header.sequence_number.value();
  const std::uint64_t count = header.message_count.value();
  if (header.session.chars != session.chars || first == 0 || count == 0 || first >= next_sequence()) return {};
  mold::PacketBuilder builder(buffer);
  builder.begin(session_, first);
  const std::uint64_t end = std::min(first + count, next_sequence());
  for (std::uint64_t sequence = first; sequence < end; ++sequence) {
    const std::size_t index = sequence - 1;
    const std::size_t begin = offsets_[index];
    const std::size_t stop = index + 1 < offsets_.size() ? offsets_[index + 1] : bytes_.size();
    if (!builder.try_add(std::span<const std::byte>(bytes_).subspan(begin, stop - begin))) break;
  }
  if (builder.message_count() == 0) return {};  // the first message alone does not fit
  return builder.finish();
}

}  // namespace aether::feed
