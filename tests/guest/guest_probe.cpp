// aether_guest_probe: a tiny statically linked program that the harness
// self-test copies into the guest, to prove that host-built binaries run
// there (the initramfs has no libc) and can be pinned to an isolated CPU.
//
// Usage: aether-guest-probe [CPU]
// Prints "probe: cpus_online=N"; with CPU, pins itself there first and
// prints "probe: pinned cpu=<the CPU it then runs on>". Exit status 0, or 1
// if pinning failed.
#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  std::printf("probe: cpus_online=%ld\n", sysconf(_SC_NPROCESSORS_ONLN));
  if (argc < 2) return 0;
  const int cpu = std::atoi(argv[1]);
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    std::perror("probe: sched_setaffinity");
    return 1;
  }
  // The affinity change migrates us before sched_setaffinity returns.
  std::printf("probe: pinned cpu=%d\n", sched_getcpu());
  return 0;
}
