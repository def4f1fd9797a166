// The attested partition in a guest with real devices and the guest's own
// TPM: a virtio-net at 00:03.0 and an Intel 82574 (e1000e) at 00:04.0 behind
// an emulated IOMMU, bound to vfio-pci in the guest, and QEMU's tpm-tis on an
// swtpm this test starts (`-tpmdev emulator`: QEMU talks to swtpm over its
// control socket); the guest's aether quotes through the kernel's TPM
// driver and resource manager, /dev/tpmrm0 (libtss2's device TCTI).
//
// The guest boots with OVMF, not the harness's default SeaBIOS: SeaBIOS
// keeps the ACPI tables and the TPM's event log (64 KiB) in the top 196 KiB
// of low RAM while QEMU 7.2 places the -initrd below the top 160 KiB
// (acpi_data_size), so the initrd overwrites the tables and the kernel sees
// 1 CPU, no DMAR and no TPM (docs/attestation.md, "The guest flow").
//
// The guest runs the dynamic `aether` (the static guest CLI has no attest:
// Debian ships libtss2 as shared libraries only), copied into the initramfs
// with every shared library ldd names, the dynamic loader and the TCTI
// module libtss2-tctildr dlopens for "device:" (libtss2-tcti-device.so.0).
// In the guest: apply a partition, bind both NICs, take the policy, quote,
// verify (accepted, with the MAC, virtio feature bits and the e1000e NVM
// checksum read from the devices); then tamper inside the guest, each
// followed by a fresh quote that verify must reject naming the reason: an
// IRQ moved onto an Aether CPU, then the e1000e rebound to its kernel
// driver; last, the TPM driver unbound, so that there is no /dev/tpm*, and
// quote must say the machine has no TPM. The quotes and the policy also come
// out on the console, and the host verifies them too (the remote verifier).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "aether/attest/credential.hpp"
#include "aether/attest/quote.hpp"
#include "aether/attest/swtpm_process.hpp"
#include "aether/attest/tpm_session.hpp"
#include "child_process.hpp"
#include "guest_gtest.hpp"
#include "guest_vm.hpp"

namespace aether::test {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;

// Each step prints "STEP <name> rc=<status>"; verify's lines are prefixed.
// Files the host verifies too come out as one line each, "FILE <name> <json>".
constexpr const char* attest_script = R"script(
step() { name=$1; shift; "$@"; echo "STEP $name rc=$?"; }
verify() {
  aether attest verify /tmp/quote-$1.json --policy /tmp/policy.json --nonce $2 > /tmp/verify-$1.txt 2>&1
  status=$?
  sed "s/^/VERIFY $1 /" /tmp/verify-$1.txt
  return $status
}
export LD_LIBRARY_PATH=/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu
# The guest's own TPM: QEMU's tpm-tis, found by the kernel through ACPI; aether's default TCTI is device:/dev/tpmrm0.
echo "TPM NODES $(ls /dev/tpm* | tr '\n' ' ')"
echo "TPM DRIVER $(basename "$(readlink /sys/class/tpm/tpm0/device/driver)") $(basename "$(readlink -f /sys/class/tpm/tpm0/device)")"
echo "CPUS $(cat /sys/devices/system/cpu/online) IOMMU $(ls /sys/class/iommu | tr '\n' ' ')"
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
for file in policy quote-good quote-irq quote-rebound; do echo "FILE $file $(tr -d '\n' < /tmp/$file.json)"; done
# Last: no TPM at all. The TPM driver let go of the device: /dev/tpm0 and /dev/tpmrm0 go away.
tpm_device=$(readlink -f /sys/class/tpm/tpm0/device)
echo "${tpm_device##*/}" > "$tpm_device/driver/unbind"; echo "STEP unbind_tpm rc=$?"
echo "TPM NODES LEFT [$(ls /dev/tpm* 2>/dev/null | tr '\n' ' ')]"
aether attest quote --nonce 0bad03 --out /tmp/quote-none.json > /tmp/quote-none.txt 2>&1; echo "STEP quote_without_tpm rc=$?"
sed 's/^/NOTPM /' /tmp/quote-none.txt
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

// An swtpm daemon on a TPM state directory, stopped (SIGTERM, then waited
// for) on destruction or stop(). The state outlives it: a second swtpm on
// the same directory is the same TPM (same endorsement seed, so the same EK
// and the same endorsement-hierarchy AK).
class SwtpmDaemon {
 public:
  explicit SwtpmDaemon(std::string directory) : directory_(std::move(directory)) {}
  ~SwtpmDaemon() { stop(); }
  SwtpmDaemon(const SwtpmDaemon&) = delete;
  SwtpmDaemon& operator=(const SwtpmDaemon&) = delete;

