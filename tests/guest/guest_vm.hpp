// Guest harness: boots a real Debian kernel under QEMU and runs a shell
// script (and Aether binaries copied in) inside it.
//
// This machine's own kernel cannot be rebooted with new parameters and its
// IRQs must not be moved by tests, so partition and VFIO tests prove their
// behaviour in a guest instead: QEMU TCG, q35 with an emulated Intel IOMMU,
// the kernel and modules of Debian's linux-image package, and an initramfs
// with busybox. The work is done by scripts/guest/run (also usable by hand,
// see docs/guest-harness.md); the functions here prepare its
// arguments, enforces the timeout and parses what the guest reported.
//
// Typical use in a GoogleTest (see guest_gtest.hpp for the skip policy):
//   GuestOptions options;
//   options.cpus = 4;
//   options.extra_cmdline = "nohz_full=2-3 rcu_nocbs=2-3";
//   options.files.emplace_back(AETHER_CLI_PATH, "/usr/local/bin/aether");
//   options.script = "aether partition status --json";
//   auto run = run_guest(options);
//   ASSERT_TRUE(run.ok()) << run.error().describe();
//   EXPECT_EQ(run->exit_code, 0) << run->console;
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aether/core/result.hpp"

namespace aether::test {

// The guest's firmware (scripts/guest/run --firmware).
enum class GuestFirmware {
  // SeaBIOS, booting the ELF vmlinux through its PVH entry point: the
  // fastest boot. Not with a TPM device: SeaBIOS then keeps more ACPI data
  // (the TPM's 64 KiB event log) at the top of RAM than QEMU 7.2 leaves free
  // above the -initrd, and the initrd overwrites the ACPI tables.
  seabios,
  // OVMF (UEFI, Debian package ovmf), booting the EFI-stub vmlinuz: it
  // allocates the ACPI tables and loads the initrd itself. About 18 s more
  // wall per boot under TCG (23 s -> 41 s, 4 vCPUs, load average 19).
  ovmf,
};

struct GuestOptions {
  // Debian suite whose kernel boots: "bookworm" (6.1), "bookworm-backports"
  // (6.12) or "sid" (7.x). Fetched into the cache on first use. "iommufd":
  // the harness's own 6.12 build with IOMMUFD and VFIO_DEVICE_CDEV and every
  // driver built in (scripts/guest/build-kernel-iommufd; opt-in, see
  // vfio_cdev_guest_test.cpp); `modules` must then name built-in drivers only.
  std::string kernel = "bookworm";
  unsigned cpus = 2;
  unsigned memory_mib = 512;
  // Appended to "console=ttyS0 panic=-1 no_timer_check [intel_iommu=on]".
  std::string extra_cmdline;
  // Adds -device intel-iommu (DMA remapping and interrupt remapping).
  bool iommu = true;
  GuestFirmware firmware = GuestFirmware::seabios;
  // More QEMU arguments, one per element: {"-device", "virtio-net-pci,..."}.
  std::vector<std::string> extra_qemu_args;
  // Host path -> absolute guest path; files or whole directories.
  std::vector<std::pair<std::string, std::string>> files;
  // Kernel modules loaded (with their dependencies, in order) before the
  // script, e.g. {"vfio_pci", "virtio_pci"}. Parameters come from
  // extra_cmdline as module.param=value.
  std::vector<std::string> modules;
  // Body of the shell script run by /bin/sh in the guest; its exit status
  // becomes GuestRun::exit_code.
  std::string script;
  // Run QEMU inside this network namespace (an fd such as
  // net::NetworkNamespace::fd(); the child process setns()es to it before
  // exec), so that `-netdev tap,ifname=TAP,script=no,downscript=no` attaches
  // to tap devices the test made there. -1: the caller's namespace. The
  // kernel is fetched before, in the caller's namespace.
  int network_namespace_fd = -1;
  // Not empty: QEMU's human monitor listens on this unix socket while the
  // guest runs (see guest_monitor_command), e.g. to `set_link NETDEV off`.
  std::string monitor_socket;
  // Not empty: the guest's second serial port, /dev/ttyS1, is connected to
  // this unix socket (QEMU listens); lines the test writes with
  // write_guest_control() are what the script reads there. Open it once at
  // the top of the script (`exec 3</dev/ttyS1`) so nothing written before a
  // read is lost when the port is opened.
  std::string control_socket;
  // Not empty: the serial console is written to this file as it arrives, so
  // that a test can follow the guest's progress while run_guest() blocks
  // (wait_for_console_line).
  std::string console_path;
  // Wall-clock limit for the boot and the script (not for the first
  // download of a kernel, which guest_available() or run_guest() do first).
  std::chrono::seconds timeout{120};
};

struct GuestRun {
  int exit_code = -1;            // the script's status; -1 when timed_out
  std::string console;           // the whole serial console, '\r' removed
  bool timed_out = false;        // QEMU was killed at GuestOptions::timeout
  std::string script_output;     // console lines between the script's start and exit markers,
                                 // without the kernel's own "[ seconds] ..." lines
  std::optional<double> boot_seconds;   // guest uptime when the script started
  std::chrono::milliseconds wall_time{0};  // host time from QEMU start to its end
};

// Boots a guest as described and waits for the script to finish.
// Errors: the harness could not prepare the kernel or initramfs (message
// carries the script's stderr), could not start, or the guest stopped
// without reporting the script's status (panic, QEMU failure; the message
// carries the end of the console). A timeout is not an error: it returns a
// GuestRun with timed_out set and the console so far.
[[nodiscard]] Result<GuestRun> run_guest(const GuestOptions& options);

// Whether guests of this kernel can boot here: QEMU, busybox-static and
// cpio installed, and the kernel fetched (downloading it if missing, which
// needs Debian's archive) and its base initramfs built. The error says
// what is missing and how to install it.
[[nodiscard]] Result<void> guest_available(std::string_view kernel = "bookworm");

// True when an unavailable guest must fail a test instead of skipping it:
// in CI (CI set in the environment) or when AETHER_GUEST_REQUIRED=1.
[[nodiscard]] bool guest_required();

// What the guest printed about the script, parsed from the console.
struct GuestConsoleReport {
  std::optional<int> exit_code;       // from the last "AETHER-GUEST-EXIT=<n>" line
  std::optional<double> boot_seconds; // from "AETHER-GUEST-SCRIPT-BEGIN uptime=<s>"
  std::string script_output;          // lines between those two markers, kernel lines left out
};
[[nodiscard]] GuestConsoleReport parse_guest_console(std::string_view console);

// Sends one command to the QEMU human monitor listening on `socket_path`
// (GuestOptions::monitor_socket) and returns what it answered (often
// nothing). Waits up to `timeout` for QEMU to listen and answer. Errors:
// no monitor there, or no prompt in time.
[[nodiscard]] Result<std::string> guest_monitor_command(const std::string& socket_path, const std::string& command,
                                                        std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Writes `line` and a newline to the guest's /dev/ttyS1 through
// GuestOptions::control_socket, waiting up to `timeout` for QEMU to listen.
[[nodiscard]] Result<void> write_guest_control(const std::string& socket_path, const std::string& line,
                                               std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Waits until the file at `console_path` (GuestOptions::console_path) has a
// line containing `text` that starts at or after byte `from`, and returns
// the offset just past that line; nullopt after `timeout`. The offset lets a
// test wait for successive markers without matching an earlier one.
[[nodiscard]] std::optional<std::size_t> wait_for_console_line(const std::string& console_path, std::string_view text,
                                                               std::size_t from, std::chrono::milliseconds timeout);

// Directory of scripts/guest: $AETHER_GUEST_SCRIPTS_DIR, or the checkout's
// (fixed at build time).
[[nodiscard]] std::string guest_scripts_dir();

}  // namespace aether::test
