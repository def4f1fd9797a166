// The 82574 as a net::Port, registered in the driver table as e1000e_driver:
// BAR 0 mapped, device reset and link up (device_reset.cpp), the packet
// pool and the driver's ring memory DMA-mapped, one LegacyQueue, polled or
// (mode=interrupt) with receive queue 0's MSI-X vector on an eventfd.
// Destruction stops the device's DMA before anything it could reach is
// unmapped.
#include <fmt/format.h>

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "aether/core/log.hpp"
#include "aether/drivers/e1000e/device_health.hpp"
#include "aether/drivers/e1000e/device_reset.hpp"
#include "aether/drivers/e1000e/legacy_queue.hpp"
#include "aether/drivers/e1000e/receive_filter.hpp"
#include "aether/drivers/e1000e/registers.hpp"
#include "aether/drivers/driver_table.hpp"
#include "aether/drivers/mmio.hpp"
#include "aether/drivers/rx_clock.hpp"
#include "aether/drivers/vfio_port.hpp"
#include "aether/mem/memory_region.hpp"
#include "aether/net/frame.hpp"
#include "aether/vfio/dma_mapping.hpp"
#include "aether/vfio/msix.hpp"

namespace aether::drivers {
namespace {

using e1000e::LegacyQueue;

// Intel 82574L (../shared/specs/e1000e-82574.md): 8086:10d3.
constexpr std::array<PciId, 1> e1000e_ids{{{0x8086, 0x10d3}}};
constexpr std::size_t page_size = 4096;

constexpr std::size_t round_up_to_page(std::size_t bytes) { return (bytes + page_size - 1) & ~(page_size - 1); }

class E1000ePort final : public net::Port {
 public:
  E1000ePort(std::unique_ptr<vfio::DeviceSession> session, vfio::BarMapping bar0, mem::MemoryRegion ring_memory,
             vfio::DmaMapping ring_mapping, vfio::DmaMapping pool_mapping, std::optional<vfio::MsixVectors> vectors)
      : session_(std::move(session)),
        bar0_(std::move(bar0)),
        ring_memory_(std::move(ring_memory)),
        ring_mapping_(std::move(ring_mapping)),
        pool_mapping_(std::move(pool_mapping)),
        vectors_(std::move(vectors)),
        health_(bar0_.base(), session_->device().name()),
        filter_(bar0_.base(), session_->device().name()) {}

  ~E1000ePort() override {
    // The device must stop writing before the pool and rings are unmapped
    // and the pool reuses the buffers: reset it through its registers, and
    // if it does not answer there, through VFIO (function-level reset).
    if (!e1000e::stop_device(bar0_.base())) {
      log::warn("{}: CTRL.RST did not complete on close; resetting the function through VFIO",
                session_->device().name());
      if (auto reset = session_->device().reset(); !reset) {
        log::warn("{}: {}", session_->device().name(), reset.error().describe());
      }
    }
    // Unmap before any buffer goes back to the pool (dma_mapping.hpp): if
    // an unmap failed the device may still write them, so they are kept
    // out of the pool and reported.
    const bool unmapped = vfio::unmap_for_teardown({&pool_mapping_, &ring_mapping_}, session_->device().name());
    if (queue_ && !unmapped) {
      const std::size_t kept = queue_->abandon_ring_buffers();
      log::error("{}: {} buffers the device held are kept out of their pool: an IOMMU mapping could not be removed, "
                 "so the device may still write them",
                 session_->device().name(), kept);
    }
    queue_.reset();  // every buffer still in the rings back to the pool
    // Then, by declaration order: ring memory, BAR, and the session (which
    // resets the device again and closes it).
  }

