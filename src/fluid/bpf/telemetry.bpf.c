// SPDX-License-Identifier: GPL-2.0
/* Fluid-partition telemetry: per-CPU counters for a watched set of tgids.
 *
 * Every program is tp_btf (BTF-typed raw tracepoint): the cheapest attach
 * type measured (docs/fluid.md), and it needs no tracefs (not mounted on our
 * hosts) and no per-kernel ctx struct (the page_fault_user ctx type was
 * renamed between 6.1 and 6.18; the tp_btf arguments did not change).
 *
 * No event leaves the kernel: counters are summed per CPU in `counters` and
 * read by user space once per interval. The filter is `watched_tgids`. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "telemetry_counters.h"

char LICENSE[] SEC("license") = "GPL"; /* tracing helpers are GPL-only */

/* Set before load from include/aether/fluid/syscall_class.hpp. */
const volatile __u8 syscall_class_of[FLUID_SYSCALL_TABLE_SIZE];

/* Written by user space through the mmapped .bss: bit n = CPU n is watched
 * for softirq time. A 64-bit store is atomic on x86_64, so a reader sees a
 * word either before or after an update. */
__u64 watched_cpus[FLUID_MAX_CPUS / 64];

/* The filter: bit (tgid % 64) of word (tgid / 64) is set for a watched tgid
 * (init PID namespace). An array, not a hash: the verifier inlines an array
 * lookup into a bounds check and an add, where a hash lookup is a helper call
 * that hashes the key, and the filter runs on every syscall of the host. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, FLUID_TGID_WORDS);
  __type(key, __u32);
  __type(value, __u64);
} watched_tgids SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct fluid_counters);
} counters SEC(".maps");

/* When a watched thread became runnable (wakeup or preemption), by tid. LRU,
 * so threads that exit while runnable cannot fill it. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, __u32);
  __type(value, __u64);
} runnable_since SEC(".maps");

static __always_inline int is_watched(__u32 tgid) {
  __u32 word = tgid / 64;
  __u64 *bits = bpf_map_lookup_elem(&watched_tgids, &word); /* NULL past the end */
  return bits && ((*bits >> (tgid % 64)) & 1);
}

static __always_inline struct fluid_counters *this_cpu_counters(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&counters, &zero);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(fluid_sys_enter, struct pt_regs *regs, long id) {
  if (!is_watched(bpf_get_current_pid_tgid() >> 32)) return 0;
  struct fluid_counters *c = this_cpu_counters();
  if (!c) return 0;
  __u32 klass = 4; /* other, for numbers outside the table (e.g. x32) */
  if (id >= 0 && id < FLUID_SYSCALL_TABLE_SIZE) klass = syscall_class_of[id];
  if (klass < FLUID_SYSCALL_CLASSES) c->syscalls[klass]++;
  return 0;
}

SEC("tp_btf/page_fault_user")
int BPF_PROG(fluid_page_fault_user, unsigned long address, struct pt_regs *regs, unsigned long error_code) {
  if (!is_watched(bpf_get_current_pid_tgid() >> 32)) return 0;
  struct fluid_counters *c = this_cpu_counters();
  if (c) c->user_page_faults++;
  return 0;
}

static __always_inline void mark_runnable(struct task_struct *task) {
  if (!is_watched(task->tgid)) return;
  __u32 tid = task->pid;
  __u64 now = bpf_ktime_get_ns();
  bpf_map_update_elem(&runnable_since, &tid, &now, BPF_ANY);
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(fluid_sched_wakeup, struct task_struct *task) {
  mark_runnable(task);
  return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(fluid_sched_wakeup_new, struct task_struct *task) {
  mark_runnable(task);
  return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(fluid_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
             unsigned int prev_state) {
  /* prev_state 0 is TASK_RUNNING: prev stays on the run queue, so the
   * switch was involuntary and its wait starts now (as the kernel counts
   * nivcsw: a preemption, or a switch away while still runnable). */
  if (is_watched(prev->tgid)) {
    struct fluid_counters *c = this_cpu_counters();
    if (c) {
      if (preempt || prev_state == 0) {
        c->involuntary_switches++;
        mark_runnable(prev);
      } else {
        c->voluntary_switches++;
      }
    }
  }
  if (is_watched(next->tgid)) {
    __u32 tid = next->pid;
    __u64 *since = bpf_map_lookup_elem(&runnable_since, &tid);
    if (since) {
      __u64 now = bpf_ktime_get_ns();
      struct fluid_counters *c = this_cpu_counters();
      if (c && now > *since) {
        c->runqueue_wait_ns += now - *since;
        c->runqueue_waits++;
      }
      bpf_map_delete_elem(&runnable_since, &tid);
    }
  }
  return 0;
}

static __always_inline int cpu_is_watched(__u32 cpu) {
  /* The bound is tested on the very register that indexes the array, behind
   * barrier_var() so that clang cannot merge it with a test of `cpu`: 6.1's
   * verifier does not carry a bound from one register to a copy of it that
   * clang zero-extended, rejected the access as possibly out of the array
   * and the whole skeleton failed to load there (EACCES; seen in the 6.1
   * guest, tests/guest/fluid_guest_test.cpp; 6.12 and later accept either). */
  __u32 word = cpu / 64;
  barrier_var(word);
  if (word >= FLUID_MAX_CPUS / 64) return 0;
  return (watched_cpus[word] >> (cpu % 64)) & 1;
}

SEC("tp_btf/softirq_entry")
int BPF_PROG(fluid_softirq_entry, unsigned int vec) {
  if (!cpu_is_watched(bpf_get_smp_processor_id())) return 0;
  struct fluid_counters *c = this_cpu_counters();
  if (c) c->softirq_entry_ns = bpf_ktime_get_ns();
  return 0;
}

SEC("tp_btf/softirq_exit")
int BPF_PROG(fluid_softirq_exit, unsigned int vec) {
  struct fluid_counters *c = this_cpu_counters();
  if (!c || c->softirq_entry_ns == 0) return 0; /* attached mid-softirq, or CPU not watched at entry */
  c->softirq_ns += bpf_ktime_get_ns() - c->softirq_entry_ns;
  c->softirq_entry_ns = 0;
  return 0;
}
