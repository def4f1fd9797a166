#include "aether/vfio/pci_address.hpp"

#include <charconv>

namespace aether::vfio {
namespace {

// Parses 1-8 hex digits no greater than max_value.
bool parse_hex(std::string_view text, std::uint32_t max_value, std::uint32_t& value) {
  if (text.empty() || text.size() > 8) return false;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  return error == std::errc() && end == text.data() + text.size() && value <= max_value;
}

}  // namespace

Result<PciAddress> PciAddress::parse(std::string_view text) {
  const auto fail = [&] {
    return invalid_argument(fmt::format("'{}' is not a PCI address: expected DDDD:BB:DD.F (e.g. 0000:00:03.0) or BB:DD.F",
                                        text));
  };
  std::string_view rest = text;
  std::uint32_t domain = 0;
  const auto first_colon = rest.find(':');
  if (first_colon == std::string_view::npos) return fail();
  if (rest.find(':', first_colon + 1) != std::string_view::npos) {
    if (!parse_hex(rest.substr(0, first_colon), 0xffff, domain)) return fail();
    rest.remove_prefix(first_colon + 1);
  }
  const auto colon = rest.find(':');
  const auto dot = rest.find('.');
  if (colon == std::string_view::npos || dot == std::string_view::npos || dot < colon) return fail();
  std::uint32_t bus = 0;
  std::uint32_t device = 0;
  std::uint32_t function = 0;
  if (!parse_hex(rest.substr(0, colon), 0xff, bus) || !parse_hex(rest.substr(colon + 1, dot - colon - 1), 0x1f, device) ||
      !parse_hex(rest.substr(dot + 1), 7, function)) {
    return fail();
  }
  return PciAddress{domain, static_cast<std::uint8_t>(bus), static_cast<std::uint8_t>(device),
                    static_cast<std::uint8_t>(function)};
}

std::string PciAddress::to_string() const {
  return fmt::format("{:04x}:{:02x}:{:02x}.{:x}", domain, bus, device, function);
}

}  // namespace aether::vfio
