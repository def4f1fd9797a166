// dpdk-testpmd as a child process: start, commands, counters, stop; and the
// txonly -> rxonly memif reference for `aether bench throughput --vs-dpdk`.
#include "aether/measure/testpmd_process.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>

#include <fmt/format.h>

namespace aether::measure {
namespace {

constexpr const char* kTestpmd = "/usr/bin/dpdk-testpmd";
constexpr const char* kStdbuf = "/usr/bin/stdbuf";

// SCHED_FIFO for testpmd's forwarding threads only (EAL names them
// rte-worker-N); its main and interrupt threads mostly sleep.
Result<void> make_workers_fifo(pid_t pid, int priority) {
  const std::string tasks = fmt::format("/proc/{}/task", pid);
  std::error_code error;
  for (const auto& task : std::filesystem::directory_iterator(tasks, error)) {
    std::ifstream comm_file(task.path() / "comm");
    std::string comm;
    std::getline(comm_file, comm);
    if (comm.rfind("rte-worker", 0) != 0) continue;
    sched_param param{};
    param.sched_priority = priority;
    if (::sched_setscheduler(std::stoi(task.path().filename().string()), SCHED_FIFO, &param) != 0) {
      return errno_error(fmt::format("cannot make testpmd thread {} SCHED_FIFO {}", comm, priority));
    }
  }
  if (error) return Error{error, fmt::format("cannot list {}", tasks)};
  return {};
}

// write(2) to the child's stdin without SIGPIPE if it died: the signal is
// blocked in this thread for the call and a pending one consumed, so a
// crashing peer never kills the process that measures it (no process-wide
// disposition is changed: this is a library).
bool write_without_sigpipe(int fd, const std::string& text) {
  sigset_t pipe_only, previous;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  sigset_t pending;
  sigpending(&pending);
  const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  pthread_sigmask(SIG_BLOCK, &pipe_only, &previous);
  std::size_t done = 0;
  bool ok = true;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = false;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  if (!ok && errno == EPIPE && !was_pending) {
    const timespec zero{};
    (void)sigtimedwait(&pipe_only, nullptr, &zero);  // the SIGPIPE this write raised
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return ok;
}

}  // namespace

std::string describe_child_exit(int status) {
  if (WIFSIGNALED(status)) {
    const int signal = WTERMSIG(status);
    return fmt::format("killed by signal {} ({}){}", signal, ::strsignal(signal), WCOREDUMP(status) ? ", core dumped" : "");
  }
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  return fmt::format("ended with wait status {:#x}", status);
}

std::string TestpmdProcess::missing_memif_support() {
  if (::access(kTestpmd, X_OK) != 0) return fmt::format("{} is missing (apt-get install dpdk-dev)", kTestpmd);
  if (::access(kStdbuf, X_OK) != 0) return fmt::format("{} is missing (coreutils)", kStdbuf);
  for (const char* dir : {"/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0", "/usr/lib/aarch64-linux-gnu/dpdk/pmds-23.0"}) {
    if (std::filesystem::exists(std::string(dir) + "/librte_net_memif.so.23")) return "";
  }
  return "the DPDK memif PMD is missing (apt-get install librte-net-memif23)";
}

Result<void> TestpmdProcess::start(const Options& options) {
  static std::atomic<unsigned> instances{0};
  prefix_ = fmt::format("aether-{}-{}", ::getpid(), instances++);
  std::vector<std::string> args = {kStdbuf, "-oL", "-eL", kTestpmd, "-l", options.cpus, "--main-lcore",
                                   std::to_string(options.main_lcore), "--no-pci", "--no-huge", "--no-shconf", "-m",
                                   "512", "--file-prefix=" + prefix_};
  for (const auto& vdev : options.vdevs) args.push_back("--vdev=" + vdev);
  args.insert(args.end(), {"--", "-i", "--total-num-mbufs=32768", "--forward-mode=" + options.forward_mode});
  args.insert(args.end(), options.app_arguments.begin(), options.app_arguments.end());
  int to_child[2];
  int from_child[2];
  if (::pipe2(to_child, O_CLOEXEC) != 0) return errno_error("pipe for testpmd");
  if (::pipe2(from_child, O_CLOEXEC) != 0) {
    ::close(to_child[0]);
    ::close(to_child[1]);
    return errno_error("pipe for testpmd");
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  output_.clear();
  exit_.clear();
  pid_ = ::fork();
  if (pid_ == 0) {
    ::setpgid(0, 0);                      // its own group: a Ctrl-C to us is for us, we stop it
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);   // and it dies with us, even on SIGKILL (kept across exec)
    ::dup2(to_child[0], 0);
    ::dup2(from_child[1], 1);
    ::dup2(from_child[1], 2);
    ::execv(kStdbuf, argv.data());
    ::_exit(127);
  }
  ::close(to_child[0]);
  ::close(from_child[1]);
  stdin_ = to_child[1];
  stdout_ = from_child[0];
  if (pid_ < 0) {
    reap();
    return errno_error("fork for testpmd");
  }
  reader_ = std::thread([this] {
    char buffer[4096];
    for (;;) {
      const ssize_t n = ::read(stdout_, buffer, sizeof(buffer));
      if (n <= 0) break;
      std::lock_guard lock(mutex_);
      output_.append(buffer, static_cast<std::size_t>(n));
    }
  });
  if (!wait_for("testpmd> ", std::chrono::seconds(20))) {
    const std::string said = output();
    stop();
    return Error{std::make_error_code(std::errc::timed_out),
                 fmt::format("testpmd did not start: {}", said.substr(said.size() > 2000 ? said.size() - 2000 : 0))};
  }
  if (options.worker_fifo_priority) return make_workers_fifo(pid_, *options.worker_fifo_priority);
  return {};
}

Result<void> TestpmdProcess::start_forwarding() {
  const std::size_t from = output_size();
  command("start");
  // testpmd prints the forwarding configuration, naming the lcore, once
  // the forwarding lcore has been launched.
  if (!wait_for("Logical Core", std::chrono::seconds(10), from)) return no_answer("'start' (forwarding)");
  return {};
}

bool TestpmdProcess::command(const std::string& line) {
  if (stdin_ < 0) return false;
  if (write_without_sigpipe(stdin_, line + "\n")) return true;
  // Its end of the pipe is gone: it died (or closed stdin). Never write again.
  ::close(stdin_);
  stdin_ = -1;
  return false;
}

bool TestpmdProcess::exited() {
  if (pid_ <= 0) return !exit_.empty();
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
  pid_ = -1;  // reaped: its pid may be reused, never signal it again
  exit_ = describe_child_exit(status);
  return true;
}

Error TestpmdProcess::no_answer(const std::string& what) {
  const std::string said = output();
  const std::string tail = said.substr(said.size() > 600 ? said.size() - 600 : 0);
  if (exited()) {
    return Error{std::make_error_code(std::errc::broken_pipe),
                 fmt::format("testpmd died before {}: {}; its last output: {}", what, exit_, tail)};
  }
  return Error{std::make_error_code(std::errc::timed_out), fmt::format("testpmd did not answer {}", what)};
}

bool TestpmdProcess::wait_for(const std::string& text, std::chrono::milliseconds timeout, std::size_t from) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (output_.find(text, from) != std::string::npos) return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (exited()) {  // a dead child says nothing more: no use waiting out the timeout
      std::lock_guard lock(mutex_);
      return output_.find(text, from) != std::string::npos;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::size_t TestpmdProcess::output_size() {
  std::lock_guard lock(mutex_);
  return output_.size();
}

std::string TestpmdProcess::output() {
  std::lock_guard lock(mutex_);
  return output_;
}

Result<TestpmdProcess::PortStats> TestpmdProcess::port_stats(unsigned port) {
  const std::size_t from = output_size();
  command(fmt::format("show port stats {}", port));
  // The block ends with the throughput lines ("Tx-pps ... Tx-bps").
  if (!wait_for("Tx-bps", std::chrono::seconds(5), from)) return no_answer("'show port stats'");
  std::string block;
  {
    std::lock_guard lock(mutex_);
    block = output_.substr(from);
  }
  auto number = [&block](const char* key) -> std::uint64_t {
    std::smatch match;
    if (!std::regex_search(block, match, std::regex(std::string(key) + R"(:\s+(\d+))"))) return 0;
    return std::stoull(match[1]);
  };
  PortStats stats;
  stats.rx_packets = number("RX-packets");
  stats.rx_bytes = number("RX-bytes");
  stats.tx_packets = number("TX-packets");
  stats.tx_bytes = number("TX-bytes");
  return stats;
}

void TestpmdProcess::kill_hard() {
  if (pid_ > 0) ::kill(pid_, SIGKILL);
  reap();
}

void TestpmdProcess::stop() {
  if (pid_ > 0) {
    command("stop");
    command("quit");
    for (int i = 0; i < 300 && !exited(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (pid_ > 0) ::kill(pid_, SIGKILL);
  }
  reap();
}

void TestpmdProcess::reap() {
  if (pid_ > 0) {
    int status = 0;
    if (::waitpid(pid_, &status, 0) == pid_) exit_ = describe_child_exit(status);
  }
  pid_ = -1;
  if (stdin_ >= 0) ::close(stdin_);
  stdin_ = -1;
  if (reader_.joinable()) reader_.join();
  if (stdout_ >= 0) ::close(stdout_);
  stdout_ = -1;
  std::error_code ignored;
  if (!prefix_.empty()) std::filesystem::remove_all("/var/run/dpdk/" + prefix_, ignored);
}

Result<DpdkMemifThroughput> measure_testpmd_memif_throughput(std::size_t frame_size, double seconds, unsigned cpu_a,
                                                             unsigned cpu_b, std::optional<int> fifo_priority) {
  if (const std::string missing = TestpmdProcess::missing_memif_support(); !missing.empty()) {
    return Error{std::make_error_code(std::errc::no_such_file_or_directory), missing};
  }
  // Abstract, as DPDK's default: nothing to clean up.
  const std::string socket = fmt::format("aether-vs-dpdk-{}", ::getpid());
  const std::string cpus = fmt::format("{},{}", cpu_a, cpu_b);
  TestpmdProcess receiver;
  TestpmdProcess sender;
  TestpmdProcess::Options receive_options;
  receive_options.cpus = cpus;
  receive_options.main_lcore = cpu_a;  // forwards on cpu_b
  receive_options.vdevs = {fmt::format("net_memif,role=server,id=0,socket={}", socket)};
  receive_options.forward_mode = "rxonly";
  receive_options.worker_fifo_priority = fifo_priority;
  if (auto started = receiver.start(receive_options); !started) return std::move(started).error();
  TestpmdProcess::Options send_options = receive_options;
  send_options.main_lcore = cpu_b;  // forwards on cpu_a
  send_options.vdevs = {fmt::format("net_memif,role=client,id=0,socket={}", socket)};
  send_options.forward_mode = "txonly";
  send_options.app_arguments = {fmt::format("--txpkts={}", frame_size)};
  if (auto started = sender.start(send_options); !started) return std::move(started).error();
  if (auto started = receiver.start_forwarding(); !started) return std::move(started).error();
  if (auto started = sender.start_forwarding(); !started) return std::move(started).error();
  // The same warm-up as the Aether run: the first 10%, at least 0.2 s.
  std::this_thread::sleep_for(std::chrono::duration<double>(std::max(0.2, seconds * 0.1)));
  auto before = receiver.port_stats();
  if (!before) return std::move(before).error();
  const pid_t watched[] = {::getpid(), receiver.pid(), sender.pid()};
  const CpuSnapshot cpu_before = take_cpu_snapshot(watched);
  const auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  const CpuSnapshot cpu_after = take_cpu_snapshot(watched);
  auto after = receiver.port_stats();
  if (!after) {
    // A peer that crashed is a result: say how, and what it had counted.
    return Error{after.error().code, fmt::format("{} (it had received {} frames by the end of the warm-up; sender: {})",
                                                 after.error().message, before->rx_packets,
                                                 sender.exited() ? sender.exit_description() : "running")};
  }
  DpdkMemifThroughput result;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.frames = after->rx_packets - before->rx_packets;
  result.mpps = static_cast<double>(result.frames) / result.seconds / 1e6;
  const unsigned measured_cpus[] = {cpu_a, cpu_b};
  result.cpu = account_cpu_time(cpu_before, cpu_after, measured_cpus);
  sender.stop();
  receiver.stop();
  return result;
}

}  // namespace aether::measure
