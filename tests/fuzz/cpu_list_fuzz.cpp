// Fuzz target: CPU lists ("0-3,8-11:2/4,N") as the user, the kernel command
// line and sysfs (cpus_allowed_list, isolated, ...) write them, and the
// hexadecimal CPU masks of /proc/irq/*/smp_affinity. Invariants: no crash
// or sanitizer report; a parsed list is sorted, unique and within range;
// formatting it and parsing again gives the same list; a mask's CPUs too.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "aether/core/cpu_list.hpp"
#include "aether/partition/cpu_mask.hpp"

namespace {

void check_list(const std::vector<unsigned>& cpus, unsigned last) {
  if (!std::is_sorted(cpus.begin(), cpus.end())) std::abort();
  if (std::adjacent_find(cpus.begin(), cpus.end()) != cpus.end()) std::abort();
  if (!cpus.empty() && cpus.back() > last) std::abort();
  auto again = aether::parse_cpu_list(aether::format_cpu_list(cpus));
  if (!again || *again != cpus) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // Byte 0: the "N" of the host (last possible CPU), 0..255.
  const unsigned last_cpu = data[0];
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (auto cpus = aether::parse_cpu_list(text)) check_list(*cpus, aether::max_cpu_id);
  if (auto cpus = aether::parse_cpu_list(text, last_cpu)) check_list(*cpus, aether::max_cpu_id);
  if (auto cpus = aether::partition::parse_cpu_mask(text)) {
    if (!std::is_sorted(cpus->begin(), cpus->end())) std::abort();
  }
  return 0;
}
