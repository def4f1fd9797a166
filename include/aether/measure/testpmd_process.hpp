// TestpmdProcess: one dpdk-testpmd (DPDK 22.11, Debian package dpdk-dev)
// in interactive mode, driven through its stdin: the peer no one here wrote,
// for memif interop tests and for the DPDK reference of `aether bench
// throughput --vs-dpdk`.
//
// testpmd runs with --no-huge --no-shconf: net_memif without zero-copy keeps
// its rings and buffers in a memfd of its own, so it needs no hugepages and
// leaves no shared runtime files (the empty /var/run/dpdk/<prefix> that
// EAL still makes is removed here). Its output goes through stdbuf, since
// testpmd prints with stdio and a pipe would buffer it until exit.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "aether/core/result.hpp"
#include "aether/measure/cpu_accounting.hpp"

namespace aether::measure {

class TestpmdProcess {
 public:
  struct Options {
    std::string cpus = "0,1";       // EAL -l
    unsigned main_lcore = 0;        // the other CPU forwards
    std::vector<std::string> vdevs; // e.g. "net_memif,role=server,id=0,socket=/run/x.sock,socket-abstract=no"
    std::string forward_mode = "io";
    std::vector<std::string> app_arguments;  // after "--", besides -i and --forward-mode
    std::optional<int> worker_fifo_priority;  // SCHED_FIFO for the forwarding lcore only
  };

  // Empty if testpmd and the memif PMD are installed; else what is missing
  // and the package that brings it.
  [[nodiscard]] static std::string missing_memif_support();

  TestpmdProcess() = default;
  ~TestpmdProcess() { stop(); }
  TestpmdProcess(const TestpmdProcess&) = delete;
  TestpmdProcess& operator=(const TestpmdProcess&) = delete;

  // Starts testpmd and waits (up to 20 s) until its ports are configured
  // and it accepts commands. Forwarding is not started: call start_forwarding().
  [[nodiscard]] Result<void> start(const Options& options);
  // "start", then waits until the forwarding lcore runs.
  [[nodiscard]] Result<void> start_forwarding();

  // Sends one command line. False when testpmd is gone (its stdin closed):
  // never SIGPIPE, never a write after that.
  bool command(const std::string& line);
  // Waits until `text` appears in the output after byte `from`.
  bool wait_for(const std::string& text, std::chrono::milliseconds timeout, std::size_t from = 0);
  [[nodiscard]] std::size_t output_size();
  [[nodiscard]] std::string output();

  struct PortStats {
    std::uint64_t rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0;
  };
  // "show port stats N": the PMD's own counters. Compare differences:
  // "clear port stats" races net_memif's forwarding lcore (its counters are
  // plain `n_pkts +=` on another thread), so a reset can be lost.
  [[nodiscard]] Result<PortStats> port_stats(unsigned port = 0);

  // SIGKILL: a crash, as far as the peer can tell.
  void kill_hard();
  // "stop", "quit", then SIGKILL after 3 s.
  void stop();
  [[nodiscard]] bool running() const noexcept { return pid_ > 0; }
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  // Reaps it if it has ended (never blocks); then exit_description() says how.
  bool exited();
  // "killed by signal 11 (Segmentation fault)", "exited with status 0", or
  // empty while it runs.
  [[nodiscard]] const std::string& exit_description() const noexcept { return exit_; }

 private:
  void reap();
  // The error for a command it did not answer: how it died, if it did, with
  // the end of its output; a time-out otherwise.
  Error no_answer(const std::string& what);

  std::string prefix_;
  pid_t pid_ = -1;
  int stdin_ = -1;
  int stdout_ = -1;
  std::thread reader_;
  std::mutex mutex_;
  std::string output_;
  std::string exit_;  // how it ended, once reaped
};

// A wait(2) status for people: "killed by signal 11 (Segmentation fault)".
std::string describe_child_exit(int status);

// Mpps of testpmd txonly (memif client, forwarding on cpu_a) into testpmd
// rxonly (memif server, forwarding on cpu_b), frames of `frame_size` bytes,
// counted at the receiver over `seconds` after a warm-up: the DPDK figure
// `aether bench throughput --vs-dpdk` compares Aether's memif path with.
struct DpdkMemifThroughput {
  double mpps = 0;
  std::uint64_t frames = 0;
  double seconds = 0;
  CpuAccounting cpu;  // both testpmd processes and the calling one, over the window
};
[[nodiscard]] Result<DpdkMemifThroughput> measure_testpmd_memif_throughput(std::size_t frame_size, double seconds,
                                                                          unsigned cpu_a, unsigned cpu_b,
                                                                          std::optional<int> fifo_priority);

}  // namespace aether::measure
