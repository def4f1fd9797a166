// The virtio-net port: bring-up of a modern virtio 1.x PCI device opened
// through VFIO (virtio 1.2, 3.1.1 and 4.1.5.1), its one queue pair
// (net_queue.hpp), link state, device faults and an orderly teardown;
// registered in the driver table as virtio_net_driver.
#include <fmt/format.h>

#include <array>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "aether/core/log.hpp"
#include "aether/drivers/driver_table.hpp"
#include "aether/drivers/mmio.hpp"
#include "aether/drivers/rx_clock.hpp"
#include "aether/drivers/virtio_net/common_config.hpp"
#include "aether/drivers/virtio_net/control_queue.hpp"
#include "aether/drivers/virtio_net/device_config.hpp"
#include "aether/drivers/virtio_net/net_queue.hpp"
#include "aether/drivers/virtio_net/pci_capabilities.hpp"
#include "aether/drivers/virtio_net/receive_mode.hpp"
#include "aether/drivers/vfio_port.hpp"
#include "aether/vfio/dma_mapping.hpp"
#include "aether/vfio/msix.hpp"

namespace aether::drivers {
namespace {

using virtio_net::CommonConfig;
using virtio_net::NetQueue;
using virtio_net::StructureLocation;
using virtio_net::VirtioPciLayout;

// virtio 1.2, 4.1.2: vendor 0x1af4, modern ID 0x1040 + 1 (network), or
// transitional 0x1000 (network), which QEMU exposes with the modern
// interface too unless disable-modern=on (open() checks the capabilities).
constexpr std::array<PciId, 2> virtio_net_ids{{{0x1af4, 0x1041}, {0x1af4, 0x1000}}};

class VirtioNetPort final : public net::Port {
 public:
  explicit VirtioNetPort(VfioPortContext context)
      : session_(std::move(context.session)), pool_(context.pool), name_(session_->device().name()) {
    info_.spec = std::move(context.spec);
  }

  // Cleanup order (dma_mapping.hpp): stop the device's DMA (reset through
  // device_status, as virtio drivers do: QEMU's virtio-net has no
  // function-level reset), unmap the pool and the rings, and only then give
  // back the buffers the device held: if an unmap failed the device may
  // still write them, so they are kept out of the pool and reported. Then
  // free the ring memory, unmap the BARs, and close the VFIO session last
  // (which also resets the device if VFIO can).
  ~VirtioNetPort() override {
    if (common_) {
      if (auto reset = common_->reset(); !reset) {
        aether::log::warn("{} (its DMA mappings are removed anyway; the IOMMU fences what the device still does)",
                          reset.error().describe());
      }
    }
    msix_ = vfio::MsixVectors();
    const bool unmapped = vfio::unmap_for_teardown({&pool_mapping_, &ring_mapping_}, name_);
    if (queue_) {
      if (unmapped) {
        queue_->release_ring_buffers();
      } else {
        const std::size_t kept = queue_->abandon_ring_buffers();
        aether::log::error("{}: {} buffers of pool '{}' the device held are kept out of the pool: an IOMMU mapping "
                           "could not be removed, so the device may still write them",
                           name_, kept, pool_->name());
      }
      queue_.reset();
    }
  }

  [[nodiscard]] const net::PortInfo& info() const noexcept override { return info_; }
  [[nodiscard]] net::Queue& queue(unsigned /*index*/) noexcept override { return *queue_; }

  [[nodiscard]] net::LinkState link_state() const override {
    if (queue_->check_device()) return net::LinkState::down;
    // 5.1.4.2: without VIRTIO_NET_F_STATUS the driver assumes the link is up.
    const auto config = virtio_net::read_net_config(*common_, device_config_, features_);
    if (!config) return net::LinkState::unknown;  // checked at open; a generation that never settles
    return config->link_up ? net::LinkState::up : net::LinkState::down;
  }

  // The driver's own counters (net::Port::xstats); the per-queue ones sum
  // to these, there being one queue.
  [[nodiscard]] std::vector<net::XStat> xstats() const override {
    return {{"tx_foreign_copies", queue_->tx_foreign_copies()},
            {"invalid_used_elements", queue_->invalid_used_elements()},
            {"device_fault", queue_->fault_status() ? 1U : 0U}};
  }

  [[nodiscard]] net::RxTimestampSource rx_timestamp_source() const noexcept override {
    return rx_clock_.stamps ? net::RxTimestampSource::poll_time : net::RxTimestampSource::none;
  }

