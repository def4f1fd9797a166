// SwtpmProcess: a private software TPM (swtpm 0.7, `swtpm socket --tpm2`) in
// a fresh temporary directory, listening on a unix socket there: freshly
// manufactured, reachable only by this machine's users who can open the
// directory. Used by the tests and by `aether bench attest` when no --tcti is
// given. The destructor stops it (SIGTERM, waitpid) and removes the
// directory. Control path only.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

#include "aether/core/result.hpp"

namespace aether::attest {

class SwtpmProcess {
 public:
  // Starts swtpm and waits (up to 10 s) until its socket accepts; the Error
  // says when swtpm is not installed or did not come up (with its log).
  static Result<SwtpmProcess> start();

  SwtpmProcess(SwtpmProcess&& other) noexcept;
  SwtpmProcess& operator=(SwtpmProcess&& other) noexcept;
  SwtpmProcess(const SwtpmProcess&) = delete;
  SwtpmProcess& operator=(const SwtpmProcess&) = delete;
  ~SwtpmProcess();

  // The TCTI configuration: "swtpm:path=<dir>/swtpm.sock" (control channel at
  // <socket>.ctrl, where libtss2's swtpm TCTI looks for it).
  [[nodiscard]] std::string tcti() const;
  [[nodiscard]] const std::filesystem::path& directory() const noexcept { return directory_; }
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

 private:
  SwtpmProcess(std::filesystem::path directory, pid_t pid) : directory_(std::move(directory)), pid_(pid) {}
  void stop() noexcept;

  std::filesystem::path directory_;
  pid_t pid_ = -1;
};

}  // namespace aether::attest
