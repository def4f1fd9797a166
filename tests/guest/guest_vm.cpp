#include "guest_vm.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <system_error>
#include <thread>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>

#include "aether/core/unique_fd.hpp"
#include "child_process.hpp"

#ifndef AETHER_GUEST_SCRIPTS_DIR
#error "AETHER_GUEST_SCRIPTS_DIR must name scripts/guest (set by tests/guest/CMakeLists.txt)"
#endif

namespace aether::test {
namespace {

// Markers printed by /init (scripts/guest/guest-init) on the serial console.
constexpr std::string_view script_begin_marker = "AETHER-GUEST-SCRIPT-BEGIN uptime=";
constexpr std::string_view exit_marker = "AETHER-GUEST-EXIT=";

// Fetching a kernel (about 100 MB) and building the base initramfs happen
// once per kernel; give them far longer than a boot.
constexpr std::chrono::minutes prepare_timeout{15};
// scripts/guest/run enforces its own, later timeout too, so that QEMU still
// stops if this process dies before it can kill the process group.
constexpr std::chrono::seconds script_timeout_margin{15};
// How much of the console an error message quotes.
constexpr std::size_t console_lines_in_errors = 40;

Error harness_error(std::string message) {
  return Error{std::make_error_code(std::errc::io_error), std::move(message)};
}

std::string strip_carriage_returns(std::string text) {
  std::erase(text, '\r');
  return text;
}

template <class Number>
std::optional<Number> leading_number(std::string_view text) {
  Number value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end == text.data()) return std::nullopt;
  return value;
}

std::string join(const std::vector<std::string>& words, char separator) {
  std::string joined;
  for (const auto& word : words) {
    if (!joined.empty()) joined += separator;
    joined += word;
  }
  return joined;
}

// The arguments that select the kernel and base initramfs; the same for the
// --prepare-only call and the boot, so both use the same cached image.
std::vector<std::string> base_run_arguments(const GuestOptions& options) {
  std::vector<std::string> arguments{guest_scripts_dir() + "/run",
                                     "--kernel", options.kernel,
                                     "--cpus", std::to_string(options.cpus),
                                     "--memory", std::to_string(options.memory_mib)};
  if (!options.modules.empty()) {
    arguments.insert(arguments.end(), {"--modules", join(options.modules, ' ')});
  }
  return arguments;
}

// Runs `run --prepare-only`: fetches the kernel and builds the base
// initramfs if the cache lacks them.
Result<void> prepare(const GuestOptions& options, const std::string& work_dir) {
  auto arguments = base_run_arguments(options);
  arguments.emplace_back("--prepare-only");
  const std::string out_path = work_dir + "/prepare.out";
  const std::string err_path = work_dir + "/prepare.err";
  auto outcome = run_process(arguments, out_path, err_path, prepare_timeout);
  if (!outcome) return std::move(outcome).error();
  if (outcome->timed_out) {
    return harness_error(fmt::format("preparing the {} guest kernel took longer than {} min: {}", options.kernel,
                                     prepare_timeout.count(), last_lines(read_text_file(err_path), 10)));
  }
  if (outcome->exit_status != 0) {
    return harness_error(fmt::format("cannot prepare the {} guest kernel ({} exited with {}): {}", options.kernel,
                                     arguments[0], outcome->exit_status,
                                     last_lines(read_text_file(err_path), 10)));
  }
  return {};
}

// The first line where the kernel says it broke, so that an error message
// names the cause even when the stack dump pushed it out of the quoted tail.
std::string first_kernel_failure(std::string_view console) {
  constexpr std::string_view signs[] = {"Kernel panic", "Oops:", "BUG:", "general protection fault", "Call Trace:"};
  std::size_t first = std::string_view::npos;
  for (const auto sign : signs) first = std::min(first, console.find(sign));
  if (first == std::string_view::npos) return "none";
  const auto line_start = console.rfind('\n', first);
  const auto begin = line_start == std::string_view::npos ? 0 : line_start + 1;
  return std::string(console.substr(begin, console.find('\n', first) - begin));
}

Result<void> write_text_file(const std::string& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << text;
  file.close();
  if (!file) return errno_error(fmt::format("cannot write {}", path));
  return {};
}

}  // namespace

std::string guest_scripts_dir() {
  const char* from_environment = std::getenv("AETHER_GUEST_SCRIPTS_DIR");
  if (from_environment != nullptr && *from_environment != '\0') return from_environment;
  return AETHER_GUEST_SCRIPTS_DIR;
}

bool guest_required() {
  const auto set = [](const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr && *value != '\0' && std::string_view(value) != "0" && std::string_view(value) != "false";
  };
  return set("CI") || set("AETHER_GUEST_REQUIRED");
}

