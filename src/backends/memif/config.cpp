// Parsing a memif spec: memif:PATH|@NAME?key=value...
#include <fmt/format.h>

#include <charconv>

#include "aether/backends/memif_port.hpp"
#include "control_socket.hpp"
#include "wire.hpp"

namespace aether::backends {

Result<MemifConfig> parse_memif_config(const net::PortSpec& spec) {
  if (auto known = spec.check_keys({"role", "id", "queues", "rsize", "bsize", "zero_copy", "mode", "secret", "retry_ms",
                                    "handshake_ms", "allow"});
      !known) {
    return std::move(known).error();
  }
  MemifConfig config;
  config.abstract_socket = !spec.target.empty() && spec.target.front() == '@';
  config.socket = config.abstract_socket ? spec.target.substr(1) : spec.target;
  if (config.socket.empty() || config.socket.size() > memif::kMaxSocketNameLength) {
    return invalid_argument(fmt::format("port '{}': socket '{}' must have 1 to {} characters{}", spec.text,
                                        spec.target, memif::kMaxSocketNameLength,
                                        config.abstract_socket ? " after '@'" : ""));
  }

  auto role = spec.get_choice("role", "client", {"client", "server"});
  if (!role) return std::move(role).error();
  config.role = *role == "server" ? MemifRole::server : MemifRole::client;

  auto id = spec.get_unsigned("id", 0, 0, 0xffffffffu);
  if (!id) return std::move(id).error();
  config.id = static_cast<std::uint32_t>(*id);
  auto queues = spec.get_unsigned("queues", 1, 1, memif::kMaxQueues);
  if (!queues) return std::move(queues).error();
  config.queues = static_cast<unsigned>(*queues);
  auto rsize = spec.get_unsigned("rsize", 10, 1, memif::kMaxLog2RingSize);
  if (!rsize) return std::move(rsize).error();
  config.log2_ring_size = static_cast<unsigned>(*rsize);
  // 128 bytes at least: a buffer must hold an Ethernet + IPv4 + UDP header
  // chain link without absurd chains; u16 at most, as DPDK's pkt_buffer_size.
  auto bsize = spec.get_unsigned("bsize", 2048, 128, 65535);
  if (!bsize) return std::move(bsize).error();
  config.buffer_size = static_cast<unsigned>(*bsize);
  auto zero_copy = spec.get_bool("zero_copy", config.role == MemifRole::client);
  if (!zero_copy) return std::move(zero_copy).error();
  if (*zero_copy && config.role == MemifRole::server) {
    return invalid_argument(fmt::format("port '{}': zero_copy=1 needs role=client: in memif the client owns every "
                                        "buffer and the server copies",
                                        spec.text));
  }
  config.zero_copy = *zero_copy;
  auto mode = spec.get_choice("mode", "polling", {"polling", "interrupt"});
  if (!mode) return std::move(mode).error();
  config.interrupt_mode = *mode == "interrupt";
  if (auto secret = spec.find("secret")) {
    // The INIT field is 24 bytes and DPDK copies it with strlcpy: 23
    // characters and a NUL.
    if (secret->empty() || secret->size() > memif::kSecretSize - 1) {
      return invalid_argument(fmt::format("port '{}': secret must have 1 to {} characters", spec.text,
                                          memif::kSecretSize - 1));
    }
    config.secret = std::string(*secret);
  }
  auto retry = spec.get_unsigned("retry_ms", 100, 1, 60'000);
  if (!retry) return std::move(retry).error();
  config.retry_ms = static_cast<unsigned>(*retry);
  auto handshake = spec.get_unsigned("handshake_ms", 2000, 10, 600'000);
  if (!handshake) return std::move(handshake).error();
  config.handshake_ms = static_cast<unsigned>(*handshake);
  if (auto allow = spec.find("allow")) {
    std::string_view rest = *allow;
    while (true) {
      const std::size_t plus = rest.find('+');
      const std::string_view entry = rest.substr(0, plus);
      const bool is_uid = entry.starts_with("uid:");
      const bool is_gid = entry.starts_with("gid:");
      const std::string_view number = entry.size() > 4 ? entry.substr(4) : std::string_view();
      std::uint32_t value = 0;
      const auto parsed = std::from_chars(number.data(), number.data() + number.size(), value);
      if ((!is_uid && !is_gid) || number.empty() || parsed.ec != std::errc{} ||
          parsed.ptr != number.data() + number.size()) {
        return invalid_argument(fmt::format("port '{}': allow entry '{}' is not uid:N or gid:N (join entries with '+')",
                                            spec.text, entry));
      }
      (is_uid ? config.allowed_uids : config.allowed_gids).push_back(value);
      if (plus == std::string_view::npos) break;
      rest = rest.substr(plus + 1);
    }
  }
  return config;
}

}  // namespace aether::backends
