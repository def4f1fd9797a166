#include "guest_vm.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <system_error>

#include <fmt/format.h>

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
    report.script_output = std::string(output);
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
  for (const auto& [host_path, guest_path] : options.files) {
    arguments.insert(arguments.end(), {"--add", host_path + ":" + guest_path});
  }
  for (const auto& qemu_argument : options.extra_qemu_args) {
    arguments.insert(arguments.end(), {"--qemu-arg", qemu_argument});
  }

  const std::string console_path = dir + "/console.log";
  const std::string err_path = dir + "/run.err";
  auto outcome = run_process(arguments, console_path, err_path, options.timeout);
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

}  // namespace aether::test
