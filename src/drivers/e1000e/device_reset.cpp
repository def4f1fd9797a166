#include "aether/drivers/e1000e/device_reset.hpp"

#include <thread>

#include "aether/drivers/e1000e/registers.hpp"
#include "aether/drivers/mmio.hpp"

namespace aether::drivers::e1000e {

std::string LinkState::describe() const {
  const std::string mac_text = mac_valid ? fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", mac[0], mac[1],
                                                       mac[2], mac[3], mac[4], mac[5])
                                         : std::string("(none in RAL/RAH 0)");
  if (!link_up) return fmt::format("mac {}, link down", mac_text);
  return fmt::format("mac {}, link up {} Mb/s {} duplex", mac_text, speed_mbps, full_duplex ? "full" : "half");
}

Result<void> check_bar0_size(std::uint64_t bar0_size, const std::string& device_name) {
  if (bar0_size >= bar0_bytes_used) return {};
  return invalid_argument(fmt::format("{}: BAR 0 has {:#x} bytes; the 82574 driver uses registers up to {:#x} "
                                      "(RAH(0)), and an 82574's BAR 0 is 128 KiB: not an 82574, or a broken device",
                                      device_name, bar0_size, bar0_bytes_used));
}

Result<LinkState> reset_and_link_up(volatile std::byte* bar0, const std::string& device_name,
                                    std::chrono::milliseconds link_timeout) {
  using namespace std::chrono_literals;
  // Mask interrupts before and after the reset (the Linux driver does both:
  // a reset does not guarantee a quiet device while it runs).
  mmio::write32(bar0, reg::imc, 0xffffffff);
  mmio::write32(bar0, reg::ctrl, mmio::read32(bar0, reg::ctrl) | ctrl::reset);
  // The datasheet asks for a wait of at least 1 ms before polling.
  std::this_thread::sleep_for(1ms);
  const auto reset_deadline = std::chrono::steady_clock::now() + 500ms;
  while ((mmio::read32(bar0, reg::ctrl) & ctrl::reset) != 0) {
    if (std::chrono::steady_clock::now() >= reset_deadline) {
      return invalid_argument(fmt::format("{}: CTRL.RST did not clear 500 ms after the global reset", device_name));
    }
    std::this_thread::sleep_for(100us);
  }
  mmio::write32(bar0, reg::imc, 0xffffffff);
  (void)mmio::read32(bar0, reg::icr);  // read-to-clear pending causes
  mmio::write32(bar0, reg::ctrl, mmio::read32(bar0, reg::ctrl) | ctrl::set_link_up | ctrl::auto_speed_detect);

  LinkState state;
  const std::uint32_t low = mmio::read32(bar0, reg::receive_address_low);
  const std::uint32_t high = mmio::read32(bar0, reg::receive_address_high);
  for (unsigned i = 0; i < 4; ++i) state.mac[i] = static_cast<std::uint8_t>(low >> (8 * i));
  state.mac[4] = static_cast<std::uint8_t>(high);
  state.mac[5] = static_cast<std::uint8_t>(high >> 8);
  state.mac_valid = (high & receive_address_valid) != 0;

  const auto link_deadline = std::chrono::steady_clock::now() + link_timeout;
  std::uint32_t device_status = mmio::read32(bar0, reg::status);
  while ((device_status & status::link_up) == 0 && std::chrono::steady_clock::now() < link_deadline) {
    std::this_thread::sleep_for(1ms);
    device_status = mmio::read32(bar0, reg::status);
  }
  state.link_up = (device_status & status::link_up) != 0;
  state.full_duplex = (device_status & status::full_duplex) != 0;
  switch (device_status & status::speed_mask) {
    case 0x00: state.speed_mbps = 10; break;
    case 0x40: state.speed_mbps = 100; break;
    default: state.speed_mbps = 1000; break;
  }
  return state;
}

bool stop_device(volatile std::byte* bar0) noexcept {
  using namespace std::chrono_literals;
  mmio::write32(bar0, reg::rctl, 0);
  mmio::write32(bar0, reg::tctl, 0);
  mmio::write32(bar0, reg::imc, 0xffffffff);
  const std::uint32_t control = mmio::read32(bar0, reg::ctrl);
  if (control == 0xffffffff) return false;  // not answering: nothing more to ask of it
  mmio::write32(bar0, reg::ctrl, control | ctrl::reset);
  std::this_thread::sleep_for(1ms);  // at least 1 ms before polling, as in reset_and_link_up
  const auto deadline = std::chrono::steady_clock::now() + 100ms;
  while ((mmio::read32(bar0, reg::ctrl) & ctrl::reset) != 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(100us);
  }
  return true;
}

}  // namespace aether::drivers::e1000e
