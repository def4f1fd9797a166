// Aether's userspace drivers talk to the host's own Linux stack (issue 6,
// "Tests in a real kernel with an emulated IOMMU"). One guest (QEMU TCG,
// q35, intel-iommu, Debian 6.1) with
//   00:03.0  virtio-net (modern, iommu_platform=on) on tap3
//   00:04.0  e1000e (Intel 82574) on tap4
// both taps in a network namespace this test makes, where the host kernel
// is 10.0.3.1/24 and 10.0.4.1/24 and a UDP echo server of the test listens
// on port 7. Per device, in the guest: `aether bind`, then
// - `aether ping vfio:BDF`: ARP and ICMP answered by the host kernel, UDP
//   echoed by the test's server, 100 of each, counts equal;
// - `aether echo vfio:BDF --ip`: the host kernel resolves and pings it, the
//   test sends it 100 UDP datagrams and a burst far larger than the rings;
//   the link is taken down and up through the QEMU monitor (set_link) and
//   Aether reports it; Aether's books balance (rx = tx + drops);
// - `aether unbind`, and the kernel driver is back.
// The host side drives the echo phase while the guest runs: it follows the
// console for the guest's markers and tells the guest when it is done
// through the guest's second serial port.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <regex>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "../integration/kernel_peer.hpp"
#include "child_process.hpp"
#include "guest_gtest.hpp"
#include "guest_vm.hpp"

