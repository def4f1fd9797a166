#include "aether/partition/journal.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fake_host.hpp"

namespace aether::partition {
namespace {

using test::read_file;
using test::TempDirectory;
using test::write_file;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const JournalHeader header{{2, 3}, {0, 1}, "6.1.0-28-amd64"};

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
  EXPECT_THAT(text, HasSubstr("aether-partition-journal 1\ncpus =2-3 housekeeping =0-1 kernel =6.1.0-28-amd64\n"));
  EXPECT_THAT(text, HasSubstr("file /sys/kernel/mm/transparent_hugepage/enabled =always%20[madvise]%20never\n"));
  EXPECT_THAT(text, HasSubstr("affinity 1234 98765 =0-3\n"));
  auto contents = read_journal(path);
  ASSERT_TRUE(contents.ok() && *contents) << (contents.ok() ? "absent" : contents.error().describe());
  const JournalContents& read = **contents;
  EXPECT_TRUE(read.complete);
  EXPECT_FALSE(read.torn_tail);
  EXPECT_THAT(read.header.aether_cpus, ElementsAre(2u, 3u));
  ASSERT_EQ(read.records.size(), 8u);
  EXPECT_EQ(read.records[0].previous, "f");
  EXPECT_EQ(read.records[4].tid, 1234);
  EXPECT_EQ(read.records[5].previous, "always [madvise] never");
  EXPECT_EQ(read.records[6].previous, "");
  EXPECT_EQ(read.records[7].start_time, 5u);
}

TEST(Journal, ReopeningContinuesAndRefusesOtherCpus) {
  TempDirectory temp;
  const auto path = temp.path() / "j";
  ASSERT_TRUE(Journal::open(path, header)->record(JournalRecord{JournalRecordKind::file, "/a", "1", 0, 0}).ok());
  auto again = Journal::open(path, header);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->contents().records.size(), 1u);
  EXPECT_FALSE(again->contents().complete);
  EXPECT_TRUE(again->knows(JournalRecord{JournalRecordKind::file, "/a", "2", 0, 0}));
  auto other = Journal::open(path, JournalHeader{{1}, {0}, "x"});
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

}  // namespace
}  // namespace aether::partition
