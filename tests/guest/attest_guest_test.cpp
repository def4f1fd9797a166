// The attested partition in a guest with real devices: a virtio-net at
// 00:03.0 and an Intel 82574 (e1000e) at 00:04.0 behind an emulated IOMMU,
// bound to vfio-pci in the guest, and a TPM: an swtpm this test starts on the
// host, reached from the guest over QEMU's user network (a third NIC,
// 00:06.0, host loopback at 10.0.2.2) with libtss2's swtpm TCTI.
//
// Why not `-tpmdev emulator` + tpm-tis: with the harness's -kernel/-initrd
// boot it breaks the guest's ACPI. SeaBIOS then keeps the ACPI tables and the
// TPM event log (64 KiB) in 196 KiB below the top of low RAM, QEMU assumes
// 160 KiB (acpi_data_size) when it places the initrd, and the initrd
// overwrites the tables: the kernel warns in early_ioremap, sees 1 CPU, no
// DMAR and no TPM (measured with scripts/guest/run, 1 and 2.25 GiB).
//
// The guest runs the dynamic `aether` (the static guest CLI has no attest:
// Debian ships libtss2 as shared libraries only), copied into the initramfs
// with every shared library ldd names, the dynamic loader and the TCTI
// module libtss2-tctildr dlopens for the TCTI named
// (libtss2-tcti-swtpm.so.0 here). In the guest: apply a partition, bind both
// NICs, take the policy, quote, verify (accepted, with the MAC, virtio
// feature bits and the e1000e NVM checksum read from the devices); then
// tamper inside the guest, each followed by a fresh quote that verify must
// reject naming the reason: an IRQ moved onto an Aether CPU, then the
// e1000e rebound to its kernel driver.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <random>

#include "child_process.hpp"
#include "guest_gtest.hpp"
#include "guest_vm.hpp"

namespace aether::test {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;

// Each step prints "STEP <name> rc=<status>"; verify's lines are prefixed.
constexpr const char* attest_script = R"script(
step() { name=$1; shift; "$@"; echo "STEP $name rc=$?"; }
verify() {
  aether attest verify /tmp/quote-$1.json --policy /tmp/policy.json --nonce $2 > /tmp/verify-$1.txt 2>&1
  status=$?
  sed "s/^/VERIFY $1 /" /tmp/verify-$1.txt
  return $status
}
export LD_LIBRARY_PATH=/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu
# The TPM: the host's swtpm over the third NIC (QEMU user network: 10.0.2.2 is the host's loopback).
tpm_nic=$(ls /sys/bus/pci/devices/0000:00:06.0/virtio*/net)
ip link set "$tpm_nic" up && ip addr add 10.0.2.15/24 dev "$tpm_nic"
export AETHER_TCTI=$(cat /root/tcti)
echo "TCTI $AETHER_TCTI"
step apply aether partition apply --aether-cpus 2-3
step bind_virtio aether bind 0000:00:03.0
step bind_e1000e aether bind 0000:00:04.0
step policy aether attest policy --out /tmp/policy.json
grep -oE 'virtio_[a-z_]+ [^\\"]*|e1000e_[a-z_]+ [^\\"]*|driver_read [^\\"]*' /tmp/policy.json | sed 's/^/MEASURED /'
step quote_good aether attest quote --nonce 600d01 --out /tmp/quote-good.json
verify good 600d01; echo "STEP verify_good rc=$?"
# Tamper 1: an IRQ moved onto Aether CPU 2 (the first one the kernel lets move).
for irq in /proc/irq/[0-9]*; do
  if echo 2 > "$irq/smp_affinity_list" 2>/dev/null; then echo "MOVED IRQ ${irq#/proc/irq/} to 2"; break; fi
done
step quote_irq aether attest quote --nonce 1bad01 --out /tmp/quote-irq.json
verify irq 1bad01; echo "STEP verify_irq rc=$?"
# Tamper 2: the e1000e given back to its kernel driver.
step unbind_e1000e aether unbind 0000:00:04.0
echo "DRIVER 00:04.0 $(basename "$(readlink /sys/bus/pci/devices/0000:00:04.0/driver)")"
step quote_rebound aether attest quote --nonce 1bad02 --out /tmp/quote-rebound.json
verify rebound 1bad02; echo "STEP verify_rebound rc=$?"
exit 0
)script";

