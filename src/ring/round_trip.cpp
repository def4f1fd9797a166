// Ring round trip between two pinned threads; see ring/round_trip.hpp for
// the method and its sources.
#include "aether/ring/round_trip.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <fstream>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aether/core/cpu_list.hpp"
#include "aether/core/log.hpp"
#include "aether/core/thread_setup.hpp"
#include "aether/ring/spsc_ring.hpp"

namespace aether {
namespace {

// Slots per ring. Ping-pong keeps one message in flight, so any capacity
// works; a few hundred slots let the producer re-read the consumer's index
// only once per `capacity` pushes instead of on every push (capacity 1 would
// add a cache-line transfer to every round trip and stop being the floor).
constexpr std::size_t ring_capacity = 256;

constexpr std::size_t min_message_size = 16;
constexpr std::size_t max_message_size = 4096;

// The message: a sequence number (checked on return, so a lost or reordered
// echo is an error, not a fast sample) and the initiator's tick stamp (read
// back from the echo, so the stamp itself makes the round trip).
template <std::size_t Size>
struct RoundTripMessage {
  std::uint64_t sequence;
  std::uint64_t stamp;
  std::array<std::byte, Size - 16> payload;  // carried both ways, never read
};
template <>
struct RoundTripMessage<16> {  // std::array<T, 0> is not zero-sized
  std::uint64_t sequence;
  std::uint64_t stamp;
};

// Tick policies, chosen once per run (STYLE.md convention 9). start() may
// execute early relative to later instructions only by the lfence margin;
// stop() waits for the reply's loads to complete (see core/clock.hpp).
struct TscTimer {
  static std::uint64_t start() noexcept { return tsc_now(); }
  static std::uint64_t stop() noexcept { return tsc_now_ordered(); }
};
struct MonotonicTimer {
  static std::uint64_t start() noexcept { return monotonic_raw_ns(); }
  static std::uint64_t stop() noexcept { return monotonic_raw_ns(); }
};

// Releases both threads at once after each has pinned itself and the
// initiator has allocated. A thread whose setup failed calls abort() instead
// of arriving, and the other one returns false instead of spinning forever.
class SpinBarrier {
 public:
  explicit SpinBarrier(unsigned parties) noexcept : parties_(parties) {}

  [[nodiscard]] bool arrive_and_wait() noexcept {
    // Release: publishes what this thread wrote before arriving (the rings
    // and sample buffer from the initiator). The acquire loads below pair
    // with the other threads' release increments, so after the wait every
    // thread sees what all others wrote before arriving.
    arrived_.fetch_add(1, std::memory_order_acq_rel);
    while (arrived_.load(std::memory_order_acquire) < parties_) {
      // Relaxed: nothing is published through the abort flag.
      if (aborted_.load(std::memory_order_relaxed)) return false;
    }
    return true;
  }

  void abort() noexcept { aborted_.store(true, std::memory_order_relaxed); }

