// Two workers, one port, two rings: worker "io" receives and sends, worker
// "work" does the processing (here: turning each UDP datagram into its
// reply). The rings are the only thing the workers share; each has one
// producer and one consumer, and no lock.
//
//   io:   port rx --> [to_work] ---------------------.
//   work:             [to_work] -> reply -> [to_io]   |
//   io:   port tx <-------------------------[to_io] <-'
//
//   pipeline PORT_SPEC IO_CPU WORK_CPU [SECONDS]   e.g.  pipeline udp:127.0.0.1:9000 0 1 10
#include <array>
#include <cstdio>
#include <string>

#include <aether/net/frame.hpp>
#include <aether/runtime/pollers.hpp>
#include <aether/runtime/runtime.hpp>

using namespace aether;

// The application's stage: ring in, ring out, one burst per poll.
class ReplyStage final : public dataplane::Poller {
 public:
  ReplyStage(runtime::PacketRing& input, runtime::PacketRing& output) : input_(input), output_(output) {}
  bool poll() noexcept override {
    std::array<net::Packet*, runtime::poller_burst> burst;
    const std::size_t taken = input_.pop_bulk(burst);
    for (std::size_t i = 0; i < taken; ++i) {
      net::FrameError error{};
      if (auto frame = net::parse_udp_frame(std::span(burst[i]->data(), burst[i]->length()), error)) {
        net::swap_for_echo(*frame);
      }
    }
    const std::size_t passed = output_.push_bulk(std::span<net::Packet* const>(burst.data(), taken));
    runtime::free_to_their_pools(std::span<net::Packet* const>(burst.data() + passed, taken - passed));  // full: drop
    return taken > 0;
  }

 private:
  runtime::PacketRing& input_;
  runtime::PacketRing& output_;
};

static int fail(const Error& error) {
  std::fprintf(stderr, "pipeline: %s\n", error.describe().c_str());
  return 1;
}

int main(int argc, char** argv) {
  if (argc < 4) return std::fprintf(stderr, "usage: %s PORT_SPEC IO_CPU WORK_CPU [SECONDS]\n", argv[0]), 2;
  runtime::RuntimeConfig config;
  config.lock_memory = false;
  config.add_port("port", argv[1]);
  // The io worker runs two pollers in turn: receive into one ring, send from the other.
  config.add_worker("io", std::stoul(argv[2]), {"receive", "send"});
  config.add_worker("work", std::stoul(argv[3]), {"reply"});
  auto rt = runtime::Runtime::create(std::move(config));
  if (!rt) return fail(rt.error());

  auto to_work = runtime::PacketRing::create(1024);  // powers of two
  auto to_io = runtime::PacketRing::create(1024);
  if (!to_work || !to_io) return fail(!to_work ? to_work.error() : to_io.error());
  net::Queue& queue = (*rt)->port("port").value()->queue(0);
  runtime::QueueToRing receive(queue, *to_work);
  runtime::RingToQueue send(*to_io, queue);
  ReplyStage reply(*to_work, *to_io);
  for (auto [name, poller] : {std::pair<const char*, dataplane::Poller*>{"receive", &receive},
                              {"send", &send}, {"reply", &reply}}) {
    if (auto added = (*rt)->add_poller(name, *poller); !added) return fail(added.error());
  }

  runtime::RunOptions options;
  if (argc > 4) options.duration = std::chrono::seconds(std::stoul(argv[4]));
  std::fprintf(stderr, "pipeline: answering on %s; Ctrl-C stops\n",
               (*rt)->port("port").value()->info().interface.c_str());
  auto report = (*rt)->run(options);
  if (!report) return fail(report.error());
  std::printf("sent %llu replies, %llu dropped for a full ring\n", static_cast<unsigned long long>(send.sent()),
              static_cast<unsigned long long>(receive.ring_full_drops()));
  return 0;
}