  // Receive filter through the control virtqueue (receive_mode.hpp).
  [[nodiscard]] Result<void> join_multicast(std::uint32_t group_be) override {
    if (auto usable = receive_mode_usable(); !usable) return usable;
    return receive_mode_->join(group_be, name_);
  }
  [[nodiscard]] Result<void> leave_multicast(std::uint32_t group_be) override {
    if (auto usable = receive_mode_usable(); !usable) return usable;
    return receive_mode_->leave(group_be, name_);
  }
  [[nodiscard]] Result<void> set_promiscuous(bool enabled) override {
    if (auto usable = receive_mode_usable(); !usable) return usable;
    return receive_mode_->set_promiscuous(enabled);
  }

  [[nodiscard]] std::optional<std::string> device_fault() const override {
    const auto status = queue_->check_device();
    if (!status) return std::nullopt;
    return describe_fault(*status);
  }

  // Bring-up, in the order of virtio 1.2, 3.1.1.
  Result<void> open(const VfioPortOptions& options, std::uint16_t port_id);

 private:
  [[nodiscard]] std::string describe_fault(int fault) const {
    namespace bits = virtio_net::device_status;
    if (fault == NetQueue::used_index_overrun_fault) {
      return fmt::format("{}: the device's used ring index claimed more buffers than it was given (virtio 1.2, "
                         "2.7.8): a device bug. The port stopped using its rings; restart the program to reset and "
                         "reopen the device",
                         name_);
    }
    const auto status = static_cast<std::uint8_t>(fault);
    std::string what;
    if (status == 0xff) {
      what = "reads all-ones: the device no longer answers (removed, or its bus is in error)";
    } else if ((status & bits::device_needs_reset) != 0) {
      what = "has DEVICE_NEEDS_RESET set: it hit an error it cannot recover from (virtio 1.2, 2.1.2), e.g. a "
             "descriptor it could not translate";
    } else if ((status & bits::failed) != 0) {
      what = "has FAILED set";
    } else if (status == 0) {
      what = "was reset underneath the port (by the host or another process, e.g. a write to "
             "/sys/bus/pci/devices/" + name_ + "/reset)";
    } else {
      what = "lost DRIVER_OK (e.g. bus mastering was turned off in its PCI command register)";
    }
    return fmt::format("{}: virtio device_status reads {:#04x}: the device {}. The port stopped using its rings; "
                       "restart the program to reset and reopen the device (if it persists: `dmesg`, then `aether "
                       "unbind {}` and `aether bind {}`)",
                       name_, status, what, name_, name_);
  }

  Result<volatile std::byte*> map_structure(const StructureLocation& location, std::size_t minimum, const char* what);

  [[nodiscard]] Result<void> receive_mode_usable() const {
    if (!receive_mode_) {
      return invalid_argument(fmt::format("{}: the device did not offer VIRTIO_NET_F_CTRL_VQ and CTRL_RX, so its "
                                          "receive filter cannot be changed (QEMU: ctrl_vq=on,ctrl_rx=on, the "
                                          "defaults)",
                                          name_));
    }
    if (auto fault = queue_->fault_status()) return invalid_argument(describe_fault(*fault));
    return {};
  }

