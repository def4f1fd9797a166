#include "aether/vfio/msix.hpp"

#include <linux/vfio.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>

#include <cstring>
#include <utility>

namespace aether::vfio {

Result<MsixVectors> MsixVectors::enable(const Device& device, unsigned count) {
  auto irq = device.irq_info(VFIO_PCI_MSIX_IRQ_INDEX);
  if (!irq) return std::move(irq).error();
  if (count == 0 || count > irq->count) {
    return invalid_argument(
        fmt::format("{} offers {} MSI-X vectors, {} were asked for (1..{})", device.name(), irq->count, count, irq->count));
  }
  MsixVectors vectors;
  vectors.eventfds_.reserve(count);
  for (unsigned i = 0; i < count; ++i) {
    UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!fd.valid()) return errno_error(fmt::format("eventfd for MSI-X vector {} of {} failed", i, device.name()));
    vectors.eventfds_.push_back(std::move(fd));
  }
  // struct vfio_irq_set is followed by `count` s32 eventfds (DATA_EVENTFD).
  std::vector<std::byte> buffer(sizeof(vfio_irq_set) + count * sizeof(std::int32_t));
  vfio_irq_set header{};
  header.argsz = static_cast<std::uint32_t>(buffer.size());
  header.flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
  header.index = VFIO_PCI_MSIX_IRQ_INDEX;
  header.start = 0;
  header.count = count;
  std::memcpy(buffer.data(), &header, sizeof(header));
  for (unsigned i = 0; i < count; ++i) {
    const std::int32_t fd = vectors.eventfds_[i].get();
    std::memcpy(buffer.data() + sizeof(header) + i * sizeof(fd), &fd, sizeof(fd));
  }
  if (::ioctl(device.fd(), VFIO_DEVICE_SET_IRQS, buffer.data()) != 0) {
    return errno_error(fmt::format("VFIO_DEVICE_SET_IRQS (MSI-X, {} vectors to eventfds) on {} failed", count,
                                   device.name()));
  }
  vectors.device_fd_ = device.fd();
  return vectors;
}

MsixVectors::~MsixVectors() { disable(); }

MsixVectors::MsixVectors(MsixVectors&& other) noexcept
    : device_fd_(std::exchange(other.device_fd_, -1)), eventfds_(std::move(other.eventfds_)) {}

MsixVectors& MsixVectors::operator=(MsixVectors&& other) noexcept {
  if (this != &other) {
    disable();
    device_fd_ = std::exchange(other.device_fd_, -1);
    eventfds_ = std::move(other.eventfds_);
  }
  return *this;
}

void MsixVectors::disable() noexcept {
  if (device_fd_ >= 0) {
    // vfio.h: "DATA_NONE|ACTION_TRIGGER, count = 0" disables the IRQ index.
    vfio_irq_set off{};
    off.argsz = sizeof(off);
    off.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
    off.index = VFIO_PCI_MSIX_IRQ_INDEX;
    (void)::ioctl(device_fd_, VFIO_DEVICE_SET_IRQS, &off);
  }
  device_fd_ = -1;
  eventfds_.clear();
}

}  // namespace aether::vfio