  Result<void> start(mem::Mempool& pool, const VfioPortContext& context, const e1000e::LinkState& link) {
    const std::size_t ring_bytes = round_up_to_page(std::size_t{context.options.queue_size} * sizeof(e1000e::LegacyRxDesc));
    e1000e::RingMemory rings;
    rings.rx_ring = reinterpret_cast<e1000e::LegacyRxDesc*>(ring_memory_.base());
    rings.rx_ring_iova = ring_mapping_.iova();
    rings.tx_ring = reinterpret_cast<e1000e::LegacyTxDesc*>(ring_memory_.base() + ring_bytes);
    rings.tx_ring_iova = ring_mapping_.iova() + ring_bytes;
    e1000e::QueueConfig config;
    config.size = context.options.queue_size;
    config.port_id = context.port_id;
    config.pool_iova = pool_mapping_.iova();
    config.device_name = session_->device().name();
    if (vectors_) config.interrupt_fd = vectors_->eventfd(0);
    rx_clock_ = calibrate_rx_clock();
    if (rx_clock_.stamps) config.clock = &rx_clock_.clock;
    filter_.clear();  // no multicast group until one is joined
    auto queue = LegacyQueue::start(bar0_.base(), rings, pool, config, health_);
    if (!queue) return std::move(queue).error();
    queue_ = std::move(*queue);

    info_.spec = context.spec;
    info_.kind = "vfio";
    info_.interface = session_->address().to_string();
    info_.mode = fmt::format("e1000e 82574, legacy descriptors, {}/{}, {}", config.size, config.size,
                             vectors_ ? "interrupt (rx: MSI-X vector 0 to an eventfd)" : "poll");
    info_.queue_count = 1;
    info_.mac = link.mac;
    info_.mtu = 1500;
    if (!link.mac_valid) {
      info_.notes.push_back("RAH(0).AV is clear: the NVM gave no MAC address, so unicast frames are not received");
    }
    if (!link.link_up) info_.notes.push_back("link down at open (STATUS.LU clear after 2 s); link_state() follows it");
    info_.notes.push_back(fmt::format("receives unicast to {} and broadcast; multicast groups joined through the "
                                      "multicast table (a hash: groups sharing a bit pass too); promiscuous on request",
                                      net::format_mac(link.mac)));
    info_.notes.push_back(fmt::format(
        "rx_drop_kernel counts the device's missed packets (MPC: rx ring empty and its packet buffer full), read "
        "with the device health check every {} idle receive bursts (never on a busy burst)",
        LegacyQueue::kIdleBurstsPerHealthCheck));
    info_.notes.push_back(rx_clock_.note);
    info_.notes.push_back(fmt::format("{} via {}", info_.interface, vfio::to_string(session_->kernel_interface())));
    return {};
  }

  [[nodiscard]] const net::PortInfo& info() const noexcept override { return info_; }
  [[nodiscard]] net::Queue& queue(unsigned /*index*/) noexcept override { return *queue_; }

  [[nodiscard]] net::LinkState link_state() const override {
    if (health_.faulted()) return net::LinkState::down;  // no traffic passes any more
    const std::uint32_t status = mmio::read32(bar0_.base(), e1000e::reg::status);
    if (status == 0xffffffff) return net::LinkState::unknown;
    return (status & e1000e::status::link_up) != 0 ? net::LinkState::up : net::LinkState::down;
  }

  [[nodiscard]] net::RxTimestampSource rx_timestamp_source() const noexcept override {
    return rx_clock_.stamps ? net::RxTimestampSource::poll_time : net::RxTimestampSource::none;
  }

  // The driver's own counters (net::Port::xstats); there is one queue.
  [[nodiscard]] std::vector<net::XStat> xstats() const override {
    return {{"tx_foreign_copies", queue_->tx_foreign_copies()},
            {"device_fault", health_.faulted() ? 1U : 0U}};
  }

  [[nodiscard]] Result<void> join_multicast(std::uint32_t group_be) override {
    if (auto refused = refuse_if_faulted(); !refused) return refused;
    return filter_.join(group_be);
  }
  [[nodiscard]] Result<void> leave_multicast(std::uint32_t group_be) override {
    if (auto refused = refuse_if_faulted(); !refused) return refused;
    return filter_.leave(group_be);
  }
  [[nodiscard]] Result<void> set_promiscuous(bool enabled) override {
    if (auto refused = refuse_if_faulted(); !refused) return refused;
    filter_.set_promiscuous(enabled);
    return {};
  }

  [[nodiscard]] std::optional<std::string> device_fault() const override {
    // Asking now also looks at the device (two register reads), so a fault
    // is seen even while the worker is not bursting.
    (void)health_.check();
    return health_.describe();
  }