  // `channels`: the swtpm arguments that say where it listens.
  [[nodiscard]] Result<void> start(const std::string& state_directory, std::vector<std::string> channels) {
    std::filesystem::create_directories(state_directory);
    std::vector<std::string> arguments{"swtpm", "socket", "--tpm2", "--tpmstate", "dir=" + state_directory};
    arguments.insert(arguments.end(), channels.begin(), channels.end());
    arguments.insert(arguments.end(), {"--daemon", "--pid", "file=" + directory_ + "/swtpm.pid", "--log",
                                       "file=" + directory_ + "/swtpm.log"});
    auto outcome = run_process(arguments, directory_ + "/swtpm.out", directory_ + "/swtpm.err", std::chrono::seconds(10));
    if (!outcome) return std::move(outcome).error();
    if (outcome->exit_status != 0) {
      return Error{std::make_error_code(std::errc::io_error),
                   "swtpm did not start: " + read_text_file(directory_ + "/swtpm.err")};
    }
    std::ifstream(directory_ + "/swtpm.pid") >> pid_;
    return {};
  }
  // QEMU's -tpmdev emulator ends swtpm when it exits; this makes sure.
  // The daemon is not our child, so its pid may have gone and been reused:
  // only a process still named swtpm is signalled.
  void stop() {
    if (pid_ <= 0) return;
    const auto running = [this] { return read_text_file("/proc/" + std::to_string(pid_) + "/comm") == "swtpm\n"; };
    if (running()) ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100 && running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    pid_ = -1;
  }

 private:
  std::string directory_;
  pid_t pid_ = -1;
};

// The files the guest printed as "FILE <name> <content>" lines: name -> content.
std::map<std::string, std::string> guest_files(const std::string& text) {
  std::map<std::string, std::string> files;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.starts_with("FILE ")) continue;
    const auto space = line.find(' ', 5);
    if (space != std::string::npos) files[line.substr(5, space - 5)] = line.substr(space + 1);
  }
  return files;
}

struct HostVerdict {
  int exit_status = -1;
  std::string output;
};

// `aether attest verify` on the host (the same binary; verify needs no TPM).
HostVerdict verify_on_host(const std::string& directory, const std::string& quote, const std::string& nonce) {
  const std::string out = directory + "/verify-" + quote + ".txt";
  auto outcome = run_process({AETHER_ATTEST_GUEST_CLI_PATH, "attest", "verify", directory + "/" + quote + ".json",
                              "--policy", directory + "/policy.json", "--nonce", nonce},
                             out, out, std::chrono::seconds(30));
  if (!outcome) return {-1, outcome.error().describe()};
  return {outcome->exit_status, read_text_file(out)};
}

