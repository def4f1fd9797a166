// The ring round trip: the "physical floor" of inter-core communication.
//
// Two threads pinned to two CPUs play ping-pong over a pair of SpscRings:
// the initiator stamps a message with the TSC and pushes it on the request
// ring; the responder busy-polls that ring and pushes the message back on the
// response ring; the initiator busy-polls the response ring and records
// now - stamp. What remains is the cost of moving a few cache lines between
// the two cores and back (message slot and ring index, each way), which no
// Aether data path between those cores can beat. `aether bench` prints it as
// the reference line next to the real data paths.
//
// Method (rt-tests' cyclictest/oslat discipline, STYLE.md convention 11):
//  - the clock is calibrated (aether::Clock) before the threads start;
//  - each thread pins itself first, and the rings and the sample buffer are
//    allocated and pre-faulted by the pinned initiator, so their pages are
//    local to it and no page fault lands in the timed loop;
//  - both threads start behind a spin barrier, then run `warmup_messages`
//    unrecorded round trips, then `messages` recorded ones;
//  - each round trip is timed in raw ticks (lfence;rdtsc before the push,
//    rdtscp;lfence after the reply arrives) and stored; ticks are converted to
//    nanoseconds once, after the run, into the histogram.
//  - both sides busy-poll without a pause instruction: the floor is what the
//    hardware does when nobody waits voluntarily (pause costs ~140 cycles on
//    Skylake and later; Intel Optimization Reference Manual, "Pause Latency
//    in Skylake Microarchitecture").
// The function does not call mlockall(): it is process-wide, so it is the
// application's decision; pre-faulting covers this function's own memory.
//
// Control path: allocates, creates threads, returns Result. It blocks for
// the run plus ~100 ms of clock calibration.
#pragma once

#include <cstddef>
#include <cstdint>

#include <nlohmann/json_fwd.hpp>

#include "aether/core/clock.hpp"
#include "aether/core/result.hpp"
#include "aether/stats/latency_histogram.hpp"

namespace aether {

struct RingRoundTripConfig {
  unsigned initiator_cpu = 0;
  unsigned responder_cpu = 1;
  std::uint64_t warmup_messages = 10'000;
  std::uint64_t messages = 1'000'000;  // recorded round trips; 1 .. ring_round_trip_max_messages
  // Bytes per message: a power of two from 16 to 4096. The message carries a
  // sequence number and the TSC stamp in its first 16 bytes; the rest is
  // payload that travels both ways. 64 is one cache line per slot.
  std::size_t message_size = 64;
};

// Upper bound of RingRoundTripConfig::messages: one 4-byte tick sample is kept
// per message, so this caps the sample buffer at 1 GiB.
inline constexpr std::uint64_t ring_round_trip_max_messages = std::uint64_t{1} << 28;

struct RingRoundTripResult {
  LatencyHistogram round_trip_ns;  // one sample per recorded message
  std::uint64_t messages = 0;      // recorded round trips (== round_trip_ns.count())
  std::uint64_t elapsed_ns = 0;    // wall time of the recorded phase
  unsigned initiator_cpu = 0;
  unsigned responder_cpu = 0;
  std::size_t message_size = 0;
  ClockSource clock_source = ClockSource::monotonic_raw;
  double ticks_per_ns = 1.0;  // the calibration used to convert samples
};

// Runs the ping-pong described above.
// Errors (std::errc::invalid_argument unless noted, each naming the value):
//  - initiator_cpu == responder_cpu (two busy-pollers on one CPU would only
//    hand over at scheduler preemption: the result would measure the
//    scheduler, not the ring);
//  - a CPU number above aether::max_cpu_id (core/cpu_list.hpp), or not
//    listed in /sys/devices/system/cpu/online;
//  - pinning refused by the kernel (e.g. the CPU is outside the caller's
//    affinity or cpuset; the errno and explanation of
//    aether::pin_current_thread, core/thread_setup.hpp);
//  - messages == 0 or above ring_round_trip_max_messages, unsupported
//    message_size;
//  - allocation failure (std::errc::not_enough_memory).
[[nodiscard]] Result<RingRoundTripResult> measure_ring_round_trip(const RingRoundTripConfig& config);

// Lets nlohmann::json convert a result implicitly: `json j = result;` gives
// {"initiator_cpu","responder_cpu","message_size","messages","elapsed_ns",
//  "clock_source","ticks_per_ns","round_trip_ns":<LatencyHistogram::to_json()>}
void to_json(nlohmann::json& json, const RingRoundTripResult& result);

}  // namespace aether
