// libpcap files of UDP datagrams: writer and reader (see pcap_file.hpp).
#include "aether/feed/pcap_file.hpp"

#include <arpa/inet.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace aether::feed {
namespace {

// libpcap global header (LibpcapFileFormat, "Global Header").
struct PcapGlobalHeader {
  std::uint32_t magic;
  std::uint16_t version_major;
  std::uint16_t version_minor;
  std::int32_t this_zone;
  std::uint32_t sigfigs;
  std::uint32_t snaplen;
  std::uint32_t network;
};
static_assert(sizeof(PcapGlobalHeader) == 24);

// "Record (Packet) Header".
struct PcapRecordHeader {
  std::uint32_t seconds;
  std::uint32_t fraction;  // ns with the nanosecond magic, else µs
  std::uint32_t captured_length;
  std::uint32_t original_length;
};
static_assert(sizeof(PcapRecordHeader) == 16);

constexpr std::uint32_t magic_microseconds = 0xa1b2c3d4;
constexpr std::uint32_t magic_nanoseconds = 0xa1b23c4d;
constexpr std::uint32_t link_type_ethernet = 1;  // LINKTYPE_ETHERNET
constexpr std::uint32_t snap_length = 65535;

}  // namespace

net::UdpEndpoint default_feed_source() noexcept {
  return net::UdpEndpoint{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}, htonl(0x0A000001), htons(default_feed_port)};
}

net::UdpEndpoint default_feed_destination() noexcept {
  // RFC 1112 section 6.4: the multicast MAC is 01:00:5e plus the low 23 bits of the group.
  return net::UdpEndpoint{{0x01, 0x00, 0x5e, 0x36, 0x0c, 0x6f}, htonl(0xE9360C6F), htons(default_feed_port)};
}

Result<PcapWriter> PcapWriter::create(const std::string& path) {
  UniqueFile file(std::fopen(path.c_str(), "wb"));
  if (!file) return errno_error(fmt::format("cannot create {}", path));
  const PcapGlobalHeader header{magic_nanoseconds, 2, 4, 0, 0, snap_length, link_type_ethernet};
  if (std::fwrite(&header, sizeof header, 1, file.get()) != 1) return errno_error(fmt::format("cannot write {}", path));
  return PcapWriter(std::move(file), path);
}

Result<void> PcapWriter::write_udp(std::span<const std::byte> payload, std::uint64_t time_ns) {
  frame_.resize(std::max(net::udp_frame_header_size + payload.size(), net::min_ethernet_frame));
  const std::size_t frame_size =
      net::write_udp_headers(frame_, default_feed_source(), default_feed_destination(), payload.size());
  if (frame_size == 0) return invalid_argument(fmt::format("a {}-byte datagram does not fit a UDP frame", payload.size()));
  std::memcpy(frame_.data() + net::udp_frame_header_size, payload.data(), payload.size());
  const PcapRecordHeader record{static_cast<std::uint32_t>(time_ns / 1'000'000'000),
                                static_cast<std::uint32_t>(time_ns % 1'000'000'000),
                                static_cast<std::uint32_t>(frame_size), static_cast<std::uint32_t>(frame_size)};
  if (std::fwrite(&record, sizeof record, 1, file_.get()) != 1 ||
      std::fwrite(frame_.data(), 1, frame_size, file_.get()) != frame_size) {
    return errno_error(fmt::format("cannot write {}", path_));
  }
  return {};
}

Result<void> PcapWriter::close() {
  if (!file_) return {};
  std::FILE* file = file_.release();
  if (std::fclose(file) != 0) return errno_error(fmt::format("cannot write {}", path_));
  return {};
}

Result<PcapReader> PcapReader::open(const std::string& path) {
  UniqueFile file(std::fopen(path.c_str(), "rb"));
  if (!file) return errno_error(fmt::format("cannot open {}", path));
  PcapGlobalHeader header{};
  if (std::fread(&header, sizeof header, 1, file.get()) != 1) {
    return invalid_argument(fmt::format("{}: shorter than a pcap file header", path));
  }
  bool swapped = false;
  bool nanoseconds = true;
  if (header.magic == magic_nanoseconds || header.magic == magic_microseconds) {
    nanoseconds = header.magic == magic_nanoseconds;
  } else if (__builtin_bswap32(header.magic) == magic_nanoseconds ||
             __builtin_bswap32(header.magic) == magic_microseconds) {
    swapped = true;
    nanoseconds = __builtin_bswap32(header.magic) == magic_nanoseconds;
  } else {
    return invalid_argument(fmt::format("{}: not a libpcap file (magic {:#010x}; pcapng is not read)", path, header.magic));
  }
  const std::uint32_t network = swapped ? __builtin_bswap32(header.network) : header.network;
  if (network != link_type_ethernet) {
    return invalid_argument(fmt::format("{}: link type {}, expected 1 (Ethernet)", path, network));
  }
  return PcapReader(std::move(file), path, swapped, nanoseconds);
}

Result<bool> PcapReader::next(PcapRecord& record) {
  PcapRecordHeader header{};
  const std::size_t got = std::fread(&header, 1, sizeof header, file_.get());
  if (got == 0 && std::feof(file_.get())) return false;
  const std::uint64_t index = records_read_++;
  if (got != sizeof header) return invalid_argument(fmt::format("{}: record {} is cut short", path_, index));
  if (swapped_) {
    header.seconds = __builtin_bswap32(header.seconds);
    header.fraction = __builtin_bswap32(header.fraction);
    header.captured_length = __builtin_bswap32(header.captured_length);
  }
  if (header.captured_length > snap_length) {
    return invalid_argument(fmt::format("{}: record {} claims {} bytes", path_, index, header.captured_length));
  }
  frame_.resize(header.captured_length);
  if (std::fread(frame_.data(), 1, frame_.size(), file_.get()) != frame_.size()) {
    return invalid_argument(fmt::format("{}: record {} is cut short", path_, index));
  }
  net::FrameError error{};
  auto udp = net::parse_udp_frame(frame_, error);
  if (!udp) {
    return invalid_argument(fmt::format("{}: record {} is not an IPv4/UDP frame ({})", path_, index, net::to_string(error)));
  }
  record.time_ns = std::uint64_t{header.seconds} * 1'000'000'000 +
                   (nanoseconds_ ? header.fraction : std::uint64_t{header.fraction} * 1000);
  record.udp_payload = udp->payload;
  return true;
}

}  // namespace aether::feed