// The shared objects `binary` needs, as ldd resolves them on this host,
// plus the dynamic loader.
std::set<std::string> shared_libraries_of(const std::string& binary) {
  std::set<std::string> libraries;
  const std::string command = "ldd '" + binary + "'";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return libraries;
  char line[4096];
  while (std::fgets(line, sizeof(line), pipe) != nullptr) {
    std::istringstream words(line);
    std::string word;
    while (words >> word) {
      if (word.starts_with("/")) libraries.insert(word);  // "libx.so => /path (0x..)" or "/lib64/ld-linux... (0x..)"
    }
  }
  ::pclose(pipe);
  return libraries;
}

// swtpm on host TCP ports P (commands) and P+1 (control, where the swtpm
// TCTI expects it), started as the TPM would be at power-on
// (startup-clear); stopped on destruction.
class TcpSwtpm {
 public:
  explicit TcpSwtpm(std::string directory) : directory_(std::move(directory)) {}
  ~TcpSwtpm() {
    std::ifstream pid_file(directory_ + "/swtpm.pid");
    pid_t pid = -1;
    if (pid_file >> pid && pid > 0) ::kill(pid, SIGTERM);
  }
  TcpSwtpm(const TcpSwtpm&) = delete;
  TcpSwtpm& operator=(const TcpSwtpm&) = delete;

  // Tries a few random port pairs (another test may hold one).
  [[nodiscard]] Result<void> start() {
    std::filesystem::create_directories(directory_ + "/state");
    std::mt19937 random(std::random_device{}());
    for (int attempt = 0; attempt < 8; ++attempt) {
      port_ = 20000 + static_cast<unsigned>(random() % 20000) * 2;
      auto outcome = run_process({"swtpm", "socket", "--tpm2", "--tpmstate", "dir=" + directory_ + "/state",
                                  "--server", fmt_port(port_), "--ctrl", fmt_port(port_ + 1), "--flags",
                                  "not-need-init,startup-clear", "--daemon", "--pid",
                                  "file=" + directory_ + "/swtpm.pid"},
                                 directory_ + "/swtpm.out", directory_ + "/swtpm.err", std::chrono::seconds(10));
      if (!outcome) return std::move(outcome).error();
      if (outcome->exit_status == 0) return {};
    }
    return Error{std::make_error_code(std::errc::address_in_use),
                 "swtpm did not start on any of 8 port pairs: " + read_text_file(directory_ + "/swtpm.err")};
  }
  // The TCTI as the guest names the host.
  [[nodiscard]] std::string guest_tcti() const { return "swtpm:host=10.0.2.2,port=" + std::to_string(port_); }

 private:
  static std::string fmt_port(unsigned port) { return "type=tcp,port=" + std::to_string(port) + ",bindaddr=127.0.0.1"; }
  std::string directory_;
  unsigned port_ = 0;
};