  std::unique_ptr<vfio::DeviceSession> session_;  // closed last
  mem::Mempool* pool_;
  std::string name_;
  std::array<vfio::BarMapping, 6> bars_;
  std::optional<CommonConfig> common_;
  virtio_net::DeviceConfigWindow device_config_;
  std::uint64_t features_ = 0;
  mem::MemoryRegion ring_memory_;
  vfio::DmaMapping ring_mapping_;
  vfio::DmaMapping pool_mapping_;
  vfio::MsixVectors msix_;
  std::optional<virtio_net::ControlQueue> control_;    // in ring_memory_: goes before it
  std::unique_ptr<virtio_net::ReceiveMode> receive_mode_;
  RxClock rx_clock_;                 // the queue reads it: declared before
  std::unique_ptr<NetQueue> queue_;  // destroyed first
  net::PortInfo info_;
};

Result<volatile std::byte*> VirtioNetPort::map_structure(const StructureLocation& location, std::size_t minimum,
                                                         const char* what) {
  vfio::Device& device = session_->device();
  auto region = device.region_info(location.bar);
  if (!region) return std::move(region).error();
  // 4.1.4: the structure lies inside its BAR; we also need `minimum` bytes of it.
  if (std::uint64_t{location.offset} + location.length > region->size || location.length < minimum) {
    return invalid_argument(fmt::format("{}: the virtio {} structure (bar{} +{:#x}, {:#x} bytes) does not fit its BAR "
                                        "({:#x} bytes) or is shorter than {} bytes: not a usable virtio 1.x device",
                                        name_, what, location.bar, location.offset, location.length, region->size,
                                        minimum));
  }
  vfio::BarMapping& bar = bars_[location.bar];
  if (bar.base() == nullptr) {
    auto mapped = device.map_bar(location.bar);
    if (!mapped) return std::move(mapped).error();
    bar = std::move(*mapped);
  }
  return bar.base() + location.offset;
}

Result<void> VirtioNetPort::open(const VfioPortOptions& options, std::uint16_t port_id) {
  vfio::Device& device = session_->device();
  const std::uint16_t size = options.queue_size;
  if (size == 0 || (size & (size - 1)) != 0 || size > 32768) {
    return invalid_argument(fmt::format("{}: queue_size={} is not a power of two in 1..32768 (virtio 1.2, 2.7)", name_,
                                        size));
  }

  // 4.1.4: where the structures are.
  std::array<std::byte, virtio_net::pci_config_space_size> config_space{};
  if (auto read = device.read_config(0, config_space); !read) return std::move(read).error();
  auto layout = virtio_net::parse_virtio_capabilities(config_space, name_);
  if (!layout) return std::move(layout).error();
  auto common_base = map_structure(layout->common, virtio_net::common_cfg::size_v1_0, "common configuration");
  if (!common_base) return std::move(common_base).error();
  auto notify_base = map_structure(layout->notify, 2, "notification");
  if (!notify_base) return std::move(notify_base).error();
  if (layout->device) {
    auto device_base = map_structure(*layout->device, 6, "device configuration");
    if (!device_base) return std::move(device_base).error();
    // map_structure checked that these bytes lie inside the BAR; reads stay inside them.
    device_config_ = {*device_base, layout->device->length};
  }
  common_.emplace(*common_base, name_);

  // 3.1.1 steps 1-6. Through VFIO the device always sits behind the IOMMU,
  // so ACCESS_PLATFORM is required.
  if (auto enabled = device.enable_bus_master(); !enabled) return std::move(enabled).error();
  auto features = common_->negotiate(/*behind_iommu=*/true, /*control_queue=*/true);
  if (!features) return std::move(features).error();
  features_ = features->accepted;
  if (common_->queue_count() < 2) {
    return invalid_argument(fmt::format("{}: the device has {} virtqueues; virtio-net needs receiveq1 and "
                                        "transmitq1 (5.1.2)",
                                        name_, common_->queue_count()));
  }
  using virtio_net::feature::bit;
  const std::uint64_t config_features =
      bit(virtio_net::feature::net_mac) | bit(virtio_net::feature::net_status) | bit(virtio_net::feature::net_mtu);
  if (device_config_.base == nullptr && (features_ & config_features) != 0) {
    return invalid_argument(fmt::format("{}: MAC, STATUS or MTU negotiated but the device has no device "
                                        "configuration structure (4.1.4.6)",
                                        name_));
  }
  auto read_config = virtio_net::read_net_config(*common_, device_config_, features_);
  if (!read_config) return std::move(read_config).error();
  const virtio_net::NetDeviceConfig net_config = *read_config;

  // DMA memory: the rings in a region of our own, the whole pool region.
  mem::RegionOptions ring_options;
  // The control virtqueue (index 2 without MQ, 5.1.2) when CTRL_VQ and
  // CTRL_RX were negotiated: its rings and one page of command memory after
  // the data queues' rings.
  const bool control = (features_ & bit(virtio_net::feature::net_ctrl_vq)) != 0 &&
                       (features_ & bit(virtio_net::feature::net_ctrl_rx)) != 0 && common_->queue_count() >= 3;
  const std::size_t control_offset = virtio_net::ring_memory_bytes(size);
  const std::size_t command_offset = control_offset + virtio_net::queue_ring_stride(virtio_net::ControlQueue::queue_size);
  ring_options.required_bytes = control ? command_offset + virtio_net::ControlQueue::command_bytes : control_offset;
  ring_options.use_hugepages = false;  // a few pages; hugepages are for the pool
  ring_options.name = "aether-virtio-rings";
  auto rings = mem::MemoryRegion::create(ring_options);
  if (!rings) return std::move(rings).error();
  ring_memory_ = std::move(*rings);
  std::memset(ring_memory_.base(), 0, ring_memory_.length());
  auto ring_mapping = vfio::DmaMapping::create(session_->address_space(), ring_memory_, ring_iova);
  if (!ring_mapping) return std::move(ring_mapping).error();
  ring_mapping_ = std::move(*ring_mapping);
  auto pool_mapping = vfio::DmaMapping::create(session_->address_space(), pool_->region(), pool_iova);
  if (!pool_mapping) return std::move(pool_mapping).error();
  pool_mapping_ = std::move(*pool_mapping);

  // Frames up to the device's MTU if it gave one, else 1500, and never
  // more than a receive buffer holds (no MRG_RXBUF: one buffer per frame).
  const std::size_t room = pool_->data_room();
  unsigned mtu = net_config.mtu != 0 ? net_config.mtu : 1500;
  std::vector<std::string> notes;
  if (mtu + 18 > room) {
    notes.push_back(fmt::format("device MTU {} is more than a {}-byte pool buffer holds: using {}", mtu, room,
                                room - 18));
    mtu = static_cast<unsigned>(room - 18);
  }

  // Interrupt mode: one MSI-X vector, receiveq1's, to an eventfd; enabled
  // before the queue names it (the device checks the vector exists).
  const bool interrupts = options.completion == CompletionMode::interrupt;
  if (interrupts) {
    auto vectors = vfio::MsixVectors::enable(device, 1);
    if (!vectors) return std::move(vectors).error();
    msix_ = std::move(*vectors);
  }

  virtio_net::NetQueueConfig queue_config;
  queue_config.size = size;
  queue_config.port_id = port_id;
  queue_config.ring_iova = ring_iova;
  queue_config.pool_iova = pool_iova;
  queue_config.max_frame = mtu + 18;  // Ethernet header + one VLAN tag
  queue_config.rx_interrupt_fd = interrupts ? msix_.eventfd(0) : -1;
  rx_clock_ = calibrate_rx_clock();
  if (rx_clock_.stamps) queue_config.clock = &rx_clock_.clock;
  std::array<std::uint16_t, 2> notify_offsets{};
  const auto ring_layout = virtio_net::layout_for(size);
  for (const std::uint16_t index : {virtio_net::receive_queue_index, virtio_net::transmit_queue_index}) {
    const std::uint16_t max_size = common_->select_queue(index);
    if (max_size < size) {
      return invalid_argument(fmt::format("{}: virtqueue {} holds at most {} entries; queue_size={} asked for more "
                                          "(use queue_size={} or less)",
                                          name_, index, max_size, size, max_size));
    }
    const std::uint64_t base = ring_iova + index * virtio_net::queue_ring_stride(size);
    // 4.1.5.1.3: size, ring addresses, vector, then queue_enable. Only
    // receiveq1 gets a vector, and only in interrupt mode.
    const std::uint16_t vector =
        interrupts && index == virtio_net::receive_queue_index ? 0 : virtio_net::common_cfg::no_vector;
    notify_offsets[index] = common_->configure_selected_queue(size, base + ring_layout.descriptors,
                                                              base + ring_layout.available, base + ring_layout.used,
                                                              vector);
    // 4.1.4.3.2: a device that cannot use the vector reads back NO_VECTOR.
    if (common_->selected_queue_vector() != vector) {
      return invalid_argument(fmt::format("{}: virtqueue {} did not accept MSI-X vector {:#x} (reads {:#x}); use "
                                          "mode=poll",
                                          name_, index, vector, common_->selected_queue_vector()));
    }
    const std::size_t doorbell = std::size_t{notify_offsets[index]} * layout->notify_off_multiplier;
    if (doorbell + 2 > layout->notify.length) {
      return invalid_argument(fmt::format("{}: virtqueue {}'s doorbell at +{:#x} lies outside the {:#x}-byte "
                                          "notification structure (4.1.4.4)",
                                          name_, index, doorbell, layout->notify.length));
    }
  }
  if (control) {
    constexpr std::uint16_t control_index = 2;
    const std::uint16_t control_size = virtio_net::ControlQueue::queue_size;
    if (common_->select_queue(control_index) < control_size) {
      return invalid_argument(fmt::format("{}: the control virtqueue holds fewer than {} entries", name_, control_size));
    }
    const std::uint64_t base = ring_iova + control_offset;
    const auto control_layout = virtio_net::layout_for(control_size);
    const std::uint16_t notify_offset =
        common_->configure_selected_queue(control_size, base + control_layout.descriptors,
                                          base + control_layout.available, base + control_layout.used,
                                          virtio_net::common_cfg::no_vector);
    const std::size_t doorbell = std::size_t{notify_offset} * layout->notify_off_multiplier;
    if (doorbell + 2 > layout->notify.length) {
      return invalid_argument(fmt::format("{}: the control virtqueue's doorbell at +{:#x} lies outside the {:#x}-byte "
                                          "notification structure (4.1.4.4)",
                                          name_, doorbell, layout->notify.length));
    }
    control_.emplace(ring_memory_.base() + control_offset, base, ring_memory_.base() + command_offset,
                     ring_iova + command_offset, *notify_base + doorbell, control_index, name_);
    receive_mode_ = std::make_unique<virtio_net::ReceiveMode>(*control_);
  }
  const virtio_net::DeviceWindows windows{
      *common_base, *notify_base + std::size_t{notify_offsets[0]} * layout->notify_off_multiplier,
      *notify_base + std::size_t{notify_offsets[1]} * layout->notify_off_multiplier};
  queue_ = std::make_unique<NetQueue>(*pool_, ring_memory_.base(), windows, queue_config);
  if (auto posted = queue_->post_receive_buffers(); !posted) return std::move(posted).error();

  // 3.1.1 step 8: DRIVER_OK; from here on the device may use the queues.
  namespace bits = virtio_net::device_status;
  common_->set_status(bits::acknowledge | bits::driver | bits::features_ok | bits::driver_ok);
  if (const std::uint8_t status = common_->status(); NetQueue::is_fault(status)) {
    return invalid_argument(fmt::format("{}: device_status reads {:#04x} right after DRIVER_OK: the device refused "
                                        "the queue set-up",
                                        name_, status));
  }
  queue_->start();

  info_.kind = "vfio";
  info_.interface = name_;
  info_.mode = fmt::format("virtio-net modern, split queues {}, {}, {}", size,
                           interrupts ? "interrupt (receive MSI-X vector 0 to an eventfd)" : "poll",
                           session_->kernel_interface() == vfio::KernelInterface::device_cdev ? "iommufd/cdev"
                                                                                              : "container/group");
  info_.queue_count = 1;
  info_.mtu = mtu;
  if (net_config.has_mac) {
    info_.mac = net_config.mac;
  } else {
    notes.emplace_back("the device offers no MAC (NET_F_MAC): frames go out with whatever source the application writes");
  }
  notes.push_back(fmt::format("features {} ({:#x}); {}", features->description, features_, layout->describe()));
  notes.push_back(fmt::format("pool '{}' ({} MiB) mapped at IOVA {:#x}, rings at {:#x}, in {}", pool_->name(),
                              pool_->region().length() >> 20, pool_iova, ring_iova,
                              session_->address_space().describe()));
  if (!net_config.has_status) notes.emplace_back("no link status from the device (NET_F_STATUS): link assumed up");
  notes.push_back(rx_clock_.note);
  notes.emplace_back(control_ ? "multicast groups (MAC table) and promiscuous mode through the control virtqueue"
                              : "no control virtqueue (CTRL_VQ, CTRL_RX not offered): join_multicast and "
                                "set_promiscuous are refused");
  info_.notes = std::move(notes);
  aether::log::info("{}: virtio-net up: {}, mac {}, {} entries per ring", name_, features->description,
                    net_config.has_mac ? net_config.mac_text() : "none", size);
  return {};
}

// The table's entry point: the backend has checked the session and the pool
// and prefixes errors with the spec.
Result<std::unique_ptr<net::Port>> open_virtio_net_port(VfioPortContext context) {
  const VfioPortOptions options = context.options;
  const std::uint16_t port_id = context.port_id;
  auto port = std::make_unique<VirtioNetPort>(std::move(context));
  // On failure the port's destructor resets the device and unmaps what was mapped.
  if (auto opened = port->open(options, port_id); !opened) return std::move(opened).error();
  return std::unique_ptr<net::Port>(std::move(port));
}

}  // namespace

extern const Driver virtio_net_driver;
const Driver virtio_net_driver{"virtio-net", virtio_net_ids, open_virtio_net_port};

}  // namespace aether::drivers
