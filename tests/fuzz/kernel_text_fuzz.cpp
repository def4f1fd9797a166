// Fuzz target: the kernel's text files Aether parses (sysfs and procfs), as
// a host, a container or a fake tree may present them. Byte 0 picks the
// parser; the rest is the file's content. Invariant: no crash, hang or
// sanitizer report, whatever the file holds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "aether/core/text_file.hpp"
#include "aether/partition/cgroup.hpp"
#include "aether/partition/irq.hpp"
#include "aether/partition/kernel_version.hpp"
#include "aether/partition/knobs.hpp"
#include "aether/vfio/pci_address.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 6) {
    case 0: {  // /proc/interrupts
      for (const auto& line : aether::partition::parse_proc_interrupts(text)) {
        for (const auto& [cpu, count] : line.counts) (void)cpu, (void)count;
      }
      break;
    }
    case 1:  // /proc/self/mountinfo
      (void)aether::partition::parse_mountinfo(text);
      break;
    case 2: {  // /proc/sys/kernel/osrelease
      auto version = aether::partition::parse_kernel_version(text);
      if (version) (void)version->at_least(6, 1);
      break;
    }
    case 3:  // /sys/kernel/mm/transparent_hugepage/enabled and the like
      (void)aether::partition::selected_word(text);
      break;
    case 4:  // one integer per file (topology/core_id, ...)
      (void)aether::detail::parse_int_value("/sys/fuzz", text);
      break;
    default: {  // a PCI address (sysfs device names, vfio:BDF specs)
      auto address = aether::vfio::PciAddress::parse(text);
      if (address) {
        auto again = aether::vfio::PciAddress::parse(address->to_string());
        if (!again || again->to_string() != address->to_string()) std::abort();
      }
      break;
    }
  }
  return 0;
}