namespace aether::test {
namespace {

using namespace std::chrono_literals;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;

struct Nic {
  const char* name;        // in STEP lines
  const char* bdf;
  const char* netdev;      // QEMU's, for set_link
  const char* tap;
  const char* host_ip;
  const char* guest_ip;
  const char* kernel_driver;
};
constexpr Nic virtio{"virtio", "0000:00:03.0", "net3", "tap3", "10.0.3.1", "10.0.3.2", "virtio-pci"};
constexpr Nic e1000e{"e1000e", "0000:00:04.0", "net4", "tap4", "10.0.4.1", "10.0.4.2", "e1000e"};
constexpr unsigned burst_datagrams = 3000;  // far more than a 256-entry ring

// The guest side. /dev/ttyS1 is the control line from the test (opened
// once, before the test can write to it). Each step prints
// "STEP <name> rc=<status>".
constexpr const char* guest_script = R"script(
stty -F /dev/ttyS1 raw -echo
exec 3</dev/ttyS1
step() { name=$1; shift; "$@"; echo "STEP $name rc=$?"; }
driver() { basename "$(readlink /sys/bus/pci/devices/$1/driver)"; }
device() {  # NAME BDF GUEST_IP HOST_IP
  step bind_$1 aether bind $2
  echo "DRIVER $1 after bind: $(driver $2)"
  step ping_$1 aether ping vfio:$2 --ip $3 --peer $4 --count 100 --udp-port 7 --interval-ms 5
  aether echo vfio:$2 --ip $3 &
  pid=$!
  echo "ECHO-STARTED $1"
  read -r line <&3
  echo "HOST SAYS $line"
  kill -INT $pid
  wait $pid
  echo "STEP echo_$1 rc=$?"
  step unbind_$1 aether unbind $2
  echo "DRIVER $1 after unbind: $(driver $2)"
}
device virtio 0000:00:03.0 10.0.3.2 10.0.3.1
device e1000e 0000:00:04.0 10.0.4.2 10.0.4.1
exit 0
)script";

// The host kernel's counters for one tap: what it handed to QEMU (tx) and
// what it dropped on the way, in the tap's queue (tx dropped) or in its
// qdisc (pfifo_fast, txqueuelen 1000).
struct TapCounters {
  std::uint64_t tx_packets = 0, tx_dropped = 0, qdisc_drops = 0;
};

std::string output_of(const std::string& command) {
  std::string output;
  if (FILE* pipe = ::popen(command.c_str(), "r")) {
    char buffer[4096];
    while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
    ::pclose(pipe);
  }
  return output;
}

TapCounters tap_counters(const net::NetworkNamespace& ns, const std::string& tap) {
  TapCounters counters;
  const std::string enter = "nsenter --net=" + ns.path() + " ";
  const auto link = nlohmann::json::parse(output_of(enter + "ip -j -s link show dev " + tap), nullptr, false);
  if (link.is_array() && !link.empty()) {
    counters.tx_packets = link[0]["stats64"]["tx"].value("packets", 0ULL);
    counters.tx_dropped = link[0]["stats64"]["tx"].value("dropped", 0ULL);
  }
  const auto qdiscs = nlohmann::json::parse(output_of(enter + "tc -s -j qdisc show dev " + tap), nullptr, false);
  if (qdiscs.is_array()) {
    for (const auto& qdisc : qdiscs) counters.qdisc_drops += qdisc.value("drops", 0ULL);
  }
  return counters;
}

// What the host saw while one device ran `aether echo`.
struct HostSide {
  kernel_peer::Exchange pings;
  kernel_peer::Exchange datagrams;
  kernel_peer::Exchange burst;
  TapCounters before_burst, after_burst;
  kernel_peer::Exchange while_down;
  kernel_peer::Exchange after_up;
  bool reachable = false;
  bool link_down_reported = false;
  bool link_up_reported = false;
  std::string errors;  // the host side's own failures (sockets, monitor, control line)
};

kernel_peer::Exchange take(Result<kernel_peer::Exchange> exchange, std::string& errors) {
  if (exchange) return *exchange;
  errors += exchange.error().describe() + "\n";
  return {};
}

class VfioHostStackGuest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: makes a network namespace and tap devices";
    auto ns = net::NetworkNamespace::create();
    ASSERT_TRUE(ns) << ns.error().describe();
    ns_ = std::make_unique<net::NetworkNamespace>(std::move(*ns));
    for (const Nic* nic : {&virtio, &e1000e}) {
      // Persistent taps (TUNSETPERSIST, by ip): QEMU attaches to them by name.
      for (const std::vector<std::string>& step :
           {std::vector<std::string>{"tuntap", "add", "dev", nic->tap, "mode", "tap"},
            {"addr", "add", fmt::format("{}/24", nic->host_ip), "dev", nic->tap},
            {"link", "set", nic->tap, "up"}}) {
        auto done = ns_->run_ip(step);
        ASSERT_TRUE(done) << done.error().describe();
      }
    }
    auto dir = TemporaryDirectory::create("aether-hoststack-");
    ASSERT_TRUE(dir) << dir.error().describe();
    dir_ = std::make_unique<TemporaryDirectory>(std::move(*dir));
  }

  // The host's part of one device's echo phase; the guest waits on its
  // control line until `done` is written at the end.
  // Gives up when the guest has stopped (its future is ready) or after 240 s.
  HostSide drive_echo(const Nic& nic, const GuestOptions& options, std::size_t& console_offset,
                      const std::future<Result<GuestRun>>& guest) {
    HostSide host;
    std::optional<std::size_t> started;
    const auto give_up = std::chrono::steady_clock::now() + 240s;
    while (!started && guest.wait_for(0s) != std::future_status::ready && std::chrono::steady_clock::now() < give_up) {
      started = wait_for_console_line(options.console_path, fmt::format("ECHO-STARTED {}", nic.name), console_offset, 1s);
    }
    if (!started) return host;
    console_offset = *started;
    // The first ping waits for the kernel's ARP request to be answered by Aether.
    host.reachable = kernel_peer::wait_until_pingable(*ns_, nic.guest_ip, 60s);
    if (host.reachable) {
      host.pings = take(kernel_peer::ping(*ns_, nic.guest_ip, 20, 20ms, 5s), host.errors);
      host.datagrams = take(kernel_peer::udp_exchange(*ns_, nic.guest_ip, 9000, 100, 5ms, 5s), host.errors);
      host.before_burst = tap_counters(*ns_, nic.tap);
      host.burst = take(kernel_peer::udp_exchange(*ns_, nic.guest_ip, 9001, burst_datagrams, 0ms, 5s), host.errors);
      host.after_burst = tap_counters(*ns_, nic.tap);
    }
    // Link down: QEMU drops what the host sends, Aether's port reports the
    // link down in echo's per-second line; then up again and reachable.
    const std::size_t mark = read_text_file(options.console_path).size();
    if (auto off = guest_monitor_command(options.monitor_socket, fmt::format("set_link {} off", nic.netdev)); !off) {
      host.errors += off.error().describe() + "\n";
    }
    host.link_down_reported = wait_for_console_line(options.console_path, "; link down", mark, 30s).has_value();
    host.while_down = take(kernel_peer::udp_exchange(*ns_, nic.guest_ip, 9002, 10, 5ms, 1s), host.errors);
    const std::size_t down_mark = read_text_file(options.console_path).size();
    if (auto on = guest_monitor_command(options.monitor_socket, fmt::format("set_link {} on", nic.netdev)); !on) {
      host.errors += on.error().describe() + "\n";
    }
    host.link_up_reported = wait_for_console_line(options.console_path, "; link up", down_mark, 30s).has_value();
    host.after_up = take(kernel_peer::ping(*ns_, nic.guest_ip, 5, 20ms, 5s), host.errors);
    if (auto written = write_guest_control(options.control_socket, "done"); !written) {
      host.errors += written.error().describe() + "\n";
    }
    console_offset = read_text_file(options.console_path).size();
    return host;
  }

  std::unique_ptr<net::NetworkNamespace> ns_;
  std::unique_ptr<TemporaryDirectory> dir_;
};