namespace {

// A whole line the kernel printed on the shared serial console while the
// script ran ("[    2.170424] tsc: Refined TSC ..."): printk's timestamp
// prefix. Such lines stay in GuestRun::console but are not the script's.
bool is_kernel_line(std::string_view line) {
  if (line.size() < 4 || line.front() != '[') return false;
  const std::size_t close = line.find("] ");
  if (close == std::string_view::npos || close < 2) return false;
  bool digits = false;
  for (const char c : line.substr(1, close - 1)) {
    if (c >= '0' && c <= '9') {
      digits = true;
    } else if (c != ' ' && c != '.') {
      return false;
    }
  }
  return digits;
}

std::string without_kernel_lines(std::string_view output) {
  std::string kept;
  kept.reserve(output.size());
  std::size_t start = 0;
  while (start < output.size()) {
    std::size_t end = output.find('\n', start);
    end = end == std::string_view::npos ? output.size() : end + 1;
    const std::string_view line = output.substr(start, end - start);
    if (!is_kernel_line(line)) kept.append(line);
    start = end;
  }
  return kept;
}

}  // namespace

GuestConsoleReport parse_guest_console(std::string_view console) {
  GuestConsoleReport report;
  std::size_t output_begin = std::string_view::npos;  // just after the last begin marker's line
  std::size_t output_end = std::string_view::npos;    // start of the line with the exit marker
  std::size_t line_start = 0;
  while (line_start < console.size()) {
    std::size_t line_end = console.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = console.size();
    const std::string_view line = console.substr(line_start, line_end - line_start);
    // A marker may follow other text on its line (a kernel message written
    // in the middle of ours), so look for it anywhere; the guest prints its
    // own markers last, so the last ones win over any a script printed.
    if (const auto at = line.find(script_begin_marker); at != std::string_view::npos) {
      report.boot_seconds = leading_number<double>(line.substr(at + script_begin_marker.size()));
      output_begin = std::min(line_end + 1, console.size());
      output_end = std::string_view::npos;
      report.exit_code.reset();
    } else if (const auto exit_at = line.find(exit_marker); exit_at != std::string_view::npos) {
      if (const auto code = leading_number<int>(line.substr(exit_at + exit_marker.size()))) {
        report.exit_code = code;
        output_end = line_start;
      }
    }
    line_start = line_end + 1;
  }
  if (output_begin != std::string_view::npos) {
    std::string_view output = console.substr(output_begin, (output_end == std::string_view::npos ? console.size()
                                                                                                : output_end) -
                                                               output_begin);
    // /init prints an empty line before the exit marker, to end a last line
    // the script left unterminated; it is not the script's output.
    if (output_end != std::string_view::npos && output.ends_with("\n\n")) output.remove_suffix(1);
    if (output_end != std::string_view::npos && output == "\n") output = {};
    report.script_output = without_kernel_lines(output);
  }
  return report;
}

Result<void> guest_available(std::string_view kernel) {
  auto work = TemporaryDirectory::create("aether-guest-");
  if (!work) return std::move(work).error();
  GuestOptions options;
  options.kernel = std::string(kernel);
  return prepare(options, work->path());
}

Result<GuestRun> run_guest(const GuestOptions& options) {
  auto work = TemporaryDirectory::create("aether-guest-");
  if (!work) return std::move(work).error();
  const std::string& dir = work->path();

  if (auto prepared = prepare(options, dir); !prepared) return std::move(prepared).error();

  const std::string script_path = dir + "/guest-script.sh";
  if (auto written = write_text_file(script_path, options.script); !written) return std::move(written).error();

  auto arguments = base_run_arguments(options);
  arguments.insert(arguments.end(), {"--script", script_path, "--work-dir", dir + "/run", "--timeout",
                                     std::to_string((options.timeout + script_timeout_margin).count())});
  if (!options.extra_cmdline.empty()) arguments.insert(arguments.end(), {"--append", options.extra_cmdline});
  if (!options.iommu) arguments.emplace_back("--no-iommu");
  if (options.firmware == GuestFirmware::ovmf) arguments.insert(arguments.end(), {"--firmware", "ovmf"});
  for (const auto& [host_path, guest_path] : options.files) {
    arguments.insert(arguments.end(), {"--add", host_path + ":" + guest_path});
  }
  for (const auto& qemu_argument : options.extra_qemu_args) {
    arguments.insert(arguments.end(), {"--qemu-arg", qemu_argument});
  }
  // QEMU listens on both sockets and does not wait for a client
  // (server=on,wait=off): the guest boots whether or not the test connects.
  if (!options.monitor_socket.empty()) {
    arguments.insert(arguments.end(),
                     {"--qemu-arg", "-monitor", "--qemu-arg", "unix:" + options.monitor_socket + ",server=on,wait=off"});
  }
  if (!options.control_socket.empty()) {
    // The second -serial (the console is the first) is the guest's ttyS1.
    arguments.insert(arguments.end(), {"--qemu-arg", "-chardev", "--qemu-arg",
                                       "socket,id=aether-control,path=" + options.control_socket + ",server=on,wait=off",
                                       "--qemu-arg", "-serial", "--qemu-arg", "chardev:aether-control"});
  }

  const std::string console_path = options.console_path.empty() ? dir + "/console.log" : options.console_path;
  const std::string err_path = dir + "/run.err";
  auto outcome = run_process(arguments, console_path, err_path, options.timeout, options.network_namespace_fd);
  if (!outcome) return std::move(outcome).error();

  GuestRun run;
  run.console = strip_carriage_returns(read_text_file(console_path));
  run.wall_time = outcome->elapsed;
  run.timed_out = outcome->timed_out;
  const auto report = parse_guest_console(run.console);
  run.boot_seconds = report.boot_seconds;
  run.script_output = report.script_output;
  if (run.timed_out) return run;
  if (!report.exit_code) {
    return harness_error(fmt::format(
        "the {} guest stopped without reporting the script's exit status ({} exited with {}): {}\n"
        "kernel failure: {}\n--- last {} console lines ---\n{}",
        options.kernel, arguments[0], outcome->exit_status, last_lines(read_text_file(err_path), 5),
        first_kernel_failure(run.console), console_lines_in_errors,
        last_lines(run.console, console_lines_in_errors)));
  }
  run.exit_code = *report.exit_code;
  return run;
}

