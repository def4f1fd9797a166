/* The layout shared by telemetry.bpf.c (clang, BPF target) and
 * src/fluid/telemetry.cpp (g++): one slot of the per-CPU `counters` array.
 * Plain C, fixed-width types only, so both compilers lay it out the same;
 * telemetry.cpp checks sizeof/offsetof with static_assert (STYLE.md 7). */
#ifndef AETHER_FLUID_TELEMETRY_COUNTERS_H
#define AETHER_FLUID_TELEMETRY_COUNTERS_H

/* Syscall classes; the number-to-class table lives in one place,
 * include/aether/fluid/syscall_class.hpp, and is copied into the program's
 * read-only data before load. */
#define FLUID_SYSCALL_CLASSES 5
/* x86_64 syscall numbers are below 512 (the highest in 6.18 is ~470). */
#define FLUID_SYSCALL_TABLE_SIZE 512
/* The tgid bitmap covers PID_MAX_LIMIT on 64-bit (4194304 = 4 << 20): 512 KiB. */
#define FLUID_TGID_WORDS ((4u << 20) / 64)
/* The softirq "watched CPUs" bitmap: CPUs 0..1023. */
#define FLUID_MAX_CPUS 1024

struct fluid_counters {
  __u64 syscalls[FLUID_SYSCALL_CLASSES]; /* indexed by enum SyscallClass */
  __u64 user_page_faults;
  __u64 voluntary_switches;   /* the task blocked (prev_state != running) */
  __u64 involuntary_switches; /* the task was preempted while runnable */
  __u64 runqueue_wait_ns;     /* sum of wakeup/preemption -> on-CPU delays */
  __u64 runqueue_waits;       /* how many delays were summed */
  __u64 softirq_ns;           /* softirq time on watched CPUs */
  __u64 softirq_entry_ns;     /* scratch: this CPU's current softirq start (0: none) */
};

#endif