// Aether's totals from one `aether echo` run: the last "total:" line after `from`.
struct EchoTotals {
  std::uint64_t received = 0, echoed = 0, dropped = 0, tx_full = 0, port_rx_drops = 0;
  std::uint64_t arp = 0, icmp = 0, udp = 0;
};
std::optional<EchoTotals> echo_totals(const std::string& out, std::size_t from) {
  const std::string rest = out.substr(std::min(from, out.size()));
  std::smatch total, answered;
  if (!std::regex_search(rest, total,
                         std::regex(R"(total: received (\d+), echoed (\d+), dropped (\d+) \(not IPv4/UDP \d+, tx full (\d+)\); port rx drops (\d+))")) ||
      !std::regex_search(rest, answered, std::regex(R"(answered: arp (\d+), icmp echo (\d+), udp (\d+);)"))) {
    return std::nullopt;
  }
  return EchoTotals{std::stoull(total[1]), std::stoull(total[2]), std::stoull(total[3]), std::stoull(total[4]),
                    std::stoull(total[5]), std::stoull(answered[1]), std::stoull(answered[2]), std::stoull(answered[3])};
}

void expect_device(const Nic& nic, const std::string& out, const HostSide& host) {
  SCOPED_TRACE(nic.name);
  const std::string name = nic.name;
  EXPECT_THAT(out, HasSubstr("STEP bind_" + name + " rc=0")) << out;
  EXPECT_THAT(out, HasSubstr("DRIVER " + name + " after bind: vfio-pci"));
  // aether ping: the host kernel answered ARP and ICMP, the test's socket echoed UDP.
  const auto ping_at = out.find("aether ping: " + std::string(nic.guest_ip));
  ASSERT_NE(ping_at, std::string::npos) << out;
  const std::string ping = out.substr(ping_at, out.find("STEP ping_" + name, ping_at) - ping_at);
  EXPECT_THAT(ping, ContainsRegex(fmt::format("ARP +[1-9] +1 +[0-9]+  {} is at ", nic.host_ip))) << ping;
  EXPECT_THAT(ping, ContainsRegex("ICMP echo +100 +100 +0")) << ping;
  EXPECT_THAT(ping, ContainsRegex("UDP port 7 +100 +100 +0")) << ping;
  EXPECT_THAT(ping, HasSubstr("result: complete")) << ping;
  EXPECT_THAT(out, HasSubstr("STEP ping_" + name + " rc=0"));

  // aether echo --ip: answered the host kernel's ARP, pings and UDP.
  EXPECT_TRUE(host.reachable) << "the host kernel never got a ping reply from " << nic.guest_ip;
  EXPECT_EQ(host.pings.sent, 20u);
  EXPECT_EQ(host.pings.replies, 20u);
  EXPECT_EQ(host.datagrams.sent, 100u);
  EXPECT_EQ(host.datagrams.replies, 100u);
  EXPECT_EQ(host.errors, "");
  EXPECT_TRUE(host.link_down_reported) << "no '; link down' in echo's lines after set_link off";
  EXPECT_EQ(host.while_down.replies, 0u) << "replies while the link was down";
  EXPECT_TRUE(host.link_up_reported) << "no '; link up' in echo's lines after set_link on";
  EXPECT_EQ(host.after_up.replies, 5u) << "pings after the link came back";
  const auto echo_at = out.find("ECHO-STARTED " + name);
  const auto totals = echo_totals(out, echo_at);
  ASSERT_TRUE(totals) << out.substr(std::min(echo_at, out.size()));
  EXPECT_EQ(totals->received, totals->echoed + totals->dropped) << "rx = tx + drops";
  EXPECT_GE(totals->arp, 1u);
  EXPECT_GE(totals->icmp, 20u + 5u);
  EXPECT_GE(totals->udp, 100u);
  // The burst: what the host sent either reached Aether or was dropped
  // and counted before it (the tap's queue while QEMU waited for ring
  // space, Aether's no-buffer drops); whatever Aether received it answered
  // or counted; the host never got more replies than Aether sent.
  EXPECT_EQ(host.burst.sent, burst_datagrams);
  EXPECT_LE(host.burst.replies, totals->udp);
  const std::uint64_t to_qemu = host.after_burst.tx_packets - host.before_burst.tx_packets;
  const std::uint64_t tap_dropped = host.after_burst.tx_dropped - host.before_burst.tx_dropped;
  const std::uint64_t qdisc_dropped = host.after_burst.qdisc_drops - host.before_burst.qdisc_drops;
  // Every datagram sent is accounted for on the host: handed to QEMU or
  // dropped and counted (the tap also carries the host's own few frames).
  EXPECT_GE(to_qemu + tap_dropped + qdisc_dropped, host.burst.sent);
  std::printf("%s burst: host sent %u; the host kernel handed %llu frames to QEMU and dropped %llu in the tap's "
              "queue, %llu in its qdisc; %u echoes came back\n",
              nic.name, host.burst.sent, static_cast<unsigned long long>(to_qemu),
              static_cast<unsigned long long>(tap_dropped), static_cast<unsigned long long>(qdisc_dropped),
              host.burst.replies);
  EXPECT_THAT(out, HasSubstr("STEP echo_" + name + " rc=0"));
  EXPECT_THAT(out, HasSubstr("STEP unbind_" + name + " rc=0"));
  EXPECT_THAT(out, HasSubstr("DRIVER " + name + " after unbind: " + nic.kernel_driver));
  std::printf("%s: host pinged %u/%u, udp %u/%u, burst %u sent %u echoed; while down %u/%u; after up %u/%u; "
              "Aether echo: received %llu, echoed %llu, dropped %llu (tx full %llu), port rx drops %llu; "
              "answered arp %llu icmp %llu udp %llu\n",
              nic.name, host.pings.replies, host.pings.sent, host.datagrams.replies, host.datagrams.sent, host.burst.sent,
              host.burst.replies, host.while_down.replies, host.while_down.sent, host.after_up.replies, host.after_up.sent,
              static_cast<unsigned long long>(totals->received), static_cast<unsigned long long>(totals->echoed),
              static_cast<unsigned long long>(totals->dropped), static_cast<unsigned long long>(totals->tx_full),
              static_cast<unsigned long long>(totals->port_rx_drops), static_cast<unsigned long long>(totals->arp),
              static_cast<unsigned long long>(totals->icmp), static_cast<unsigned long long>(totals->udp));
}

