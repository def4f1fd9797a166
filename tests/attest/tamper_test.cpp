// The tamper suite: a trusted state is measured into a policy, then one
// thing is changed, quoted with a real (software) TPM and verified. Every
// case must be rejected, and for the reason expected.
//
// What is tampered where (docs/attestation.md): the binary and the config are
// real files; kernel and device state (cmdline, CPU lists, cpusets, IRQ
// affinities, RT throttling, workqueue mask, idle states, IOMMU, PCI
// devices) cannot be changed safely on a shared host, so those cases change
// a fake sysfs/procfs tree (FakeAttestHost) that the same readers parse. The
// quote, log, nonce and key cases tamper with real TPM output.
#include <filesystem>
#include <fstream>
#include <functional>

#include <gtest/gtest.h>

#include "../unit/attest/fake_attest_host.hpp"
#include "aether/attest/measurements.hpp"
#include "aether/attest/verify.hpp"
#include "swtpm_fixture.hpp"

namespace aether::attest::test {
namespace {

namespace fs = std::filesystem;

const std::vector<std::uint8_t> nonce{0x5e, 0xed, 0x01, 0x02};

class Tamper : public SwtpmTest {
 protected:
  void SetUp() override {
    SwtpmTest::SetUp();
    host_ = std::make_unique<FakeAttestHost>();
    host_->write("aether.conf", "cpus = 2-3\n");
    binary_ = host_->root() / "aether";
    fs::copy_file(AETHER_CLI_PATH, binary_);
    tpm_.emplace(open());
    auto log = measure_host(options());
    ASSERT_TRUE(log) << log.error().describe();
    policy_ = policy_from_log(*log, tpm_->attestation_key());
  }

  MeasureOptions options() const {
    MeasureOptions measure;
    measure.roots = host_->roots();
    measure.binary = binary_;
    measure.config = host_->root() / "aether.conf";
    measure.driver_view_reader = host_->driver_view_reader();
    return measure;
  }

  // Measures the (tampered) fake host and quotes it.
  QuoteBundle quote_host() {
    auto log = measure_host(options());
    EXPECT_TRUE(log) << log.error().describe();
    auto bundle = quote_log(*tpm_, log ? *log : EventLog{}, nonce);
    EXPECT_TRUE(bundle) << bundle.error().describe();
    return bundle ? *bundle : QuoteBundle{};
  }

  // Rejected, and one failure starts with `reason`.
  void expect_rejected(const QuoteBundle& bundle, std::string_view reason,
                       std::span<const std::uint8_t> expected_nonce = nonce) {
    const VerifyReport report = verify_bundle(bundle, expected_nonce, policy_);
    ASSERT_FALSE(report.accepted()) << "FALSE ACCEPT, expected: " << reason;
    bool named = false;
    for (const auto& failure : report.failures) named = named || failure.rfind(reason, 0) == 0;
    EXPECT_TRUE(named) << "expected a failure starting with '" << reason << "', got "
                       << ::testing::PrintToString(report.failures);
  }

