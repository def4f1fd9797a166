// Runs inside the guest (static, see tests/guest/vfio_contract.cmake): the
// port contract's checks (tests/integration/port_contract_checks.hpp, the
// same ones every other backend passes in port_contract_test.cpp) on two
// vfio ports, Aether's virtio-net driver at 00:03.0 and its e1000e driver at
// 00:04.0, both in mode=interrupt, wired to each other through one QEMU hub:
// what one sends, the other receives. Both devices must be bound to vfio-pci
// already. Each driver is checked as the receiver, the other one sending.
#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "../../integration/port_contract_checks.hpp"
#include "../../integration/port_test_support.hpp"
#include "aether/core/clock.hpp"
#include "aether/measure/port_on_veth.hpp"

namespace aether::test {
namespace {

constexpr std::uint16_t udp_port = 9000;

// The NICs' MACs as vfio_hub_pair_devices() (tests/guest/vfio_guest_machine.hpp) gives them to
// QEMU; the IP addresses are only written into the frames.
const net::VethEnd virtio_end{"virtio", {0x52, 0x54, 0x00, 0x12, 0x34, 0x56}, ::inet_addr("10.79.0.1"), "10.79.0.1"};
const net::VethEnd e1000e_end{"e1000e", {0x52, 0x54, 0x00, 0x12, 0x34, 0x57}, ::inet_addr("10.79.0.2"), "10.79.0.2"};

// A VFIO group has one owner: both ports are opened once for the whole run.
OpenedPort virtio_port;
OpenedPort e1000e_port;

class VfioContract : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    auto virtio = measure::open_port_and_pool("vfio:0000:00:03.0?mode=interrupt", 0);
    ASSERT_TRUE(virtio.ok()) << virtio.error().describe();
    virtio_port = std::move(*virtio);
    auto e1000e = measure::open_port_and_pool("vfio:0000:00:04.0?mode=interrupt", 1);
    ASSERT_TRUE(e1000e.ok()) << e1000e.error().describe();
    e1000e_port = std::move(*e1000e);
  }
  static void TearDownTestSuite() {
    e1000e_port = {};
    virtio_port = {};
  }
  void SetUp() override {
    ASSERT_TRUE(virtio_port.port && e1000e_port.port) << "the vfio ports did not open";
  }

  // The port under test (the receiver) and the one that sends to it.
  [[nodiscard]] bool virtio_receives() const { return GetParam() == "virtio"; }
  OpenedPort& receiver() { return virtio_receives() ? virtio_port : e1000e_port; }
  OpenedPort& sender() { return virtio_receives() ? e1000e_port : virtio_port; }
  const net::VethEnd& receiver_end() const { return virtio_receives() ? virtio_end : e1000e_end; }
  const net::VethEnd& sender_end() const { return virtio_receives() ? e1000e_end : virtio_end; }

  void send_to_receiver(unsigned count) {
    std::vector<mem::Packet*> packets;
    for (unsigned i = 0; i < count; ++i) {
      mem::Packet* packet =
          make_udp_packet(*sender().pool, endpoint_of(sender_end(), udp_port), endpoint_of(receiver_end(), udp_port), 64, i);
      ASSERT_NE(packet, nullptr);
      packets.push_back(packet);
    }
    ASSERT_EQ(send_all(sender().port->queue(0), *sender().pool, std::move(packets)), count);
  }
};

TEST_P(VfioContract, AnIdleWorkerSleepsAndWakesOnAFrameLosingNone) {
  contract::check_interrupt_sleep(receiver().port->queue(0), *receiver().pool,
                                  [this](unsigned count) { send_to_receiver(count); });
}

// Without an invariant TSC (QEMU TCG has none) the VFIO drivers stamp
// nothing rather than make a syscall per burst, and say so
// (include/aether/drivers/rx_clock.hpp): the contract is then that the port
// says "none", names why in its notes, and leaves every timestamp 0.
TEST_P(VfioContract, StampsEveryFrameOnTheTscScaleOrSaysWhyNot) {
  const auto& clock = net::RxClock::process();
  const bool on_tsc = clock.clock().source() == aether::ClockSource::tsc;
  if (!on_tsc) {
    EXPECT_EQ(receiver().port->rx_timestamp_source(), net::RxTimestampSource::none);
    const auto& notes = receiver().port->info().notes;
    const auto why = std::find_if(notes.begin(), notes.end(),
                                  [](const std::string& note) { return note.starts_with("rx timestamps: none ("); });
    ASSERT_NE(why, notes.end()) << receiver().port->info().spec << " stamps nothing and does not say why";
    std::printf("%s: %s\n", receiver().port->info().spec.c_str(), why->c_str());
  }
  const std::uint64_t sent_ns = clock.now_ns();
  send_to_receiver(32);
  const std::size_t received = receive(
      receiver().port->queue(0), *receiver().pool, 32,
      [&](mem::Packet& packet) {
        if (on_tsc) {
          contract::check_rx_timestamp(*receiver().port, packet, sent_ns, clock.now_ns());
        } else {
          EXPECT_EQ(packet.timestamp, 0u);
        }
      },
      &sender().port->queue(0));
  EXPECT_EQ(received, 32u);
}

TEST_P(VfioContract, CountsItsOwnThingsAsNamedPairs) { contract::check_xstats(*receiver().port); }

INSTANTIATE_TEST_SUITE_P(Drivers, VfioContract, ::testing::Values("virtio", "e1000e"),
                         [](const auto& test) { return test.param; });

}  // namespace
}  // namespace aether::test
