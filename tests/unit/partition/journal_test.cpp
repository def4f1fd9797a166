#include "aether/partition/journal.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "aether/partition/journal_lock.hpp"
#include "fake_host.hpp"

namespace aether::partition {
namespace {

using test::read_file;
using test::TempDirectory;
using test::write_file;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const JournalHeader header{{2, 3}, {0, 1}, "6.1.0-28-amd64", "3f1c9a52-8d1e-4b6a-9c0f-2e7d5a4b8c61"};

TEST(Journal, EscapingRoundTrips) {
  for (std::string text : {std::string(""), std::string("always [madvise] never"), std::string("a%b\n\t"),
                           std::string("\x01\xff"), std::string("/sys/fs/my cgroup")}) {
    const std::string escaped = journal_escape(text);
    EXPECT_EQ(escaped.find_first_of(" \n\t"), std::string::npos) << escaped;
    EXPECT_EQ(*journal_unescape(escaped), text);
  }
  EXPECT_FALSE(journal_unescape("%4").ok());
  EXPECT_FALSE(journal_unescape("%zz").ok());
}

TEST(Journal, RecordsAreDurableAndKeepTheOriginals) {
  TempDirectory temp;
  const auto path = temp.path() / "deep" / "dir" / "partition.journal";  // directories are created
  {
    auto journal = Journal::open(path, header);
    ASSERT_TRUE(journal.ok()) << journal.error().describe();
    const std::vector<JournalRecord> records = {
        {JournalRecordKind::file, "/proc/irq/default_smp_affinity", "f", 0, 0},
        {JournalRecordKind::irq, "/proc/irq/24/smp_affinity_list", "0-3", 0, 0},
        {JournalRecordKind::directory, "/sys/fs/cgroup/aether", "", 0, 0},
        {JournalRecordKind::controller, "/sys/fs/cgroup/cgroup.subtree_control", "cpuset", 0, 0},
        {JournalRecordKind::affinity, "", "0-3", 1234, 98765},
        {JournalRecordKind::file, "/sys/kernel/mm/transparent_hugepage/enabled", "always [madvise] never", 0, 0},
        {JournalRecordKind::file, "/sys/fs/cgroup/x/cpuset.cpus", "", 0, 0},
        {JournalRecordKind::hold, "/dev/cpu_dma_latency", "0", 0, 0},
    };
    ASSERT_TRUE(journal->record(records).ok());
    // A second value for a known path or task is not recorded: the original stays.
    ASSERT_TRUE(
        journal->record(JournalRecord{JournalRecordKind::file, "/proc/irq/default_smp_affinity", "3", 0, 0}).ok());
    ASSERT_TRUE(journal->record(JournalRecord{JournalRecordKind::affinity, "", "0-1", 1234, 98765}).ok());
    // The same TID with another start time is another task.
    ASSERT_TRUE(journal->record(JournalRecord{JournalRecordKind::affinity, "", "0-1", 1234, 5}).ok());
    ASSERT_TRUE(journal->mark_complete().ok());
    EXPECT_TRUE(journal->inside_created_directory("/sys/fs/cgroup/aether/cpuset.cpus"));
    EXPECT_TRUE(journal->inside_created_directory("/sys/fs/cgroup/aether"));
    EXPECT_FALSE(journal->inside_created_directory("/sys/fs/cgroup/aether2/cpuset.cpus"));
  }
  const std::string text = read_file(path);
  EXPECT_THAT(text, HasSubstr("aether-partition-journal 2\ncpus =2-3 housekeeping =0-1 kernel =6.1.0-28-amd64 "
                              "boot =3f1c9a52-8d1e-4b6a-9c0f-2e7d5a4b8c61\n"));
  EXPECT_THAT(text, HasSubstr("file /sys/kernel/mm/transparent_hugepage/enabled =always%20[madvise]%20never\n"));
  EXPECT_THAT(text, HasSubstr("affinity 1234 98765 =0-3\n"));
  EXPECT_THAT(text, HasSubstr("hold /dev/cpu_dma_latency =0\n"));
  auto contents = read_journal(path);
  ASSERT_TRUE(contents.ok() && *contents) << (contents.ok() ? "absent" : contents.error().describe());
  const JournalContents& read = **contents;
  EXPECT_TRUE(read.complete);
  EXPECT_FALSE(read.torn_tail);
  EXPECT_THAT(read.header.aether_cpus, ElementsAre(2u, 3u));
  EXPECT_EQ(read.header.boot_id, "3f1c9a52-8d1e-4b6a-9c0f-2e7d5a4b8c61");
  EXPECT_EQ(read.header.kernel_release, "6.1.0-28-amd64");
  ASSERT_EQ(read.records.size(), 9u);
  EXPECT_EQ(read.records[0].previous, "f");
  EXPECT_EQ(read.records[4].tid, 1234);
  EXPECT_EQ(read.records[5].previous, "always [madvise] never");
  EXPECT_EQ(read.records[6].previous, "");
  EXPECT_EQ(read.records[7].kind, JournalRecordKind::hold);
  EXPECT_EQ(read.records[7].path, "/dev/cpu_dma_latency");
  EXPECT_EQ(read.records[7].previous, "0");
  EXPECT_EQ(read.records[8].start_time, 5u);
}

TEST(Journal, ReopeningContinuesAndRefusesOtherCpus) {
  TempDirectory temp;
  const auto path = temp.path() / "j";
  ASSERT_TRUE(Journal::open(path, header)->record(JournalRecord{JournalRecordKind::file, "/a", "1", 0, 0}).ok());
  {
    auto again = Journal::open(path, header);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->contents().records.size(), 1u);
    EXPECT_FALSE(again->contents().complete);
    EXPECT_TRUE(again->knows(JournalRecord{JournalRecordKind::file, "/a", "2", 0, 0}));
  }  // closed: its lock is released
  auto other = Journal::open(path, JournalHeader{{1}, {0}, "6.1.0-28-amd64", ""});
  ASSERT_FALSE(other.ok());
  EXPECT_THAT(other.error().message, HasSubstr("is for Aether CPUs 2-3, not 1: run `aether partition revert` first"));
}

TEST(Journal, TornLastRecordIsIgnoredAndCut) {
  TempDirectory temp;
  const auto path = temp.path() / "j";
  ASSERT_TRUE(Journal::open(path, header)->record(JournalRecord{JournalRecordKind::file, "/a", "1", 0, 0}).ok());
  write_file(path, read_file(path) + "file /b =");  // killed while writing the next record
  auto contents = read_journal(path);
  ASSERT_TRUE(contents.ok());
  EXPECT_TRUE((*contents)->torn_tail);
  EXPECT_EQ((*contents)->records.size(), 1u);
  {
    auto journal = Journal::open(path, header);
    ASSERT_TRUE(journal.ok()) << journal.error().describe();
    ASSERT_TRUE(journal->record(JournalRecord{JournalRecordKind::file, "/c", "3", 0, 0}).ok());
  }
  EXPECT_THAT(read_file(path), HasSubstr("file /a =1\nfile /c =3\n"));
  EXPECT_FALSE((*read_journal(path))->torn_tail);
}

TEST(Journal, CorruptionIsAnErrorNamingTheLine) {
  EXPECT_THAT(parse_journal("hello\n").error().message, HasSubstr("line 1"));
  EXPECT_THAT(
      parse_journal("aether-partition-journal 1\ncpus =1 housekeeping =0 kernel =x\nbogus record\n").error().message,
      HasSubstr("line 3 \"bogus record\": unknown record"));
  EXPECT_THAT(
      parse_journal("aether-partition-journal 1\ncpus =1 housekeeping =0 kernel =x\naffinity x 1 =0\n").error().message,
      HasSubstr("line 3"));
  EXPECT_FALSE(parse_journal("").ok());
}

TEST(Journal, AbsentIsNotAnError) {
  TempDirectory temp;
  auto contents = read_journal(temp.path() / "none");
  ASSERT_TRUE(contents.ok());
  EXPECT_FALSE(contents->has_value());
  EXPECT_TRUE(remove_journal(temp.path() / "none").ok());
}

TEST(Journal, VersionOneHasNoBootAndIsStillRead) {
  auto contents = parse_journal("aether-partition-journal 1\ncpus =2-3 housekeeping =0-1 kernel =6.1.0-28-amd64\n"
                                "file /proc/irq/default_smp_affinity =f\ncomplete\n");
  ASSERT_TRUE(contents.ok()) << contents.error().describe();
  EXPECT_EQ(contents->header.boot_id, "");
  EXPECT_EQ(contents->header.kernel_release, "6.1.0-28-amd64");
  EXPECT_TRUE(contents->complete);
  // Version 2 requires the boot field, version 1 has none.
  EXPECT_FALSE(parse_journal("aether-partition-journal 2\ncpus =2-3 housekeeping =0-1 kernel =x\n").ok());
  EXPECT_FALSE(parse_journal("aether-partition-journal 1\ncpus =2-3 housekeeping =0-1 kernel =x boot =y\n").ok());
}

TEST(Journal, BootMismatchComparesBootIdAndKernel) {
  const BootIdentity same{header.boot_id, header.kernel_release};
  EXPECT_EQ(journal_boot_mismatch(header, same), std::nullopt);
  const auto rebooted = journal_boot_mismatch(header, BootIdentity{"17f0aa00-0000-4000-8000-000000000000", "6.1.0-28-amd64"});
  ASSERT_TRUE(rebooted.has_value());
  EXPECT_EQ(*rebooted,
            "written in boot 3f1c9a52-8d1e-4b6a-9c0f-2e7d5a4b8c61 (kernel 6.1.0-28-amd64), this is boot "
            "17f0aa00-0000-4000-8000-000000000000 (kernel 6.1.0-28-amd64)");
  EXPECT_TRUE(journal_boot_mismatch(header, BootIdentity{header.boot_id, "6.12.9-amd64"}).has_value());
  // A version 1 journal (no boot id) is compared by its kernel only; an
  // unreadable boot_id compares nothing.
  const JournalHeader old{{2, 3}, {0, 1}, "6.1.0-28-amd64", ""};
  EXPECT_EQ(journal_boot_mismatch(old, BootIdentity{"17f0aa00", "6.1.0-28-amd64"}), std::nullopt);
  EXPECT_TRUE(journal_boot_mismatch(old, BootIdentity{"17f0aa00", "6.12.9-amd64"}).has_value());
  EXPECT_EQ(journal_boot_mismatch(header, BootIdentity{"", "6.1.0-28-amd64"}), std::nullopt);
}

TEST(Journal, ReopeningInAnotherBootIsRefused) {
  TempDirectory temp;
  const auto path = temp.path() / "j";
  ASSERT_TRUE(Journal::open(path, header)->record(JournalRecord{JournalRecordKind::file, "/a", "1", 0, 0}).ok());
  JournalHeader rebooted = header;
  rebooted.boot_id = "17f0aa00-0000-4000-8000-000000000000";
  auto reopened = Journal::open(path, rebooted);
  ASSERT_FALSE(reopened.ok());
  EXPECT_THAT(reopened.error().message, HasSubstr("is from an earlier boot (written in boot 3f1c9a52"));
  EXPECT_THAT(reopened.error().message, HasSubstr("run `aether partition revert`"));
}

// Two applies (or an apply and a revert) on one journal: the second fails
// at once, naming the holder, while the first holds the lock; afterwards it
// succeeds. The holder is another thread, as it would be another process.
TEST(Journal, SecondOpenFailsWhileAnotherHoldsTheLock) {
  TempDirectory temp;
  const auto path = temp.path() / "j";
  std::mutex mutex;
  std::condition_variable changed;
  bool held = false;
  bool release = false;
  std::thread holder([&] {
    auto journal = Journal::open(path, header);
    ASSERT_TRUE(journal.ok()) << journal.error().describe();
    std::unique_lock lock(mutex);
    held = true;
    changed.notify_all();
    changed.wait(lock, [&] { return release; });
  });
  {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return held; });
  }
  auto second = Journal::open(path, header);
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.error().message,
              HasSubstr(fmt::format("journal {} is in use by another `aether partition apply` or `revert` (pid {})",
                                    path.native(), getpid())));
  EXPECT_THAT(second.error().message, HasSubstr(path.native() + ".lock"));
  EXPECT_FALSE(JournalLock::acquire(path).ok());
  {
    std::lock_guard lock(mutex);
    release = true;
  }
  changed.notify_all();
  holder.join();
  EXPECT_TRUE(Journal::open(path, header).ok());
}