 private:
  // Declaration order is construction order; destruction runs backwards:
  // queue, mappings, ring memory, BAR, session last.
  std::unique_ptr<vfio::DeviceSession> session_;
  vfio::BarMapping bar0_;
  mem::MemoryRegion ring_memory_;
  vfio::DmaMapping ring_mapping_;  // after ring_memory_: unmapped before it is freed
  vfio::DmaMapping pool_mapping_;
  std::optional<vfio::MsixVectors> vectors_;  // interrupt mode; disabled after the queue is gone
  // A faulted device's registers are not to be read back and written.
  [[nodiscard]] Result<void> refuse_if_faulted() const {
    if (!health_.faulted()) return {};
    return invalid_argument(health_.describe().value_or("the device faulted"));
  }

  mutable e1000e::DeviceHealth health_;
  e1000e::ReceiveFilter filter_;
  RxClock rx_clock_;  // before queue_: the queue reads it
  std::unique_ptr<LegacyQueue> queue_;
  net::PortInfo info_;
};

// The table's entry point: the backend has checked the session and the pool
// and prefixes errors with the spec.
Result<std::unique_ptr<net::Port>> open_e1000e_port(VfioPortContext context) {
  vfio::Device& device = context.session->device();
  if (auto valid = LegacyQueue::validate_size(context.options.queue_size, device.name()); !valid) {
    return std::move(valid).error();
  }
  auto bar0_info = device.region_info(0);
  if (!bar0_info) return std::move(bar0_info).error();
  if (auto fits = e1000e::check_bar0_size(bar0_info->size, device.name()); !fits) {
    return std::move(fits).error();
  }
  if (auto done = device.enable_bus_master(); !done) return std::move(done).error();
  auto bar0 = device.map_bar(0);
  if (!bar0) return std::move(bar0).error();
  auto link = e1000e::reset_and_link_up(bar0->base(), device.name());
  if (!link) return std::move(link).error();

  // Both rings in one small region of normal pages (a hugepage would be
  // mostly wasted), each ring page aligned (RDBAL/TDBAL want 128 bytes).
  const std::size_t ring_bytes =
      round_up_to_page(std::size_t{context.options.queue_size} * sizeof(e1000e::LegacyRxDesc));
  mem::RegionOptions region_options;
  region_options.required_bytes = 2 * ring_bytes;
  region_options.use_hugepages = false;
  region_options.name = "aether-e1000e-rings";
  auto ring_memory = mem::MemoryRegion::create(region_options);
  if (!ring_memory) return std::move(ring_memory).error();
  vfio::IoAddressSpace& space = context.session->address_space();
  auto ring_mapping = vfio::DmaMapping::create(space, *ring_memory, ring_iova);
  if (!ring_mapping) return std::move(ring_mapping).error();
  auto pool_mapping = vfio::DmaMapping::create(space, context.pool->region(), pool_iova);
  if (!pool_mapping) return std::move(pool_mapping).error();

  // From here the port owns everything: a failed start is cleaned up by its
  // destructor (device stopped before anything is unmapped).
  // Interrupt mode: one MSI-X vector, receive queue 0's, to an eventfd.
  std::optional<vfio::MsixVectors> vectors;
  if (context.options.completion == CompletionMode::interrupt) {
    auto enabled = vfio::MsixVectors::enable(device, 1);
    if (!enabled) return std::move(enabled).error();
    vectors.emplace(std::move(*enabled));
  }

  auto port = std::make_unique<E1000ePort>(std::move(context.session), std::move(*bar0), std::move(*ring_memory),
                                           std::move(*ring_mapping), std::move(*pool_mapping), std::move(vectors));
  if (auto started = port->start(*context.pool, context, *link); !started) {
    return std::move(started).error();
  }
  log::info("port '{}': e1000e 82574 at {}, {}", context.spec, port->info().interface, link->describe());
  return std::unique_ptr<net::Port>(std::move(port));
}

}  // namespace

extern const Driver e1000e_driver;
const Driver e1000e_driver{"e1000e (82574)", e1000e_ids, open_e1000e_port};

}  // namespace aether::drivers
