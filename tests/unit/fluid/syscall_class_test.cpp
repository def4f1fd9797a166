#include "aether/fluid/syscall_class.hpp"

#include <sys/syscall.h>

#include <gtest/gtest.h>

namespace aether::fluid {
namespace {

TEST(SyscallClass, ClassifiesOneSyscallOfEachClass) {
  EXPECT_EQ(classify_syscall_x86_64(SYS_read), SyscallClass::io);
  EXPECT_EQ(classify_syscall_x86_64(SYS_openat), SyscallClass::io);
  EXPECT_EQ(classify_syscall_x86_64(SYS_sendmmsg), SyscallClass::network);
  EXPECT_EQ(classify_syscall_x86_64(SYS_recvfrom), SyscallClass::network);
  EXPECT_EQ(classify_syscall_x86_64(SYS_mmap), SyscallClass::memory);
  EXPECT_EQ(classify_syscall_x86_64(SYS_brk), SyscallClass::memory);
  EXPECT_EQ(classify_syscall_x86_64(SYS_futex), SyscallClass::sync);
  EXPECT_EQ(classify_syscall_x86_64(SYS_epoll_wait), SyscallClass::sync);
  EXPECT_EQ(classify_syscall_x86_64(SYS_getppid), SyscallClass::other);
}

TEST(SyscallClass, UnknownAndOutOfRangeNumbersAreOther) {
  EXPECT_EQ(classify_syscall_x86_64(-1), SyscallClass::other);
  EXPECT_EQ(classify_syscall_x86_64(100000), SyscallClass::other);
}

TEST(SyscallClass, KernelTableAgreesWithTheClassifier) {
  const auto table = syscall_class_table_x86_64();
  for (std::size_t number = 0; number < table.size(); ++number) {
    EXPECT_EQ(table[number], static_cast<std::uint8_t>(classify_syscall_x86_64(static_cast<long>(number)))) << number;
    EXPECT_LT(table[number], syscall_class_count);
  }
}

TEST(SyscallClass, NamesAreStable) {
  EXPECT_EQ(syscall_class_name(SyscallClass::io), "io");
  EXPECT_EQ(syscall_class_name(SyscallClass::network), "network");
  EXPECT_EQ(syscall_class_name(SyscallClass::memory), "memory");
  EXPECT_EQ(syscall_class_name(SyscallClass::sync), "sync");
  EXPECT_EQ(syscall_class_name(SyscallClass::other), "other");
}

}  // namespace
}  // namespace aether::fluid