TEST(Journal, FilesArePrivateAndLinksAreNotFollowed) {
  TempDirectory temp;
  const auto directory = temp.path() / "state";
  const auto path = directory / "partition.journal";
  // A link planted at the temporary name must not make root truncate its target.
  const auto victim = temp.path() / "victim";
  write_file(victim, "precious\n");
  ASSERT_TRUE(std::filesystem::create_directory(directory));
  ::chmod(directory.c_str(), 0700);
  std::filesystem::create_symlink(victim, std::filesystem::path(path).concat(".new"));
  ASSERT_TRUE(Journal::open(path, header).ok());
  EXPECT_EQ(read_file(victim), "precious\n");
  struct stat status {};
  ASSERT_EQ(::stat(path.c_str(), &status), 0);
  EXPECT_EQ(status.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(journal_lock_path(path).c_str(), &status), 0);
  EXPECT_EQ(status.st_mode & 0777, 0600u);

  // Directories it creates are 0700.
  const auto deep = temp.path() / "new" / "dir" / "partition.journal";
  ASSERT_TRUE(Journal::open(deep, header).ok());
  ASSERT_EQ(::stat(deep.parent_path().c_str(), &status), 0);
  EXPECT_EQ(status.st_mode & 0777, 0700u);

  // The journal itself as a link: neither read nor appended to.
  const auto linked = temp.path() / "linked" / "partition.journal";
  std::filesystem::create_directory(linked.parent_path());
  ::chmod(linked.parent_path().c_str(), 0700);
  std::filesystem::create_symlink(path, linked);
  auto read = read_journal(linked);
  ASSERT_FALSE(read.ok());
  EXPECT_THAT(read.error().message, HasSubstr("a symbolic link: not followed"));
  EXPECT_FALSE(Journal::open(linked, header).ok());

  // A directory others may write to is refused.
  const auto shared = temp.path() / "shared";
  std::filesystem::create_directory(shared);
  ::chmod(shared.c_str(), 0777);
  auto refused = Journal::open(shared / "partition.journal", header);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.error().message, HasSubstr("is writable by group or others (mode 777)"));
  EXPECT_FALSE(std::filesystem::exists(shared / "partition.journal"));
}

}  // namespace
}  // namespace aether::partition