TEST(AttestGuest, QuoteVerifiedThenTamperingInsideTheGuestRejected) {
  AETHER_REQUIRE_GUEST("bookworm");
  auto directory = TemporaryDirectory::create("aether-attest-guest-");
  ASSERT_TRUE(directory) << directory.error().describe();
  const std::string& work = directory->path();
  const std::string tpm_state = work + "/tpm-state";
  const std::string tpm_control = work + "/swtpm-ctrl.sock";
  // The guest's TPM: swtpm reached by QEMU on its control socket only (QEMU
  // hands it the command channel); the guest's firmware and kernel start it.
  SwtpmDaemon guest_tpm(work);
  auto started = guest_tpm.start(tpm_state, {"--ctrl", "type=unixio,path=" + tpm_control});
  ASSERT_TRUE(started) << started.error().describe();

  GuestOptions options;
  options.kernel = "bookworm";
  options.firmware = GuestFirmware::ovmf;  // see the top of this file
  options.cpus = 4;
  options.memory_mib = 1024;
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
  // Loaded with dlopen by libtss2-tctildr for "device:...", so ldd does not name it.
  const std::string tcti_module = tctildr_directory + "/libtss2-tcti-device.so.0";
  options.files.emplace_back(tcti_module, tcti_module);
  options.modules = {"vfio", "vfio_pci", "vfio_iommu_type1", "virtio_pci", "virtio_net", "e1000e"};
  options.extra_qemu_args = {
      // romfile= (none): OVMF would otherwise start the NICs' iPXE UEFI drivers, for nothing.
      "-netdev", "user,id=user0",
      "-device", "virtio-net-pci,disable-legacy=on,iommu_platform=on,addr=03.0,netdev=user0,romfile=",
      "-netdev", "user,id=user1",
      "-device", "e1000e,addr=04.0,netdev=user1,romfile=",
      "-chardev", "socket,id=chrtpm,path=" + tpm_control,
      "-tpmdev", "emulator,id=tpm0,chardev=chrtpm",
      "-device", "tpm-tis,tpmdev=tpm0",
  };
  options.script = attest_script;
  options.timeout = std::chrono::seconds(600);
  auto run = run_guest(options);
  ASSERT_TRUE(run.ok()) << run.error().describe();
  ASSERT_FALSE(run->timed_out) << run->console;
  ASSERT_EQ(run->exit_code, 0) << run->console;
  const std::string& out = run->script_output;
  // For the record (docs/attestation.md): the boot with OVMF, and the guest's verdicts.
  std::printf("guest: script started at uptime %.1f s, %.1f s wall in all\n", run->boot_seconds.value_or(-1.0),
              static_cast<double>(run->wall_time.count()) / 1000.0);
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("FILE ")) std::printf("  %s\n", line.c_str());
  }

  // The guest's own TPM, found by the kernel, on a guest with all its CPUs and its IOMMU.
  EXPECT_THAT(out, HasSubstr("TPM NODES /dev/tpm0 /dev/tpmrm0")) << out;
  EXPECT_THAT(out, HasSubstr("TPM DRIVER tpm_tis MSFT0101:00")) << out;
  EXPECT_THAT(out, HasSubstr("CPUS 0-3 IOMMU dmar0")) << out;
  for (const char* step : {"apply", "bind_virtio", "bind_e1000e", "policy", "quote_good", "quote_irq",
                           "unbind_e1000e", "quote_rebound", "unbind_tpm"}) {
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
  // No TPM left in the guest: the quote names what is missing.
  EXPECT_THAT(out, HasSubstr("TPM NODES LEFT []")) << out;
  EXPECT_THAT(out, HasSubstr("STEP quote_without_tpm rc=1")) << out;
  EXPECT_THAT(out, HasSubstr("NOTPM aether attest quote: no TPM in this machine: TCTI 'device:/dev/tpmrm0' names "
                             "/dev/tpmrm0, which does not exist, and there is no /dev/tpm* at all")) << out;

  // The host as the remote verifier of the guest's quotes and policy.
  const auto files = guest_files(out);
  for (const char* name : {"policy", "quote-good", "quote-irq", "quote-rebound"}) {
    ASSERT_TRUE(files.contains(name)) << "the guest did not print " << name << ": " << out;
    std::ofstream(work + "/" + name + ".json") << files.at(name);
  }
  const auto good = verify_on_host(work, "quote-good", "600d01");
  EXPECT_EQ(good.exit_status, 0) << good.output;
  EXPECT_THAT(good.output, HasSubstr("accepted")) << good.output;
  const auto irq = verify_on_host(work, "quote-irq", "1bad01");
  EXPECT_EQ(irq.exit_status, 1) << irq.output;
  EXPECT_THAT(irq.output, HasSubstr("partition.irqs: differs from the policy")) << irq.output;
  const auto rebound = verify_on_host(work, "quote-rebound", "1bad02");
  EXPECT_EQ(rebound.exit_status, 1) << rebound.output;
  EXPECT_THAT(rebound.output, HasSubstr("device.0000:00:04.0: in the policy but not measured")) << rebound.output;
  const auto stale = verify_on_host(work, "quote-good", "600d02");  // the verifier asked for another nonce
  EXPECT_EQ(stale.exit_status, 1) << stale.output;
  EXPECT_THAT(stale.output, HasSubstr("nonce:")) << stale.output;

  // The AK that signed the guest's quotes is bound to the EK of the guest's
  // TPM (credential activation, include/aether/attest/credential.hpp). No
  // command carries a challenge into a running guest yet, so this runs after
  // the guest powered off, on the same TPM: a new swtpm on the guest TPM's
  // state (same endorsement seed: same EK, same AK); the verifier makes the
  // credential on a TPM of its own.
  guest_tpm.stop();
  const std::string again = work + "/again";
  std::filesystem::create_directories(again);
  SwtpmDaemon same_tpm(again);
  const std::string socket = again + "/swtpm.sock";
  auto restarted = same_tpm.start(tpm_state, {"--server", "type=unixio,path=" + socket, "--ctrl",
                                              "type=unixio,path=" + socket + ".ctrl", "--flags",
                                              "not-need-init,startup-clear"});
  ASSERT_TRUE(restarted) << restarted.error().describe();
  auto bundle = attest::read_bundle_file(work + "/quote-good.json");
  ASSERT_TRUE(bundle) << bundle.error().describe();
  auto attester = attest::TpmSession::open({.tcti = "swtpm:path=" + socket});
  ASSERT_TRUE(attester) << attester.error().describe();
  EXPECT_EQ(attester->attestation_key(), bundle->attestation_key) << "the guest's quote is not signed by its TPM's AK";
  auto endorsement_key = attester->endorsement_key();
  ASSERT_TRUE(endorsement_key) << endorsement_key.error().describe();
  auto verifier_swtpm = attest::SwtpmProcess::start();
  ASSERT_TRUE(verifier_swtpm) << verifier_swtpm.error().describe();
  auto verifier = attest::TpmSession::open({.tcti = verifier_swtpm->tcti()});
  ASSERT_TRUE(verifier) << verifier.error().describe();
  auto challenge = attest::challenge_attestation_key(*verifier, *endorsement_key, bundle->attestation_key);
  ASSERT_TRUE(challenge) << challenge.error().describe();
  auto answer = attester->activate_credential(challenge->challenge);
  ASSERT_TRUE(answer) << answer.error().describe();
  auto bound = attest::check_activation(*challenge, *answer);
  EXPECT_TRUE(bound) << bound.error().describe();
}

}  // namespace
}  // namespace aether::test
