// Whether the TPM character device a "device:" TCTI names exists, checked
// before libtss2 is asked to open it: libtss2's own failure ("Failed to
// open specified TCTI") does not say that the machine has no TPM at all.
#pragma once

#include <filesystem>
#include <string_view>

#include "aether/core/result.hpp"

namespace aether::attest {

// `tcti` as for TpmOptions::tcti. Only "device:PATH" is checked (other
// TCTIs, and "device" without a path, pass). `dev_directory` is where the
// kernel's TPM nodes are listed (/dev; a test passes its own).
// Errors (std::errc::no_such_device), naming the path and what exists:
//   no TPM in this machine: device:/dev/tpmrm0 names /dev/tpmrm0, which does
//   not exist, and there is no /dev/tpm* at all (the kernel found no TPM ...)
//   /dev/tpmrm0 does not exist; this machine has /dev/tpm0: pass --tcti device:/dev/tpm0
[[nodiscard]] Result<void> check_tpm_device(std::string_view tcti,
                                            const std::filesystem::path& dev_directory = "/dev");

}  // namespace aether::attest