TEST_F(VfioHostStackGuest, PingEchoLinkDownBurstUnbind) {
  AETHER_REQUIRE_GUEST("bookworm");
  kernel_peer::UdpEchoServer echo_server(*ns_, 7);
  ASSERT_EQ(echo_server.error(), "");

  GuestOptions options;
  options.kernel = "bookworm";
  options.cpus = 2;
  options.memory_mib = 768;
  options.files.emplace_back(AETHER_STATIC_CLI_PATH, "/usr/local/bin/aether");
  options.modules = {"vfio", "vfio_pci", "vfio_iommu_type1", "virtio_pci", "virtio_net", "e1000e"};
  options.extra_qemu_args = {
      "-netdev", fmt::format("tap,id={},ifname={},script=no,downscript=no", virtio.netdev, virtio.tap),
      "-device", fmt::format("virtio-net-pci,disable-legacy=on,iommu_platform=on,netdev={},addr=03.0,mac=52:54:00:12:34:56",
                             virtio.netdev),
      "-netdev", fmt::format("tap,id={},ifname={},script=no,downscript=no", e1000e.netdev, e1000e.tap),
      "-device", fmt::format("e1000e,netdev={},addr=04.0,mac=52:54:00:12:34:57", e1000e.netdev),
  };
  options.network_namespace_fd = ns_->fd();
  options.monitor_socket = dir_->path() + "/monitor.sock";
  options.control_socket = dir_->path() + "/control.sock";
  options.console_path = dir_->path() + "/console.log";
  options.script = guest_script;
  options.timeout = 300s;

  auto guest = std::async(std::launch::async, [&options] { return run_guest(options); });
  std::size_t console_offset = 0;
  const HostSide virtio_host = drive_echo(virtio, options, console_offset, guest);
  const HostSide e1000e_host = drive_echo(e1000e, options, console_offset, guest);
  auto run = guest.get();
  ASSERT_TRUE(run.ok()) << run.error().describe();
  ASSERT_FALSE(run->timed_out) << run->console;
  ASSERT_EQ(run->exit_code, 0) << run->console;
  const std::string& out = run->script_output;
  expect_device(virtio, out, virtio_host);
  expect_device(e1000e, out, e1000e_host);
  // Every DMA the devices made went to memory Aether mapped: the IOMMU
  // logged no fault (the kernel prints "DMAR: [DMA Write ...] Request
  // device [00:03.0] fault addr ..." for one).
  EXPECT_THAT(run->console, ::testing::Not(HasSubstr("DMAR: [DMA"))) << "the IOMMU blocked a DMA:\n" << out;
  std::printf("guest: booted in %.1f s, %lld s in all; host UDP echo server echoed %llu\n",
              run->boot_seconds.value_or(-1), static_cast<long long>(run->wall_time.count() / 1000),
              static_cast<unsigned long long>(echo_server.echoed()));
  // The evidence, for docs/vfio.md: each ping table and echo's totals.
  for (const char* marker : {"aether ping: ", "total: received", "answered: arp", "DRIVER "}) {
    for (std::size_t at = out.find(marker); at != std::string::npos; at = out.find(marker, at + 1)) {
      const std::size_t end = std::string_view(marker) == "aether ping: " ? out.find("result: ", at) : at;
      std::printf("%s\n", out.substr(at, out.find('\n', end) - at).c_str());
    }
  }
  if (HasFailure()) std::printf("--- script output ---\n%s\n", out.c_str());
}

}  // namespace
}  // namespace aether::test