TEST(AttestGuest, QuoteVerifiedThenTamperingInsideTheGuestRejected) {
  AETHER_REQUIRE_GUEST("bookworm");
  auto directory = TemporaryDirectory::create("aether-attest-guest-");
  ASSERT_TRUE(directory) << directory.error().describe();
  TcpSwtpm swtpm(directory->path());
  auto started = swtpm.start();
  ASSERT_TRUE(started) << started.error().describe();
  {
    std::ofstream(directory->path() + "/tcti") << swtpm.guest_tcti() << "\n";
  }

  GuestOptions options;
  options.kernel = "bookworm";
  options.cpus = 4;
  options.memory_mib = 1024;
  options.files.emplace_back(directory->path() + "/tcti", "/root/tcti");
  options.extra_cmdline = "nohz_full=2-3 rcu_nocbs=2-3 quiet";
  options.files.emplace_back(AETHER_ATTEST_GUEST_CLI_PATH, "/usr/local/bin/aether");
  const auto libraries = shared_libraries_of(AETHER_ATTEST_GUEST_CLI_PATH);
  ASSERT_FALSE(libraries.empty()) << "ldd named no libraries for " << AETHER_ATTEST_GUEST_CLI_PATH;
  std::string tctildr_directory;
  for (const auto& library : libraries) {
    options.files.emplace_back(library, library);
    if (library.find("libtss2-tctildr.so") != std::string::npos) {
      tctildr_directory = std::filesystem::path(library).parent_path().string();
    }
  }
  ASSERT_FALSE(tctildr_directory.empty()) << "the guest CLI does not link libtss2-tctildr";
  // Loaded with dlopen by libtss2-tctildr for "swtpm:...", so ldd does not name it.
  const std::string tcti_module = tctildr_directory + "/libtss2-tcti-swtpm.so.0";
  options.files.emplace_back(tcti_module, tcti_module);
  options.modules = {"vfio", "vfio_pci", "vfio_iommu_type1", "virtio_pci", "virtio_net", "e1000e"};
  options.extra_qemu_args = {
      "-netdev", "user,id=user0",
      "-device", "virtio-net-pci,disable-legacy=on,iommu_platform=on,addr=03.0,netdev=user0",
      "-netdev", "user,id=user1",
      "-device", "e1000e,addr=04.0,netdev=user1",
      "-netdev", "user,id=user2",  // the TPM's path: the guest reaches the host's loopback at 10.0.2.2
      "-device", "virtio-net-pci,addr=06.0,netdev=user2",
  };
  options.script = attest_script;
  options.timeout = std::chrono::seconds(600);
  auto run = run_guest(options);
  ASSERT_TRUE(run.ok()) << run.error().describe();
  ASSERT_FALSE(run->timed_out) << run->console;
  ASSERT_EQ(run->exit_code, 0) << run->console;
  const std::string& out = run->script_output;

  EXPECT_THAT(out, HasSubstr("TCTI swtpm:host=10.0.2.2,port=")) << out;
  for (const char* step : {"apply", "bind_virtio", "bind_e1000e", "policy", "quote_good", "quote_irq",
                           "unbind_e1000e", "quote_rebound"}) {
    EXPECT_THAT(out, HasSubstr(std::string("STEP ") + step + " rc=0")) << out;
  }
  // What the drivers read, read from the real devices through VFIO.
  EXPECT_THAT(out, HasSubstr("MEASURED driver_read virtio-net")) << out;
  EXPECT_THAT(out, ContainsRegex("MEASURED virtio_device_features 0x[0-9a-f]{16}")) << out;
  EXPECT_THAT(out, HasSubstr("MEASURED virtio_mac 52:54:00:12:34:56")) << out;
  EXPECT_THAT(out, HasSubstr("MEASURED driver_read e1000e")) << out;
  EXPECT_THAT(out, HasSubstr("MEASURED e1000e_mac 52:54:00:12:34:57 valid")) << out;
  EXPECT_THAT(out, HasSubstr("MEASURED e1000e_nvm_sum 0xbaba valid")) << out;
  // Untampered: accepted.
  EXPECT_THAT(out, HasSubstr("VERIFY good accepted")) << out;
  EXPECT_THAT(out, HasSubstr("STEP verify_good rc=0")) << out;
  // An IRQ on an Aether CPU: rejected, naming the IRQ table.
  EXPECT_THAT(out, ContainsRegex("MOVED IRQ [0-9]+ to 2")) << out;
  EXPECT_THAT(out, ContainsRegex("VERIFY irq +partition.irqs: differs from the policy: measured 'irq [0-9]+ 2'")) << out;
  EXPECT_THAT(out, HasSubstr("STEP verify_irq rc=1")) << out;
  // The e1000e back with its kernel driver: rejected, naming the device.
  EXPECT_THAT(out, HasSubstr("DRIVER 00:04.0 e1000e")) << out;
  EXPECT_THAT(out, ContainsRegex("VERIFY rebound +device.0000:00:04.0: in the policy but not measured")) << out;
  EXPECT_THAT(out, HasSubstr("STEP verify_rebound rc=1")) << out;
}

}  // namespace
}  // namespace aether::test