namespace {

using Clock = std::chrono::steady_clock;

// A connected unix stream socket to `path`, retried until QEMU listens there
// or `deadline` passes.
Result<UniqueFd> connect_unix(const std::string& path, Clock::time_point deadline) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) {
    return invalid_argument(fmt::format("socket path {} is longer than {} bytes", path, sizeof address.sun_path - 1));
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  for (;;) {
    UniqueFd socket(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!socket.valid()) return errno_error("cannot make a unix socket");
    if (::connect(socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) return socket;
    if (Clock::now() >= deadline) return errno_error(fmt::format("cannot connect to QEMU's socket {}", path));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

Result<void> write_all(int fd, std::string_view text, const std::string& what) {
  while (!text.empty()) {
    const ssize_t written = ::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return errno_error(fmt::format("cannot write to {}", what));
    text.remove_prefix(static_cast<std::size_t>(written));
  }
  return {};
}

// Reads from the monitor until its prompt; returns what came before it.
Result<std::string> read_until_prompt(int fd, Clock::time_point deadline, const std::string& path) {
  constexpr std::string_view prompt = "(qemu) ";
  std::string text;
  while (text.find(prompt) == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      return Error{std::make_error_code(std::errc::timed_out),
                   fmt::format("no prompt from the QEMU monitor {} (got: {})", path, text)};
    }
    pollfd ready{fd, POLLIN, 0};
    if (::poll(&ready, 1, static_cast<int>(left.count())) <= 0) continue;
    char buffer[4096];
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) return errno_error(fmt::format("the QEMU monitor {} closed the connection", path));
    text.append(buffer, static_cast<std::size_t>(n));
  }
  return text.substr(0, text.find(prompt));
}

}  // namespace

Result<std::string> guest_monitor_command(const std::string& socket_path, const std::string& command,
                                          std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  auto socket = connect_unix(socket_path, deadline);
  if (!socket) return std::move(socket).error();
  // The monitor greets with its banner and a prompt; the answer to a
  // command is everything up to the next prompt, after the echoed command
  // line (the readline monitor echoes what it reads).
  if (auto banner = read_until_prompt(socket->get(), deadline, socket_path); !banner) return std::move(banner).error();
  if (auto sent = write_all(socket->get(), command + "\n", socket_path); !sent) return std::move(sent).error();
  auto answer = read_until_prompt(socket->get(), deadline, socket_path);
  if (!answer) return std::move(answer).error();
  std::string text = strip_carriage_returns(std::move(*answer));
  if (const auto echoed = text.find(command); echoed != std::string::npos) {
    const auto line_end = text.find('\n', echoed);
    text.erase(0, line_end == std::string::npos ? text.size() : line_end + 1);
  }
  // Strip the terminal escapes readline uses to redraw the line.
  std::erase_if(text, [](char c) { return c == '\x1b'; });
  return text;
}

Result<void> write_guest_control(const std::string& socket_path, const std::string& line,
                                 std::chrono::milliseconds timeout) {
  auto socket = connect_unix(socket_path, Clock::now() + timeout);
  if (!socket) return std::move(socket).error();
  return write_all(socket->get(), line + "\n", socket_path);
}

std::optional<std::size_t> wait_for_console_line(const std::string& console_path, std::string_view text,
                                                 std::size_t from, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const std::string console = read_text_file(console_path);
    if (from < console.size()) {
      const auto at = console.find(text, from);
      if (at != std::string::npos) {
        const auto line_end = console.find('\n', at);
        if (line_end != std::string::npos) return line_end + 1;  // only a whole line counts
      }
    }
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace aether::test
