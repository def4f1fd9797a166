// Shared regions and eventfds: ours created and sealed, the peer's checked
// before they are mapped or written.
#include "shared_memory.hpp"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>

namespace aether::backends::memif {
namespace {

constexpr std::uint64_t kPageSize = 4096;

std::uint64_t round_up(std::uint64_t value, std::uint64_t to) { return (value + to - 1) / to * to; }

}  // namespace

void Mapping::reset() noexcept {
  if (base_ != nullptr) ::munmap(base_, length_);
  base_ = nullptr;
  length_ = 0;
}

Result<OwnedRegion> create_shared_region(const std::string& name, std::uint64_t size) {
  OwnedRegion region;
  region.size = round_up(size, kPageSize);
  region.fd = FileDescriptor(::memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!region.fd.valid()) return errno_error(fmt::format("memfd_create for memif region '{}' failed", name));
  if (::ftruncate(region.fd.get(), static_cast<off_t>(region.size)) != 0) {
    return errno_error(fmt::format("ftruncate of memif region '{}' to {} bytes failed", name, region.size));
  }
  // The size is final: neither side may resize it (a shrink would make the
  // peer's accesses fault).
  if (::fcntl(region.fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    return errno_error(fmt::format("sealing memif region '{}' failed", name));
  }
  void* base = ::mmap(nullptr, region.size, PROT_READ | PROT_WRITE, MAP_SHARED, region.fd.get(), 0);
  if (base == MAP_FAILED) return errno_error(fmt::format("mmap of memif region '{}' ({} bytes) failed", name, region.size));
  region.mapping = Mapping(static_cast<std::byte*>(base), region.size);
  return region;
}

Result<PeerRegion> map_peer_region(FileDescriptor fd, std::uint64_t size) {
  struct stat status{};
  if (::fstat(fd.get(), &status) != 0) return errno_error("Region fd: fstat failed");
  if (!S_ISREG(status.st_mode)) return invalid_argument("Region fd is not a memory file");
  if (static_cast<std::uint64_t>(status.st_size) < size) {
    return invalid_argument(fmt::format("Region of {} bytes declared {}", status.st_size, size));
  }
  // A region the peer can still shrink would kill us with SIGBUS on the
  // next access past its new end: refused unless it is (or we can make
  // it) sealed against shrinking. Only memfds (shmem, hugetlbfs) take seals.
  const int seals = ::fcntl(fd.get(), F_GET_SEALS);
  if (seals < 0) return invalid_argument("Region cannot be sealed against shrinking (not a memfd)");
  if ((seals & F_SEAL_SHRINK) == 0) {
    if ((seals & F_SEAL_SEAL) != 0) {
      return invalid_argument("Region cannot be sealed against shrinking (F_SEAL_SEAL set without F_SEAL_SHRINK)");
    }
    if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK) != 0) {
      return errno_error("Region cannot be sealed against shrinking (F_ADD_SEALS failed)");
    }
  }
  PeerRegion region;
  region.size = size;
  // hugetlbfs refuses a length that is not a multiple of its page size;
  // st_blksize is that page size (4 KiB for a plain memfd).
  const auto block = static_cast<std::uint64_t>(status.st_blksize > 0 ? status.st_blksize : 4096);
  const std::uint64_t length = round_up(size, block);
  void* base = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (base == MAP_FAILED) return errno_error(fmt::format("Region mmap of {} bytes failed", length));
  region.mapping = Mapping(static_cast<std::byte*>(base), length);
  region.fd = std::move(fd);
  return region;
}

Result<FileDescriptor> create_eventfd() {
  FileDescriptor fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!fd.valid()) return errno_error("eventfd for a memif ring failed");
  return fd;
}

Result<void> check_peer_eventfd(int fd) {
  std::array<char, 64> target{};
  const std::string link = fmt::format("/proc/self/fd/{}", fd);
  const ssize_t length = ::readlink(link.c_str(), target.data(), target.size() - 1);
  if (length >= 0) {
    if (std::string_view(target.data(), static_cast<std::size_t>(length)) != "anon_inode:[eventfd]") {
      return invalid_argument("Interrupt fd is not an eventfd");
    }
  } else {
    // No /proc: an anonymous inode has no file type bits; regular files,
    // pipes and sockets do.
    struct stat status{};
    if (::fstat(fd, &status) != 0 || (status.st_mode & S_IFMT) != 0) {
      return invalid_argument("Interrupt fd is not an eventfd");
    }
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) return errno_error("Interrupt fd: fcntl failed");
  return {};
}

}  // namespace aether::backends::memif
