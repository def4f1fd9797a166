// A market-data style subscriber: join IPv4 multicast groups on one port,
// count what arrives per group on a pinned worker, and print each group's
// rate once a second from the control thread.
//
//   multicast_subscriber PORT_SPEC CPU GROUP [GROUP...]
//     e.g.  multicast_subscriber udp:0.0.0.0:5000 1 239.1.1.1 239.1.1.2
//
// A backend that cannot join a group says so (Port::join_multicast); the
// program prints that and exits 3.
#include <arpa/inet.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <string>
#include <vector>

#include <aether/net/frame.hpp>
#include <aether/runtime/runtime.hpp>

using namespace aether;

constexpr std::size_t max_groups = 16;

// Counts frames per destination group. The counters have one writer (the
// worker); the control thread reads them (relaxed: counters, no data).
class GroupCounter final : public dataplane::Poller {
 public:
  GroupCounter(net::Queue& queue, const std::vector<std::uint32_t>& groups_be) : queue_(queue), groups_(groups_be) {}
  bool poll() noexcept override {
    std::array<net::Packet*, 32> burst;
    const unsigned received = queue_.rx_burst(burst);
    for (unsigned i = 0; i < received; ++i) {
      net::FrameError error{};
      if (auto frame = net::parse_ipv4_frame(std::span(burst[i]->data(), burst[i]->length()), error)) {
        for (std::size_t g = 0; g < groups_.size(); ++g) {
          if (frame->ip->destination_be == groups_[g]) counts_[g].fetch_add(1, std::memory_order_relaxed);
        }
      }
    }
    if (received > 0) burst[0]->pool->free_bulk(std::span(burst.data(), received));  // one pool: the port's
    return received > 0;
  }
  [[nodiscard]] net::Queue* rx_queue() const noexcept override { return &queue_; }
  [[nodiscard]] std::uint64_t count(std::size_t group) const noexcept {
    return counts_[group].load(std::memory_order_relaxed);
  }

 private:
  net::Queue& queue_;
  const std::vector<std::uint32_t>& groups_;
  std::array<std::atomic<std::uint64_t>, max_groups> counts_{};
};

static int fail(const Error& error) {
  std::fprintf(stderr, "multicast_subscriber: %s\n", error.describe().c_str());
  return 1;
}

int main(int argc, char** argv) {
  if (argc < 4 || argc - 3 > static_cast<int>(max_groups)) {
    return std::fprintf(stderr, "usage: %s PORT_SPEC CPU GROUP [GROUP...] (at most %zu)\n", argv[0], max_groups), 2;
  }
  std::vector<std::uint32_t> groups;
  for (int i = 3; i < argc; ++i) {
    auto group = net::parse_ipv4_be(argv[i]);
    if (!group) return std::fprintf(stderr, "multicast_subscriber: '%s' is not an IPv4 address\n", argv[i]), 2;
    groups.push_back(*group);
  }
  runtime::RuntimeConfig config;
  config.lock_memory = false;
  config.add_port("feed", argv[1]);
  config.add_worker("rx", std::stoul(argv[2]), {"count"});
  auto rt = runtime::Runtime::create(std::move(config));
  if (!rt) return fail(rt.error());
  net::Port& port = *(*rt)->port("feed").value();
  for (std::size_t g = 0; g < groups.size(); ++g) {
    if (auto joined = port.join_multicast(groups[g]); !joined) {
      std::fprintf(stderr, "multicast_subscriber: cannot join %s: %s\n", argv[3 + g],
                   joined.error().describe().c_str());
      return 3;
    }
  }

  GroupCounter counter(port.queue(0), groups);
  if (auto added = (*rt)->add_poller("count", counter); !added) return fail(added.error());
  std::vector<std::uint64_t> last(groups.size(), 0);
  runtime::RunOptions options;
  options.control_interval = std::chrono::seconds(1);
  options.on_tick = [&](std::chrono::nanoseconds elapsed) {  // the control thread, once a second
    std::printf("%6.1f s", std::chrono::duration<double>(elapsed).count());
    for (std::size_t g = 0; g < groups.size(); ++g) {
      const std::uint64_t now = counter.count(g);
      std::printf("  %s %llu/s", argv[3 + g], static_cast<unsigned long long>(now - last[g]));
      last[g] = now;
    }
    std::printf("\n");
    std::fflush(stdout);
  };
  auto report = (*rt)->run(options);
  if (!report) return fail(report.error());
  return 0;
}