  std::unique_ptr<FakeAttestHost> host_;
  fs::path binary_;
  std::optional<TpmSession> tpm_;
  Policy policy_;
};

TEST_F(Tamper, UntamperedHostIsAccepted) {
  const VerifyReport report = verify_bundle(quote_host(), nonce, policy_);
  EXPECT_TRUE(report.accepted()) << ::testing::PrintToString(report.failures);
}

// --- Aether's own files (real files) ---
TEST_F(Tamper, OtherBinary) {
  std::ofstream(binary_, std::ios::app) << '\0';
  expect_rejected(quote_host(), "aether.binary:");
}

TEST_F(Tamper, OtherConfig) {
  host_->write("aether.conf", "cpus = 1-3\n");
  expect_rejected(quote_host(), "aether.config:");
}

// --- the partition (fake tree) ---
TEST_F(Tamper, KernelCommandLineWithoutNohzFull) {
  host_->write("proc/cmdline", "BOOT_IMAGE=/boot/vmlinuz-6.1.0-28-amd64 root=/dev/vda ro isolcpus=2-3\n");
  expect_rejected(quote_host(), "partition.cmdline:");
}

TEST_F(Tamper, NohzFullCpusChanged) {
  host_->write("sys/devices/system/cpu/nohz_full", "3\n");
  expect_rejected(quote_host(), "partition.cpus:");
}

TEST_F(Tamper, CpusetPartitionChanged) {
  host_->write("sys/fs/cgroup/aether/cpuset.cpus.effective", "3\n");
  expect_rejected(quote_host(), "partition.cpuset:");
}

TEST_F(Tamper, CpusetPartitionNoLongerIsolated) {
  host_->write("sys/fs/cgroup/aether/cpuset.cpus.partition", "member\n");
  expect_rejected(quote_host(), "partition.cpuset:");
}

TEST_F(Tamper, IrqMovedOntoAnAetherCpu) {
  host_->write("proc/irq/24/smp_affinity_list", "2\n");
  expect_rejected(quote_host(), "partition.irqs:");
}

TEST_F(Tamper, RtThrottlingTurnedBackOn) {
  host_->write("proc/sys/kernel/sched_rt_runtime_us", "950000\n");
  expect_rejected(quote_host(), "partition.rt:");
}

TEST_F(Tamper, WorkqueuesAllowedOnAetherCpus) {
  host_->write("sys/devices/virtual/workqueue/cpumask", "f\n");
  expect_rejected(quote_host(), "partition.workqueue:");
}

TEST_F(Tamper, IdleStateSettingChanged) {
  host_->write("sys/devices/system/cpu/cpu2/cpuidle/state2/disable", "1\n");
  expect_rejected(quote_host(), "partition.cpuidle:");
}

// --- the IOMMU and the passthrough device (fake tree) ---
TEST_F(Tamper, IommuOff) {
  fs::remove_all(host_->root() / "sys/class/iommu");
  expect_rejected(quote_host(), "iommu:");
}

TEST_F(Tamper, IommuGroupInPassthroughMode) {
  host_->write("sys/kernel/iommu_groups/3/type", "identity\n");
  expect_rejected(quote_host(), "device.0000:00:03.0:");
}

TEST_F(Tamper, DeviceSwappedForAnE1000e) {
  host_->add_device("0000:00:03.0", make_config_space(0x8086, 0x10d3, 0x8086, 0x0000, 5), "vfio-pci", -1);
  expect_rejected(quote_host(), "device.0000:00:03.0:");
}

TEST_F(Tamper, OtherSubsystemId) {
  auto config = make_config_space(0x1af4, 0x1041, 0x1af4, 0x1101, 3);
  host_->write_bytes("sys/bus/pci/devices/0000:00:03.0/config", config);
  expect_rejected(quote_host(), "device.0000:00:03.0:");
}

TEST_F(Tamper, OtherSubsystemIdInSysfsOnly) {
  host_->write("sys/bus/pci/devices/0000:00:03.0/subsystem_device", "0x1101\n");
  expect_rejected(quote_host(), "device.0000:00:03.0:");
}

TEST_F(Tamper, MsixTableResized) {
  host_->write_bytes("sys/bus/pci/devices/0000:00:03.0/config", make_config_space(0x1af4, 0x1041, 0x1af4, 0x1100, 9));
  expect_rejected(quote_host(), "device.0000:00:03.0:");
}

TEST_F(Tamper, BarResized) {
  host_->write("sys/bus/pci/devices/0000:00:03.0/resource",
               "0x00000000fe000000 0x00000000fe001fff 0x0000000000040200\n");
  expect_rejected(quote_host(), "device.0000:00:03.0:");
}

// What the driver reads from the device (driver_view.hpp): the fake tree's
// device answers through FakeAttestHost::driver_views; the real reads run in
// the guest test (tests/guest/attest_guest_test.cpp).
TEST_F(Tamper, OtherMac) {
  std::get<VirtioNetView>(host_->driver_views["0000:00:03.0"].reads).mac = MacAddress{0x52, 0x54, 0x00, 0x12, 0x34, 0x99};
  expect_rejected(quote_host(), "device.0000:00:03.0: differs from the policy: measured 'virtio_mac 52:54:00:12:34:99'");
}

TEST_F(Tamper, OtherVirtioFeatureBits) {
  std::get<VirtioNetView>(host_->driver_views["0000:00:03.0"].reads).device_features &= ~(std::uint64_t{1} << 33);
  expect_rejected(quote_host(), "device.0000:00:03.0: differs from the policy: measured 'virtio_device_features");
}

TEST_F(Tamper, DeviceRegistersUnreadable) {
  host_->driver_views["0000:00:03.0"] = DriverView{{}, "cannot open /dev/vfio/3: busy"};
  expect_rejected(quote_host(), "device.0000:00:03.0: differs from the policy: measured 'driver_read unavailable");
}

TEST_F(Tamper, DeviceReboundToItsKernelDriver) {
  host_->bind("0000:00:03.0", "virtio-pci");
  expect_rejected(quote_host(), "device.0000:00:03.0: in the policy but not measured");
}

TEST_F(Tamper, SecondDeviceJoinsTheIommuGroup) {
  host_->add_device("0000:00:03.1", make_config_space(0x8086, 0x10d3, 0x8086, 0, 5), "e1000e", 3);
  expect_rejected(quote_host(), "device.0000:00:03.0:");
}

TEST_F(Tamper, UnexpectedPassthroughDevice) {
  host_->add_device("0000:00:04.0", make_config_space(0x8086, 0x10d3, 0x8086, 0, 5), "vfio-pci", 4);
  expect_rejected(quote_host(), "device.0000:00:04.0: not in the policy");
}

// --- freshness, the log, the key (real TPM output changed) ---
TEST_F(Tamper, StaleNonce) {
  const std::vector<std::uint8_t> fresh{0x99, 0x98};
  expect_rejected(quote_host(), "nonce:", fresh);
}

TEST_F(Tamper, ReplayedQuoteWithTheFilesNonceRewritten) {
  QuoteBundle bundle = quote_host();
  const std::vector<std::uint8_t> fresh{0x99, 0x98};
  bundle.nonce = fresh;  // the file claims the new challenge; the signed bytes do not
  expect_rejected(bundle, "nonce:", fresh);
}

TEST_F(Tamper, ReplayedOldQuoteOfAGoodStateAfterDrift) {
  const QuoteBundle old_good = quote_host();
  host_->write("proc/irq/24/smp_affinity_list", "2\n");
  const std::vector<std::uint8_t> fresh{0x42};
  expect_rejected(old_good, "nonce:", fresh);  // the old quote passes everything but freshness
}

TEST_F(Tamper, EditedLogContent) {
  QuoteBundle bundle = quote_host();
  bundle.log.events[5].data = policy_.measurements.at(bundle.log.events[5].name) + "irq 99 0\n";
  expect_rejected(bundle, "log: edited log");
}

TEST_F(Tamper, EditedLogWithRecomputedDigest) {
  // The quoted host drifted (IRQ moved); the attacker rewrites that event to
  // the golden text with a matching digest: only the replay catches it.
  host_->write("proc/irq/24/smp_affinity_list", "2\n");
  QuoteBundle bundle = quote_host();
  for (auto& event : bundle.log.events) {
    event = make_event(event.name, policy_.measurements.at(event.name));
  }
  expect_rejected(bundle, "pcr: the log does not replay");
}

TEST_F(Tamper, EventDroppedFromTheLog) {
  QuoteBundle bundle = quote_host();
  bundle.log.events.erase(bundle.log.events.begin() + 6);
  expect_rejected(bundle, "pcr: the log does not replay");
}

TEST_F(Tamper, PcrExtendedOutsideAether) {
  auto log = measure_host(options());
  ASSERT_TRUE(log);
  ASSERT_TRUE(tpm_->reset_pcr(aether_pcr));
  for (const auto& event : log->events) ASSERT_TRUE(tpm_->extend_pcr(aether_pcr, event.digest));
  ASSERT_TRUE(tpm_->extend_pcr(aether_pcr, sha256("something else")));  // not in Aether's log
  auto output = tpm_->quote(aether_pcr, nonce);
  ASSERT_TRUE(output) << output.error().describe();
  QuoteBundle bundle{nonce, output->quoted, output->signature_r, output->signature_s, tpm_->attestation_key(), *log};
  expect_rejected(bundle, "pcr: the log does not replay");
}

TEST_F(Tamper, QuoteFromAnotherTpmWithItsOwnKey) {
  auto other = SwtpmProcess::start();
  ASSERT_TRUE(other) << other.error().describe();
  auto other_tpm = TpmSession::open(TpmOptions{other->tcti(), true, false});
  ASSERT_TRUE(other_tpm) << other_tpm.error().describe();
  auto log = measure_host(options());
  ASSERT_TRUE(log);
  auto bundle = quote_log(*other_tpm, *log, nonce);
  ASSERT_TRUE(bundle);
  expect_rejected(*bundle, "attestation key:");
}

TEST_F(Tamper, KeyInTheFileSwappedForTheEnrolledOne) {
  // Signed by another TPM, but the file claims the enrolled AK.
  auto other = SwtpmProcess::start();
  ASSERT_TRUE(other);
  auto other_tpm = TpmSession::open(TpmOptions{other->tcti(), true, false});
  ASSERT_TRUE(other_tpm);
  auto log = measure_host(options());
  ASSERT_TRUE(log);
  auto bundle = quote_log(*other_tpm, *log, nonce);
  ASSERT_TRUE(bundle);
  bundle->attestation_key = tpm_->attestation_key();
  expect_rejected(*bundle, "signature:");
}

TEST_F(Tamper, SignedBytesChanged) {
  QuoteBundle bundle = quote_host();
  bundle.quoted.back() ^= 0x01;  // last byte of the PCR digest
  expect_rejected(bundle, "signature:");
}

TEST_F(Tamper, SignatureChanged) {
  QuoteBundle bundle = quote_host();
  bundle.signature_s[7] ^= 0x80;
  expect_rejected(bundle, "signature:");
}

TEST_F(Tamper, NotAQuoteAtAll) {
  QuoteBundle bundle = quote_host();
  bundle.quoted.resize(10);
  expect_rejected(bundle, "quote:");
}

}  // namespace
}  // namespace aether::attest::test
