// A feed on disk: MoldUDP64 packets as UDP datagrams in a classic libpcap
// file (nanosecond timestamps, Ethernet link type), so the same file feeds
// `aether feed replay`, the order-book tests and Wireshark/tshark
// (`tshark -r day.pcap -d udp.port==26400,moldudp64`).
//
// Format: the libpcap file format (wiki.wireshark.org/Development/
// LibpcapFileFormat): a 24-byte global header with magic 0xa1b23c4d
// (nanosecond resolution), then per packet a 16-byte record header and the
// frame. Written in host byte order, which readers detect from the magic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "aether/core/result.hpp"
#include "aether/net/frame.hpp"

namespace aether::feed {

// Where the feed's datagrams claim to come from and go to: 10.0.0.1 to the
// multicast group 233.54.12.111 (Nasdaq's ITCH groups are in 233.54.12.0/24),
// both on UDP port 26400.
inline constexpr std::uint16_t default_feed_port = 26400;
[[nodiscard]] net::UdpEndpoint default_feed_source() noexcept;
[[nodiscard]] net::UdpEndpoint default_feed_destination() noexcept;

struct FileCloser {
  void operator()(std::FILE* file) const noexcept { std::fclose(file); }
};
using UniqueFile = std::unique_ptr<std::FILE, FileCloser>;

class PcapWriter {
 public:
  // Creates (truncates) `path` and writes the global header.
  [[nodiscard]] static Result<PcapWriter> create(const std::string& path);

  // Appends one UDP datagram carrying `payload`, stamped `time_ns` (ns
  // since the Unix epoch).
  [[nodiscard]] Result<void> write_udp(std::span<const std::byte> payload, std::uint64_t time_ns);
  // Flushes and closes; errors a buffered write hit surface here.
  [[nodiscard]] Result<void> close();

 private:
  PcapWriter(UniqueFile file, std::string path) : file_(std::move(file)), path_(std::move(path)) {}
  UniqueFile file_;
  std::string path_;
  std::vector<std::byte> frame_;
};

struct PcapRecord {
  std::uint64_t time_ns = 0;
  std::span<const std::byte> udp_payload;  // valid until the next read
};

class PcapReader {
 public:
  // Opens `path` and checks the global header (libpcap, Ethernet).
  [[nodiscard]] static Result<PcapReader> open(const std::string& path);

  // Reads the next record into `record`: true, or false at the end of the
  // file. A cut record or a frame that is not IPv4/UDP is an error naming
  // the record's position.
  [[nodiscard]] Result<bool> next(PcapRecord& record);

 private:
  PcapReader(UniqueFile file, std::string path, bool swapped, bool nanoseconds)
      : file_(std::move(file)), path_(std::move(path)), swapped_(swapped), nanoseconds_(nanoseconds) {}
  UniqueFile file_;
  std::string path_;
  bool swapped_ = false;
  bool nanoseconds_ = true;
  std::uint64_t records_read_ = 0;
  std::vector<std::byte> frame_;
};

}  // namespace aether::feed
