// Shared memory and eventfds of a memif connection: creating ours (client)
// and checking and mapping the peer's (server).
//
// A peer's region fd is untrusted: it must be a regular file (memfd or
// hugetlbfs) at least as long as the size it declared, or the first access
// past its end would raise SIGBUS. A peer could still shrink the file after
// we checked, unless it is sealed against that (F_SEAL_SHRINK, which DPDK
// sets on its regions, rte_eth_memif.c memif_region_init_shm); we add the
// seal ourselves when the file allows sealing, and refuse it otherwise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "aether/core/result.hpp"
#include "file_descriptor.hpp"

namespace aether::backends::memif {

// A move-only owner of one mmap(2).
class Mapping {
 public:
  Mapping() noexcept = default;
  Mapping(std::byte* base, std::size_t length) noexcept : base_(base), length_(length) {}
  ~Mapping() { reset(); }
  Mapping(Mapping&& other) noexcept
      : base_(std::exchange(other.base_, nullptr)), length_(std::exchange(other.length_, 0)) {}
  Mapping& operator=(Mapping&& other) noexcept {
    if (this != &other) {
      reset();
      base_ = std::exchange(other.base_, nullptr);
      length_ = std::exchange(other.length_, 0);
    }
    return *this;
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  [[nodiscard]] std::byte* base() const noexcept { return base_; }
  [[nodiscard]] std::size_t length() const noexcept { return length_; }
  void reset() noexcept;

 private:
  std::byte* base_ = nullptr;
  std::size_t length_ = 0;
};

// A region this side created: its memfd (sent to the peer) and our mapping.
struct OwnedRegion {
  FileDescriptor fd;
  Mapping mapping;
  std::uint64_t size = 0;
};

// memfd_create + ftruncate + seals (shrink, grow, seal) + mmap, zero-filled.
// `size` is rounded up to the page size.
[[nodiscard]] Result<OwnedRegion> create_shared_region(const std::string& name, std::uint64_t size);

// A region the peer sent, sealed against shrinking.
struct PeerRegion {
  FileDescriptor fd;
  Mapping mapping;
  std::uint64_t size = 0;
};
// Checks the fd (regular file, at least `size` bytes, sealed against
// shrinking or sealable: we add F_SEAL_SHRINK) and maps `size` bytes
// read-write. Refuses anything the peer could still shrink (a plain tmpfs
// or other file, a memfd sealed with F_SEAL_SEAL but not F_SEAL_SHRINK).
// Errors are short enough to be DISCONNECT reasons.
[[nodiscard]] Result<PeerRegion> map_peer_region(FileDescriptor fd, std::uint64_t size);

// eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), as DPDK creates one per ring.
[[nodiscard]] Result<FileDescriptor> create_eventfd();
// Refuses anything but an eventfd (a pipe or socket could block or leak our
// writes elsewhere) and makes it non-blocking.
[[nodiscard]] Result<void> check_peer_eventfd(int fd);

}  // namespace aether::backends::memif
