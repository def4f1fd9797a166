// Anonymous network namespaces and veth pairs, configured with iproute2.
#include "aether/net/network_namespace.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <string_view>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace aether::net {
namespace {

// Resolved before fork: the child must not search PATH (malloc after fork in
// a threaded process is unsafe).
std::string find_program(const std::string& name) {
  for (const char* directory : {"/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"}) {
    std::string path = std::string(directory) + name;
    if (access(path.c_str(), X_OK) == 0) return path;
  }
  return {};
}

// Runs argv[0] (a program name) with its arguments inside namespace `fd`.
Result<void> run_in_namespace(int namespace_fd, const std::vector<std::string>& argv) {
  const std::string program = find_program(argv.at(0));
  if (program.empty()) {
    return Error{std::make_error_code(std::errc::no_such_file_or_directory),
                 fmt::format("'{}' not found (install it: scripts/install-deps)", argv[0])};
  }
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  std::array<int, 2> pipe_fds{};
  if (pipe2(pipe_fds.data(), O_CLOEXEC) != 0) return errno_error("pipe2");
  const pid_t child = fork();
  if (child < 0) {
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return errno_error("fork");
  }
  if (child == 0) {
    // Only async-signal-safe calls from here to exec.
    dup2(pipe_fds[1], STDERR_FILENO);
    const int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);  // dup2 gives stdout a descriptor without it
    if (null_fd >= 0) dup2(null_fd, STDOUT_FILENO);
    if (setns(namespace_fd, CLONE_NEWNET) != 0) _exit(126);
    execv(program.c_str(), args.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  std::string error_text;
  std::array<char, 512> buffer{};
  ssize_t got = 0;
  while ((got = read(pipe_fds[0], buffer.data(), buffer.size())) > 0) error_text.append(buffer.data(), static_cast<std::size_t>(got));
  close(pipe_fds[0]);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  while (!error_text.empty() && error_text.back() == '\n') error_text.pop_back();
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return Error{std::make_error_code(std::errc::io_error),
               fmt::format("'{}' failed (exit {}){}{}", fmt::join(argv, " "), code, error_text.empty() ? "" : ": ",
                           code == 126 ? "setns into the namespace failed" : error_text)};
}

Result<int> open_current_namespace() {
  const int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_error("cannot open /proc/thread-self/ns/net");
  return fd;
}

// Writes a sysctl inside the calling thread's current namespace; /proc/sys/net
// resolves to the namespace of the thread that opens it.
void write_net_sysctl(const std::string& path, const char* value) {
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  const std::string_view text(value);
  const ssize_t written = write(fd, text.data(), text.size());
  (void)written;  // best effort, as before: a sysctl the kernel refuses is left as it is
  close(fd);
}

}  // namespace

Result<NetworkNamespace> NetworkNamespace::create() {
  // unshare() moves the calling thread; do it on a short-lived thread so the
  // caller stays where it was, and keep the namespace alive by its fd.
  Result<int> fd = Error{};
  std::thread maker([&fd] {
    if (unshare(CLONE_NEWNET) != 0) {
      fd = errno_error(errno == EPERM ? "cannot create a network namespace: needs CAP_SYS_ADMIN (run as root)"
                                      : "cannot create a network namespace (unshare CLONE_NEWNET)");
      return;
    }
    fd = open_current_namespace();
    if (fd.ok()) {
      // No IPv6: router solicitations and DAD would otherwise show up as
      // unexpected frames on test interfaces.
      write_net_sysctl("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
      write_net_sysctl("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
    }
  });
  maker.join();
  if (!fd) return std::move(fd).error();
  NetworkNamespace created(*fd);
  if (auto up = created.run_ip({"link", "set", "lo", "up"}); !up) return std::move(up).error();
  return created;
}

Result<NetworkNamespace> NetworkNamespace::current() {
  auto fd = open_current_namespace();
  if (!fd) return std::move(fd).error();
  return NetworkNamespace(*fd);
}

NetworkNamespace::NetworkNamespace(NetworkNamespace&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

NetworkNamespace& NetworkNamespace::operator=(NetworkNamespace&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

NetworkNamespace::~NetworkNamespace() {
  if (fd_ >= 0) close(fd_);
}

std::string NetworkNamespace::path() const { return fmt::format("/proc/{}/fd/{}", getpid(), fd_); }

Result<void> NetworkNamespace::enter() const {
  if (setns(fd_, CLONE_NEWNET) != 0) return errno_error("setns into a network namespace");
  return {};
}

Result<void> NetworkNamespace::run_ip(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_in_namespace(fd_, argv);
}

Result<ScopedNamespace> ScopedNamespace::enter(const NetworkNamespace& target) {
  auto previous = NetworkNamespace::current();
  if (!previous) return std::move(previous).error();
  if (auto entered = target.enter(); !entered) return std::move(entered).error();
  return ScopedNamespace(std::move(*previous));
}

ScopedNamespace::~ScopedNamespace() {
  if (previous_) (void)previous_->enter();
}

Result<VethPair> VethPair::create(const VethPairConfig& config) {
  auto a = NetworkNamespace::create();
  if (!a) return std::move(a).error();
  auto b = NetworkNamespace::create();
  if (!b) return std::move(b).error();
  VethPair pair(std::move(*a), std::move(*b));

  // Locally administered unicast MACs (bit 1 of the first octet set, bit 0 clear).
  pair.end_a_ = VethEnd{config.name_a, {0x02, 0x00, 0x00, 0xae, 0x00, 0x01}, 0, config.ip_a};
  pair.end_b_ = VethEnd{config.name_b, {0x02, 0x00, 0x00, 0xae, 0x00, 0x02}, 0, config.ip_b};
  for (VethEnd* end : {&pair.end_a_, &pair.end_b_}) {
    const auto ip = parse_ipv4_be(end->ip);
    if (!ip) return invalid_argument(fmt::format("veth: '{}' is not an IPv4 address", end->ip));
    end->ip_be = *ip;
  }
  const auto& ns_a = pair.namespace_a_;
  const auto& ns_b = pair.namespace_b_;
  if (auto made = ns_a.run_ip({"link", "add", config.name_a, "address", format_mac(pair.end_a_.mac), "type", "veth",
                               "peer", "name", config.name_b, "address", format_mac(pair.end_b_.mac), "netns",
                               ns_b.path()});
      !made) {
    return std::move(made).error();
  }
  struct Side {
    const NetworkNamespace* ns;
    const VethEnd* self;
    const VethEnd* peer;
  };
  for (const Side side : {Side{&ns_a, &pair.end_a_, &pair.end_b_}, Side{&ns_b, &pair.end_b_, &pair.end_a_}}) {
    const std::string& name = side.self->name;
    std::vector<std::vector<std::string>> steps = {
        {"link", "set", "dev", name, "mtu", std::to_string(config.mtu), "up"},
    };
    if (config.kernel_addresses) {
      steps.push_back({"addr", "add", fmt::format("{}/{}", side.self->ip, config.prefix_length), "dev", name});
    }
    if (config.kernel_addresses && config.static_neighbours) {
      steps.push_back({"neigh", "replace", side.peer->ip, "lladdr", format_mac(side.peer->mac), "dev", name, "nud",
                       "permanent"});
    }
    for (const auto& step : steps) {
      if (auto done = side.ns->run_ip(step); !done) return std::move(done).error();
    }
    if (config.disable_offloads) {
      // Checksum offload leaves UDP checksums unfinished in frames that raw
      // sockets see; segmentation offloads coalesce frames. Neither belongs
      // in a latency measurement. ethtool may be absent: then say so.
      if (auto done = run_in_namespace(side.ns->fd(), {"ethtool", "-K", name, "tx", "off", "rx", "off", "tso", "off",
                                                        "gso", "off", "gro", "off"});
          !done) {
        return Error{done.error().code, fmt::format("veth {}: cannot turn offloads off: {}", name, done.error().message)};
      }
    }
  }
  return pair;
}

}  // namespace aether::net
