// `aether vfio-probe BDF` (hidden): opens a device bound to vfio-pci
// through the VFIO layer and exercises it without driving it: device and
// region info, config space, BAR mmap, a DMA mapping, MSI-X setup, reset.
// Used by the guest tests and for diagnosing a host.
#pragma once

#include <CLI/CLI.hpp>

namespace aether::cli {

void register_vfio_probe(CLI::App& app, int& exit_code);

}  // namespace aether::cli
