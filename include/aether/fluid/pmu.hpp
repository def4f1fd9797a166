// Hardware counters (instructions, cycles, last-level-cache misses) of the
// watched tgids through perf_event_open, where the hardware has them. Where
// it does not (a VM without a virtual PMU: ENOENT, EOPNOTSUPP, ENODEV) or
// perf refuses (EACCES: kernel.perf_event_paranoid), the figures are reported
// *unavailable* with the reason, never estimated.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "aether/core/unique_fd.hpp"
#include "aether/fluid/features.hpp"

namespace aether::fluid {

class PmuCounters {
 public:
  PmuCounters() = default;

  // Opens the three counters on every current thread of each tgid (threads
  // created later are followed through `inherit`). Never fails: on any error
  // the counters are unavailable and unavailable_reason() says why.
  void open(const std::vector<pid_t>& tgids);

  [[nodiscard]] bool available() const noexcept { return reason_.empty(); }
  [[nodiscard]] const std::string& unavailable_reason() const noexcept { return reason_; }

  // The figures since the previous call (the first call: since open()).
  [[nodiscard]] PmuFigures read_interval();

 private:
  struct Totals {
    std::uint64_t instructions = 0, cycles = 0, llc_misses = 0;
  };
  std::vector<UniqueFd> instructions_, cycles_, llc_misses_;
  Totals last_;
  std::string reason_ = "not opened";
};

}  // namespace aether::fluid
