#include "aether/attest/driver_view.hpp"

#include <fmt/format.h>

#include "aether/vfio/device_support.hpp"

namespace aether::attest {
namespace {

std::string mac_text(const MacAddress& mac) {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

}  // namespace

std::uint16_t nvm_word_sum(std::span<const std::uint16_t> words) noexcept {
  std::uint16_t sum = 0;
  for (const std::uint16_t word : words) sum = static_cast<std::uint16_t>(sum + word);  // modulo 2^16
  return sum;
}

std::string format_driver_view(const vfio::PciFunction& function, const DriverView& view) {
  const vfio::DriverKind kind = vfio::driver_for(function.vendor, function.device);
  if (kind == vfio::DriverKind::none) {
    return fmt::format("driver_read none (no Aether driver for {:04x}:{:04x})\n", function.vendor, function.device);
  }
  if (function.driver != "vfio-pci") {
    return fmt::format("driver_read none (bound to {}, not vfio-pci)\n",
                       function.driver.empty() ? std::string("no driver") : function.driver);
  }
  if (!view.unavailable.empty()) return "driver_read unavailable: " + view.unavailable + "\n";
  if (const auto* virtio = std::get_if<VirtioNetView>(&view.reads)) {
    return fmt::format("driver_read virtio-net\nvirtio_device_features 0x{:016x}\nvirtio_mac {}\n",
                       virtio->device_features,
                       virtio->mac ? mac_text(*virtio->mac) : std::string("none (VIRTIO_NET_F_MAC not offered)"));
  }
  if (const auto* e1000e = std::get_if<E1000eView>(&view.reads)) {
    return fmt::format("driver_read e1000e\ne1000e_mac {} {}\ne1000e_nvm_sum 0x{:04x} {}\n", mac_text(e1000e->mac),
                       e1000e->mac_valid ? "valid" : "not-valid (RAH.AV clear)", e1000e->nvm_word_sum,
                       e1000e->nvm_word_sum == e1000e_nvm_checksum ? "valid" : "invalid (0xbaba expected)");
  }
  return fmt::format("driver_read unavailable: the reader returned nothing for a {:04x}:{:04x} device\n",
                     function.vendor, function.device);
}

}  // namespace aether::attest
