#include "aether/partition/cpu_mask.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace aether::partition {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(ParseCpuMask, KernelFormats) {
  EXPECT_THAT(*parse_cpu_mask("3\n"), ElementsAre(0u, 1u));
  EXPECT_THAT(*parse_cpu_mask("0c"), ElementsAre(2u, 3u));
  EXPECT_THAT(*parse_cpu_mask("00000000"), IsEmpty());
  // Documentation/core-api/irq/irq-affinity.rst: 64 CPUs.
  const auto all64 = parse_cpu_mask("ffffffff,ffffffff");
  ASSERT_TRUE(all64.ok());
  EXPECT_EQ(all64->size(), 64u);
  EXPECT_THAT(*parse_cpu_mask("1,00000000"), ElementsAre(32u));
  EXPECT_THAT(*parse_cpu_mask("80000000,00000001"), ElementsAre(0u, 63u));
  EXPECT_THAT(*parse_cpu_mask("F0"), ElementsAre(4u, 5u, 6u, 7u));
}

TEST(ParseCpuMask, RejectsGarbage) {
  EXPECT_THAT(parse_cpu_mask("").error().message, HasSubstr("empty"));
  EXPECT_THAT(parse_cpu_mask("0-3").error().message, HasSubstr("not a hex digit"));
  EXPECT_THAT(parse_cpu_mask("1,,2").error().message, HasSubstr("chunk"));
  EXPECT_THAT(parse_cpu_mask("123456789").error().message, HasSubstr("1 to 8 hex digits"));
}

TEST(FormatCpuMask, AsTheKernelPrints) {
  const std::vector<unsigned> first_two{0, 1};
  EXPECT_EQ(format_cpu_mask(first_two, 2), "3");
  const std::vector<unsigned> middle{2, 3};
  EXPECT_EQ(format_cpu_mask(middle, 8), "0c");
  const std::vector<unsigned> cpu32{32};
  EXPECT_EQ(format_cpu_mask(cpu32, 64), "00000001,00000000");
  EXPECT_EQ(format_cpu_mask(cpu32, 36), "1,00000000");
  EXPECT_EQ(format_cpu_mask({}, 4), "0");
  const std::vector<unsigned> beyond{9};  // widens the mask
  EXPECT_EQ(format_cpu_mask(beyond, 4), "200");
}

TEST(FormatCpuMask, RoundTrips) {
  const std::vector<unsigned> cpus{0, 5, 31, 32, 33, 64, 100};
  EXPECT_EQ(*parse_cpu_mask(format_cpu_mask(cpus, 128)), cpus);
}

}  // namespace
}  // namespace aether::partition
