// The x86_64 syscall-number -> class table (arch/x86/entry/syscalls/syscall_64.tbl).
// Numbers come from glibc's <sys/syscall.h> for this architecture, so a name
// is never paired with the wrong number; anything not listed is `other`.
#include "aether/fluid/syscall_class.hpp"

#include <sys/syscall.h>

namespace aether::fluid {

#if !defined(__x86_64__)
#error "the fluid syscall table is x86_64's; add another architecture's table before building there"
#endif

namespace {

struct Entry {
  long number;
  SyscallClass syscall_class;
};

constexpr auto io = SyscallClass::io;
constexpr auto network = SyscallClass::network;
constexpr auto memory = SyscallClass::memory;
constexpr auto sync = SyscallClass::sync;

// clang-format off
constexpr Entry table[] = {
    // I/O on files, pipes and descriptors.
    {SYS_read, io}, {SYS_write, io}, {SYS_open, io}, {SYS_close, io}, {SYS_stat, io}, {SYS_fstat, io},
    {SYS_lstat, io}, {SYS_lseek, io}, {SYS_pread64, io}, {SYS_pwrite64, io}, {SYS_readv, io},
    {SYS_writev, io}, {SYS_access, io}, {SYS_pipe, io}, {SYS_dup, io}, {SYS_dup2, io}, {SYS_sendfile, io},
    {SYS_fcntl, io}, {SYS_flock, io}, {SYS_fsync, io}, {SYS_fdatasync, io}, {SYS_truncate, io},
    {SYS_ftruncate, io}, {SYS_getdents, io}, {SYS_getdents64, io}, {SYS_rename, io}, {SYS_mkdir, io},
    {SYS_rmdir, io}, {SYS_creat, io}, {SYS_link, io}, {SYS_unlink, io}, {SYS_symlink, io},
    {SYS_readlink, io}, {SYS_chmod, io}, {SYS_fchmod, io}, {SYS_chown, io}, {SYS_fchown, io},
    {SYS_statfs, io}, {SYS_fstatfs, io}, {SYS_sync, io}, {SYS_readahead, io}, {SYS_openat, io},
    {SYS_mkdirat, io}, {SYS_newfstatat, io}, {SYS_unlinkat, io}, {SYS_renameat, io}, {SYS_linkat, io},
    {SYS_symlinkat, io}, {SYS_readlinkat, io}, {SYS_faccessat, io}, {SYS_splice, io}, {SYS_tee, io},
    {SYS_sync_file_range, io}, {SYS_vmsplice, io}, {SYS_fallocate, io}, {SYS_dup3, io}, {SYS_pipe2, io},
    {SYS_preadv, io}, {SYS_pwritev, io}, {SYS_syncfs, io}, {SYS_renameat2, io}, {SYS_copy_file_range, io},
    {SYS_preadv2, io}, {SYS_pwritev2, io}, {SYS_statx, io}, {SYS_io_setup, io}, {SYS_io_destroy, io},
    {SYS_io_getevents, io}, {SYS_io_submit, io}, {SYS_io_cancel, io}, {SYS_io_pgetevents, io},
    {SYS_io_uring_setup, io}, {SYS_io_uring_enter, io}, {SYS_io_uring_register, io}, {SYS_openat2, io},
    {SYS_close_range, io}, {SYS_faccessat2, io}, {SYS_eventfd, io}, {SYS_eventfd2, io},
    // Sockets.
    {SYS_socket, network}, {SYS_connect, network}, {SYS_accept, network}, {SYS_sendto, network},
    {SYS_recvfrom, network}, {SYS_sendmsg, network}, {SYS_recvmsg, network}, {SYS_shutdown, network},
    {SYS_bind, network}, {SYS_listen, network}, {SYS_getsockname, network}, {SYS_getpeername, network},
    {SYS_socketpair, network}, {SYS_setsockopt, network}, {SYS_getsockopt, network},
    {SYS_accept4, network}, {SYS_recvmmsg, network}, {SYS_sendmmsg, network},
    // The address space.
    {SYS_mmap, memory}, {SYS_mprotect, memory}, {SYS_munmap, memory}, {SYS_brk, memory},
    {SYS_mremap, memory}, {SYS_msync, memory}, {SYS_mincore, memory}, {SYS_madvise, memory},
    {SYS_mlock, memory}, {SYS_munlock, memory}, {SYS_mlockall, memory}, {SYS_munlockall, memory},
    {SYS_remap_file_pages, memory}, {SYS_mbind, memory}, {SYS_set_mempolicy, memory},
    {SYS_get_mempolicy, memory}, {SYS_migrate_pages, memory}, {SYS_move_pages, memory},
    {SYS_mlock2, memory}, {SYS_pkey_mprotect, memory}, {SYS_memfd_create, memory},
    {SYS_process_madvise, memory}, {SYS_membarrier, memory},
    // Waiting and synchronisation.
    {SYS_poll, sync}, {SYS_select, sync}, {SYS_sched_yield, sync}, {SYS_pause, sync},
    {SYS_nanosleep, sync}, {SYS_wait4, sync}, {SYS_futex, sync}, {SYS_epoll_create, sync},
    {SYS_epoll_wait, sync}, {SYS_epoll_ctl, sync}, {SYS_clock_nanosleep, sync}, {SYS_pselect6, sync},
    {SYS_ppoll, sync}, {SYS_epoll_pwait, sync}, {SYS_epoll_create1, sync}, {SYS_waitid, sync},
    {SYS_rt_sigsuspend, sync}, {SYS_rt_sigtimedwait, sync}, {SYS_semop, sync}, {SYS_semtimedop, sync},
    {SYS_msgsnd, sync}, {SYS_msgrcv, sync}, {SYS_mq_timedsend, sync}, {SYS_mq_timedreceive, sync},
    {SYS_futex_waitv, sync}, {SYS_epoll_pwait2, sync},
};
// clang-format on

}  // namespace

std::string_view syscall_class_name(SyscallClass syscall_class) noexcept {
  switch (syscall_class) {
    case SyscallClass::io: return "io";
    case SyscallClass::network: return "network";
    case SyscallClass::memory: return "memory";
    case SyscallClass::sync: return "sync";
    case SyscallClass::other: return "other";
  }
  return "other";
}

SyscallClass classify_syscall_x86_64(long number) noexcept {
  for (const Entry& entry : table) {
    if (entry.number == number) return entry.syscall_class;
  }
  return SyscallClass::other;
}

std::array<std::uint8_t, syscall_table_size> syscall_class_table_x86_64() noexcept {
  std::array<std::uint8_t, syscall_table_size> result{};
  result.fill(static_cast<std::uint8_t>(SyscallClass::other));
  for (const Entry& entry : table) {
    if (entry.number >= 0 && static_cast<std::size_t>(entry.number) < syscall_table_size) {
      result[static_cast<std::size_t>(entry.number)] = static_cast<std::uint8_t>(entry.syscall_class);
    }
  }
  return result;
}

}  // namespace aether::fluid
