#include "aether/attest/swtpm_process.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>
#include <utility>

#include "aether/core/unique_fd.hpp"

namespace aether::attest {
namespace {

namespace fs = std::filesystem;

constexpr auto start_timeout = std::chrono::seconds(10);

bool socket_accepts(const fs::path& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  return fd.valid() && ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0;
}

std::string read_log(const fs::path& path) {
  std::ifstream file(path);
  return std::string(std::istreambuf_iterator<char>(file), {});
}

}  // namespace

Result<SwtpmProcess> SwtpmProcess::start() {
  std::string pattern = (fs::temp_directory_path() / "aether-swtpm-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) return errno_error("cannot make a directory for swtpm in " + pattern);
  const fs::path directory = pattern;
  fs::create_directory(directory / "state");
  const std::string socket = (directory / "swtpm.sock").string();
  const std::string server = "type=unixio,path=" + socket;
  const std::string control = "type=unixio,path=" + socket + ".ctrl";
  const std::string state = "dir=" + (directory / "state").string();
  const std::string log = "file=" + (directory / "swtpm.log").string();
  const pid_t pid = ::fork();
  if (pid < 0) return errno_error("fork for swtpm");
  if (pid == 0) {
    // Child: swtpm in the foreground; stdin/stdout closed to /dev/null by its own --log.
    ::execlp("swtpm", "swtpm", "socket", "--tpm2", "--server", server.c_str(), "--ctrl", control.c_str(),
             "--flags", "not-need-init,startup-clear", "--tpmstate", state.c_str(), "--log", log.c_str(),
             static_cast<char*>(nullptr));
    ::_exit(127);
  }
  SwtpmProcess process(directory, pid);
  const auto deadline = std::chrono::steady_clock::now() + start_timeout;
  while (!socket_accepts(socket)) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      process.pid_ = -1;
      if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
        return Error{std::make_error_code(std::errc::no_such_file_or_directory),
                     "cannot run swtpm: is the Debian package swtpm installed? (scripts/install-deps)"};
      }
      return invalid_argument("swtpm exited at start: " + read_log(directory / "swtpm.log"));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return invalid_argument("swtpm did not open " + socket + " within 10 s: " + read_log(directory / "swtpm.log"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return process;
}

SwtpmProcess::SwtpmProcess(SwtpmProcess&& other) noexcept
    : directory_(std::move(other.directory_)), pid_(std::exchange(other.pid_, -1)) {
  other.directory_.clear();
}

SwtpmProcess& SwtpmProcess::operator=(SwtpmProcess&& other) noexcept {
  if (this != &other) {
    stop();
    directory_ = std::move(other.directory_);
    other.directory_.clear();
    pid_ = std::exchange(other.pid_, -1);
  }
  return *this;
}

SwtpmProcess::~SwtpmProcess() { stop(); }

void SwtpmProcess::stop() noexcept {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
  if (!directory_.empty()) {
    std::error_code ignored;
    fs::remove_all(directory_, ignored);
    directory_.clear();
  }
}

std::string SwtpmProcess::tcti() const { return "swtpm:path=" + (directory_ / "swtpm.sock").string(); }

}  // namespace aether::attest
