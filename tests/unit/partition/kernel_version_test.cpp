#include "aether/partition/kernel_version.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace aether::partition {
namespace {

TEST(KernelVersion, ParsesReleaseStrings) {
  const auto debian = parse_kernel_version("6.1.0-28-amd64\n");
  ASSERT_TRUE(debian.ok());
  EXPECT_EQ(debian->major, 6u);
  EXPECT_EQ(debian->minor, 1u);
  EXPECT_EQ(debian->patch, 0u);
  EXPECT_EQ(debian->release, "6.1.0-28-amd64");
  const auto rc = parse_kernel_version("7.0-rc1");
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(rc->major, 7u);
  EXPECT_EQ(rc->minor, 0u);
  EXPECT_EQ(parse_kernel_version("6.18.44-fc-v657")->short_text(), "6.18.44");
  EXPECT_FALSE(parse_kernel_version("linux").ok());
  EXPECT_FALSE(parse_kernel_version("6").ok());
}

TEST(KernelVersion, FeatureGatesFollowTheSpec) {
  auto at = [](const char* release) { return *parse_kernel_version(release); };
  EXPECT_FALSE(has_isolated_partitions(at("6.0.19")));
  EXPECT_TRUE(has_isolated_partitions(at("6.1.0")));
  EXPECT_FALSE(has_remote_partitions(at("6.6.1")));
  EXPECT_TRUE(has_remote_partitions(at("6.7")));
  EXPECT_FALSE(partitions_exclude_workqueues(at("6.7.12")));
  EXPECT_TRUE(partitions_exclude_workqueues(at("6.8.0")));
  EXPECT_TRUE(partitions_exclude_workqueues(at("6.12.9")));
  EXPECT_FALSE(has_timer_migration_hierarchy(at("6.8")));
  EXPECT_TRUE(has_timer_migration_hierarchy(at("6.9")));
  EXPECT_FALSE(partitions_exclude_timer_migration(at("6.18.44")));
  EXPECT_TRUE(partitions_exclude_timer_migration(at("6.19.0")));
  EXPECT_TRUE(partitions_exclude_timer_migration(at("7.2.0")));
  EXPECT_TRUE(at("10.0").at_least(6, 19));
}

}  // namespace
}  // namespace aether::partition
