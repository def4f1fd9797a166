#include "aether/attest/tpm_device.hpp"

#include <algorithm>
#include <cctype>
#include <string>
#include <system_error>
#include <vector>

#include <fmt/format.h>

namespace aether::attest {
namespace {

// The kernel's TPM nodes in `dev_directory`: tpm0, tpmrm0, ... (drivers/char/tpm:
// "tpm%d" is the raw device, "tpmrm%d" the resource-managed one), sorted.
std::vector<std::string> tpm_nodes(const std::filesystem::path& dev_directory) {
  std::vector<std::string> nodes;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dev_directory, error)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("tpm") && name.size() > 3 && std::isdigit(static_cast<unsigned char>(name.back())) != 0) {
      nodes.push_back(name);
    }
  }
  std::sort(nodes.begin(), nodes.end());
  return nodes;
}

}  // namespace

Result<void> check_tpm_device(std::string_view tcti, const std::filesystem::path& dev_directory) {
  constexpr std::string_view prefix = "device:";
  if (!tcti.starts_with(prefix) || tcti.size() == prefix.size()) return {};
  const std::filesystem::path path(tcti.substr(prefix.size()));
  std::error_code error;
  if (std::filesystem::exists(path, error)) return {};
  const auto nodes = tpm_nodes(dev_directory);
  const auto no_device = std::make_error_code(std::errc::no_such_device);
  if (nodes.empty()) {
    return Error{no_device,
                 fmt::format("no TPM in this machine: TCTI '{}' names {}, which does not exist, and there is no "
                             "{}/tpm* at all (the kernel found no TPM: none described by the firmware's ACPI tables, "
                             "or its tpm_tis/tpm_crb driver is not loaded or was unbound); attach a TPM (a VM: QEMU "
                             "-tpmdev emulator with -device tpm-tis or tpm-crb) or name another one with --tcti, "
                             "e.g. swtpm:path=SOCKET",
                             tcti, path.string(), dev_directory.string())};
  }
  std::string present;
  for (const auto& node : nodes) present += (present.empty() ? "" : ", ") + (dev_directory / node).string();
  const auto resource_managed =
      std::find_if(nodes.begin(), nodes.end(), [](const std::string& node) { return node.starts_with("tpmrm"); });
  // The resource-managed node first: it flushes a client's objects when the client goes away.
  const std::string& suggestion = resource_managed != nodes.end() ? *resource_managed : nodes.front();
  return Error{no_device, fmt::format("{} does not exist (TCTI '{}'); this machine has {}: pass --tcti device:{}",
                                      path.string(), tcti, present, (dev_directory / suggestion).string())};
}

}  // namespace aether::attest
