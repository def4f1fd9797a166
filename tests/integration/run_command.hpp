// Runs a command line and captures its stdout, stderr and exit status.
#pragma once

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace aether::test {

struct CommandOutput {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// `command` is passed to /bin/sh; stdout and stderr go to temporary files.
inline CommandOutput run_command(const std::string& command) {
  char out_path[] = "/tmp/aether-test-out-XXXXXX";
  char err_path[] = "/tmp/aether-test-err-XXXXXX";
  const int out_fd = mkstemp(out_path);
  const int err_fd = mkstemp(err_path);
  close(out_fd);
  close(err_fd);
  const std::string full = "(" + command + ") >" + out_path + " 2>" + err_path;
  const int status = std::system(full.c_str());
  CommandOutput result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = slurp(out_path);
  result.err = slurp(err_path);
  unlink(out_path);
  unlink(err_path);
  return result;
}

}  // namespace aether::test