 private:
  const unsigned parties_;
  std::atomic<unsigned> arrived_{0};
  std::atomic<bool> aborted_{false};
};

// State shared by the two threads. Fields written during the run sit on
// their own cache lines (the rings align themselves; `stop` is read by the
// responder on every empty poll and written only to end the run).
template <class Message>
struct Session {
  SpinBarrier barrier{2};
  alignas(cache_line_size) std::atomic<bool> stop{false};
  // Written by the initiator before it arrives at the barrier; read by the
  // responder after it (the barrier publishes them).
  std::optional<SpscRing<Message>> request_ring;
  std::optional<SpscRing<Message>> response_ring;
  // Initiator only during the run; read by the caller after join().
  std::vector<std::uint32_t> samples;  // ticks per recorded round trip, saturated
  std::uint64_t elapsed_ticks = 0;
  Result<void> initiator_status;
  Result<void> responder_status;
};

// Pins the calling thread; the error says which of the two threads failed.
Result<void> pin_thread(unsigned cpu, std::string_view role) {
  if (auto pinned = pin_current_thread(cpu); !pinned) {
    return Error{pinned.error().code, fmt::format("ring round trip, {} thread: {}", role, pinned.error().message)};
  }
  return {};
}

Result<void> validate(const RingRoundTripConfig& config) {
  if (config.initiator_cpu == config.responder_cpu) {
    return invalid_argument(fmt::format(
        "initiator_cpu and responder_cpu are both CPU {}: two busy-polling threads on one CPU hand over only when the "
        "scheduler preempts one, so the result would measure the scheduler; choose two different CPUs",
        config.initiator_cpu));
  }
  if (config.messages == 0 || config.messages > ring_round_trip_max_messages) {
    return invalid_argument(
        fmt::format("messages {} is outside 1..{}", config.messages, ring_round_trip_max_messages));
  }
  if (config.message_size < min_message_size || config.message_size > max_message_size ||
      !std::has_single_bit(config.message_size)) {
    return invalid_argument(fmt::format("message_size {} is not a power of two in {}..{}", config.message_size,
                                        min_message_size, max_message_size));
  }
  constexpr std::string_view online_path = "/sys/devices/system/cpu/online";
  std::optional<std::vector<unsigned>> online;
  if (std::ifstream file{std::string(online_path)}; file) {
    std::string text;
    std::getline(file, text);
    auto parsed = parse_cpu_list(text);
    if (!parsed) return Error{parsed.error().code, fmt::format("{}: {}", online_path, parsed.error().message)};
    online = std::move(parsed).value();
  } else {
    // Without sysfs (some containers) pinning still refuses offline CPUs,
    // only later (after calibration) and without naming the config field.
    log::debug("cannot read {}; leaving offline CPUs to pin_current_thread", online_path);
  }
  for (const auto& [role, cpu] : {std::pair{"initiator_cpu", config.initiator_cpu},
                                  std::pair{"responder_cpu", config.responder_cpu}}) {
    if (cpu > max_cpu_id) {
      return invalid_argument(fmt::format("{} {} is out of range (the largest CPU number Aether accepts is {})", role,
                                          cpu, max_cpu_id));
    }
    if (online && !cpu_list_contains(*online, cpu)) {
      return invalid_argument(
          fmt::format("{} {} is not online (online CPUs: {}, from {})", role, cpu, format_cpu_list(*online), online_path));
    }
  }
  return {};
}

// Runs on the pinned initiator thread, before the barrier.
template <class Message>
Result<void> allocate(Session<Message>& session, std::uint64_t messages) {
  auto request_ring = SpscRing<Message>::create(ring_capacity);
  if (!request_ring) return std::move(request_ring).error();
  auto response_ring = SpscRing<Message>::create(ring_capacity);
  if (!response_ring) return std::move(response_ring).error();
  session.request_ring.emplace(std::move(request_ring).value());
  session.response_ring.emplace(std::move(response_ring).value());
  try {
    // Value-initialisation writes every element, which faults every page in now.
    session.samples.assign(messages, 0);
  } catch (const std::bad_alloc&) {
    return Error{std::make_error_code(std::errc::not_enough_memory),
                 fmt::format("cannot allocate {} bytes for {} round-trip samples", messages * sizeof(std::uint32_t),
                             messages)};
  }
  return {};
}

// Each thread's start: pin, then `prepare` (the initiator's allocations),
// then the barrier. Returns false if this or the other thread failed; this
// thread's error is then in `status`.
template <class Message, class Prepare>
bool start_thread(Session<Message>& session, unsigned cpu, std::string_view role, Result<void>& status,
                  Prepare&& prepare) {
  Result<void> ready = pin_thread(cpu, role);
  if (ready) ready = prepare();
  if (!ready) {
    status = std::move(ready);
    session.barrier.abort();
    return false;
  }
  return session.barrier.arrive_and_wait();
}

template <class Message, class Timer>
void run_initiator(Session<Message>& session, const RingRoundTripConfig& config) noexcept {
  const auto allocate_after_pinning = [&] { return allocate(session, config.messages); };
  if (!start_thread(session, config.initiator_cpu, "initiator", session.initiator_status, allocate_after_pinning)) {
    return;
  }

  SpscRing<Message>& request_ring = *session.request_ring;
  SpscRing<Message>& response_ring = *session.response_ring;
  std::uint32_t* const samples = session.samples.data();
  const std::uint64_t total = config.warmup_messages + config.messages;
  Message request{};
  Message reply{};
  std::uint64_t first_recorded = Timer::start();
  for (std::uint64_t sequence = 0; sequence < total; ++sequence) {
    if (sequence == config.warmup_messages) first_recorded = Timer::start();
    request.sequence = sequence;
    request.stamp = Timer::start();
    while (!request_ring.try_push(request)) {
      // Never spins: one message is in flight and the ring holds 256.
    }
    while (!response_ring.try_pop(reply)) {
      // Busy-poll without pause; see the header comment.
    }
    const std::uint64_t now = Timer::stop();
    if (reply.sequence != sequence) {
      session.initiator_status = Error{std::make_error_code(std::errc::protocol_error),
                                       fmt::format("ring round trip: sent sequence {}, got {} back", sequence,
                                                   reply.sequence)};
      session.stop.store(true, std::memory_order_relaxed);
      return;
    }
    if (sequence >= config.warmup_messages) {
      samples[sequence - config.warmup_messages] = static_cast<std::uint32_t>(
          std::min<std::uint64_t>(now - reply.stamp, std::numeric_limits<std::uint32_t>::max()));
    }
  }
  session.elapsed_ticks = Timer::stop() - first_recorded;
}

template <class Message>
void run_responder(Session<Message>& session, const RingRoundTripConfig& config) noexcept {
  const auto nothing_to_prepare = [] { return Result<void>{}; };
  if (!start_thread(session, config.responder_cpu, "responder", session.responder_status, nothing_to_prepare)) {
    return;
  }

  SpscRing<Message>& request_ring = *session.request_ring;
  SpscRing<Message>& response_ring = *session.response_ring;
  const std::uint64_t total = config.warmup_messages + config.messages;
  Message message{};
  for (std::uint64_t echoed = 0; echoed < total; ++echoed) {
    // `stop` is relaxed: it carries no data, it only needs to be seen
    // eventually; its cache line stays shared in this core's cache until the
    // initiator writes it, so checking it on empty polls costs an L1 hit.
    while (!request_ring.try_pop(message)) {
      if (session.stop.load(std::memory_order_relaxed)) return;
    }
    while (!response_ring.try_push(message)) {
      if (session.stop.load(std::memory_order_relaxed)) return;
    }
  }
}

template <class Message, class Timer>
Result<RingRoundTripResult> run(const RingRoundTripConfig& config, const Clock& clock) {
  static_assert(sizeof(Message) >= 16 && std::has_single_bit(sizeof(Message)));
  // Allocated before pinning, but holds only control state: everything the
  // timed loop touches is allocated by the pinned initiator.
  auto session = std::make_unique<Session<Message>>();
  std::optional<std::thread> responder;
  try {
    responder.emplace([&session, &config] { run_responder(*session, config); });
    std::thread initiator([&session, &config] { run_initiator<Message, Timer>(*session, config); });
    initiator.join();
  } catch (const std::system_error& error) {  // std::thread could not start one of them
    session->barrier.abort();
    if (responder) responder->join();
    return Error{error.code(), "cannot start the ring round-trip threads"};
  }
  responder->join();
  if (!session->initiator_status) return std::move(session->initiator_status).error();
  if (!session->responder_status) return std::move(session->responder_status).error();

  RingRoundTripResult result;
  for (const std::uint32_t ticks : session->samples) result.round_trip_ns.record(clock.to_ns(ticks));
  result.messages = config.messages;
  result.elapsed_ns = clock.to_ns(session->elapsed_ticks);
  result.initiator_cpu = config.initiator_cpu;
  result.responder_cpu = config.responder_cpu;
  result.message_size = sizeof(Message);
  result.clock_source = clock.source();
  result.ticks_per_ns = clock.ticks_per_ns();
  return result;
}

template <std::size_t Size>
Result<RingRoundTripResult> run_sized(const RingRoundTripConfig& config, const Clock& clock) {
  static_assert(sizeof(RoundTripMessage<Size>) == Size);
  if (clock.source() == ClockSource::tsc) return run<RoundTripMessage<Size>, TscTimer>(config, clock);
  return run<RoundTripMessage<Size>, MonotonicTimer>(config, clock);
}

}  // namespace

Result<RingRoundTripResult> measure_ring_round_trip(const RingRoundTripConfig& config) {
  if (auto valid = validate(config); !valid) return std::move(valid).error();
  const Clock clock = Clock::calibrate();
  switch (config.message_size) {
    case 16: return run_sized<16>(config, clock);
    case 32: return run_sized<32>(config, clock);
    case 64: return run_sized<64>(config, clock);
    case 128: return run_sized<128>(config, clock);
    case 256: return run_sized<256>(config, clock);
    case 512: return run_sized<512>(config, clock);
    case 1024: return run_sized<1024>(config, clock);
    case 2048: return run_sized<2048>(config, clock);
    case 4096: return run_sized<4096>(config, clock);
    default: break;  // validate() admits only the sizes above
  }
  return invalid_argument(fmt::format("message_size {} is not supported", config.message_size));
}

void to_json(nlohmann::json& json, const RingRoundTripResult& result) {
  json = nlohmann::json{
      {"initiator_cpu", result.initiator_cpu},
      {"responder_cpu", result.responder_cpu},
      {"message_size", result.message_size},
      {"messages", result.messages},
      {"elapsed_ns", result.elapsed_ns},
      {"clock_source", to_string(result.clock_source)},
      {"ticks_per_ns", result.ticks_per_ns},
      {"round_trip_ns", result.round_trip_ns.to_json()},
  };
}

}  // namespace aether
