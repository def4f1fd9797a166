// The smallest Aether application: answer every UDP datagram on one port,
// from one pinned worker, until Ctrl-C (or SECONDS), then print the counts.
//
//   echo PORT_SPEC CPU [SECONDS]        e.g.  echo udp:127.0.0.1:9000 1 10
//
// The shape every Aether program has: config -> runtime -> pollers -> run -> report.
#include <array>
#include <cstdio>
#include <string>

#include <aether/net/frame.hpp>
#include <aether/runtime/runtime.hpp>

using namespace aether;

// A poller does at most one burst per call and says whether it did work.
// It runs on its worker's thread: no allocation, lock, syscall or exception.
class Echo final : public dataplane::Poller {
 public:
  explicit Echo(net::Queue& queue) : queue_(queue) {}
  bool poll() noexcept override {
    std::array<net::Packet*, 32> burst;
    const unsigned received = queue_.rx_burst(burst);
    unsigned replies = 0;
    for (unsigned i = 0; i < received; ++i) {
      net::FrameError error{};
      auto frame = net::parse_udp_frame(std::span(burst[i]->data(), burst[i]->length()), error);
      if (frame) net::swap_for_echo(*frame);  // swap MACs, IPs and ports: the frame is its own reply
      if (frame) burst[replies++] = burst[i];
      else burst[i]->pool->free_bulk(std::span(&burst[i], 1));  // not UDP: drop it
    }
    const unsigned sent = queue_.tx_burst(std::span(burst.data(), replies));
    if (sent < replies) burst[sent]->pool->free_bulk(std::span(burst.data() + sent, replies - sent));  // tx full
    echoed += sent;
    return received > 0;
  }
  [[nodiscard]] net::Queue* rx_queue() const noexcept override { return &queue_; }
  std::uint64_t echoed = 0;  // read after run() returns

 private:
  net::Queue& queue_;
};

static int fail(const Error& error) {
  std::fprintf(stderr, "echo: %s\n", error.describe().c_str());
  return 1;
}

int main(int argc, char** argv) {
  if (argc < 3) return std::fprintf(stderr, "usage: %s PORT_SPEC CPU [SECONDS]\n", argv[0]), 2;
  runtime::RuntimeConfig config;  // or runtime::load_config("app.toml")
  config.lock_memory = false;     // true (the default) needs CAP_IPC_LOCK or a large ulimit -l
  config.add_port("in", argv[1]);                            // a pool of its own, 4096 buffers
  config.add_worker("echo", std::stoul(argv[2]), {"echo"});  // pinned to CPU argv[2], runs poller "echo"
  auto rt = runtime::Runtime::create(std::move(config));  // places, allocates, opens
  if (!rt) return fail(rt.error());

  Echo echo((*rt)->port("in").value()->queue(0));
  if (auto added = (*rt)->add_poller("echo", echo); !added) return fail(added.error());
  runtime::RunOptions options;
  if (argc > 3) options.duration = std::chrono::seconds(std::stoul(argv[3]));
  std::fprintf(stderr, "echo: answering on %s; Ctrl-C stops\n", (*rt)->port("in").value()->info().interface.c_str());
  auto report = (*rt)->run(options);
  if (!report) return fail(report.error());
  std::printf("echoed %llu datagrams in %.1f s\n", static_cast<unsigned long long>(echo.echoed),
              std::chrono::duration<double>(report->elapsed).count());
  return 0;
}
