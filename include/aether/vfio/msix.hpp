// MsixVectors: MSI-X vectors of a VFIO device routed to eventfds
// (VFIO_DEVICE_SET_IRQS on VFIO_PCI_MSIX_IRQ_INDEX with
// VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER). Used by the
// optional interrupt mode: poll while busy, sleep on the eventfd when idle.
// Destruction disables the vectors (DATA_NONE | ACTION_TRIGGER, count 0)
// and closes the eventfds. The Device must outlive this object.
#pragma once

#include <cstdint>
#include <vector>

#include "aether/core/result.hpp"
#include "aether/vfio/device.hpp"
#include "aether/vfio/unique_fd.hpp"

namespace aether::vfio {

class MsixVectors {
 public:
  // Enables `count` vectors (1..the device's MSI-X count), vector i
  // signalling eventfd(i). Errors name the device and the count offered.
  [[nodiscard]] static Result<MsixVectors> enable(const Device& device, unsigned count);

  MsixVectors() noexcept = default;
  ~MsixVectors();
  MsixVectors(MsixVectors&& other) noexcept;
  MsixVectors& operator=(MsixVectors&& other) noexcept;
  MsixVectors(const MsixVectors&) = delete;
  MsixVectors& operator=(const MsixVectors&) = delete;

  [[nodiscard]] unsigned count() const noexcept { return static_cast<unsigned>(eventfds_.size()); }
  [[nodiscard]] int eventfd(unsigned vector) const noexcept { return eventfds_[vector].get(); }

 private:
  void disable() noexcept;

  int device_fd_ = -1;
  std::vector<UniqueFd> eventfds_;
};

}  // namespace aether::vfio
