#include "aether/core/cpu_list.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace aether {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<unsigned> parsed(std::string_view text) {
  auto cpus = parse_cpu_list(text);
  EXPECT_TRUE(cpus.ok()) << text << ": " << (cpus.ok() ? "" : cpus.error().describe());
  return cpus.ok() ? *cpus : std::vector<unsigned>{};
}

std::string parse_error(std::string_view text) {
  auto cpus = parse_cpu_list(text);
  EXPECT_FALSE(cpus.ok()) << text << " parsed";
  if (cpus.ok()) return {};
  EXPECT_EQ(cpus.error().code, std::make_error_code(std::errc::invalid_argument));
  return cpus.error().message;
}

TEST(ParseCpuList, SingleCpusAndRanges) {
  EXPECT_THAT(parsed("0"), ElementsAre(0u));
  EXPECT_THAT(parsed("0-3,5,7-9"), ElementsAre(0u, 1u, 2u, 3u, 5u, 7u, 8u, 9u));
  EXPECT_THAT(parsed("4-4"), ElementsAre(4u));
}

TEST(ParseCpuList, EmptyAndBlankAreTheEmptyList) {
  EXPECT_THAT(parsed(""), IsEmpty());
  EXPECT_THAT(parsed("\n"), IsEmpty());  // sysfs "isolated" with nothing isolated
  EXPECT_THAT(parsed("  \t "), IsEmpty());
}

TEST(ParseCpuList, TrimsWhitespaceAndAcceptsKernelSeparators) {
  EXPECT_THAT(parsed("0-1\n"), ElementsAre(0u, 1u));
  EXPECT_THAT(parsed("  2,3 \n"), ElementsAre(2u, 3u));
  // bitmap_parselist() treats whitespace like commas and allows empty regions.
  EXPECT_THAT(parsed("1,,5"), ElementsAre(1u, 5u));
  EXPECT_THAT(parsed("1 5"), ElementsAre(1u, 5u));
}

TEST(ParseCpuList, SortsAndRemovesDuplicates) {
  EXPECT_THAT(parsed("7,1-3,2,0"), ElementsAre(0u, 1u, 2u, 3u, 7u));
}

TEST(ParseCpuList, KernelGroupSyntax) {
  // Documentation/admin-guide/kernel-parameters.rst, "cpu lists".
  const auto cpus = parsed("100-200:2/25");
  EXPECT_THAT(cpus, ElementsAre(100u, 101u, 125u, 126u, 150u, 151u, 175u, 176u, 200u));
  // lib/bitmap-str.c comment: 0-1023:2/256 ==> 0,1,256,257,512,513,768,769
  EXPECT_THAT(parsed("0-1023:2/256"), ElementsAre(0u, 1u, 256u, 257u, 512u, 513u, 768u, 769u));
}

TEST(ParseCpuList, ZeroUsedPerGroupSelectsNothing) { EXPECT_THAT(parsed("0-3:0/4,6"), ElementsAre(6u)); }

TEST(ParseCpuList, StrideShorthand) {
  EXPECT_THAT(parsed("0-8:2"), ElementsAre(0u, 2u, 4u, 6u, 8u));
  EXPECT_THAT(parsed("1-9:4"), ElementsAre(1u, 5u, 9u));
}

TEST(ParseCpuList, ErrorsQuoteTheListAndTheRegion) {
  EXPECT_THAT(parse_error("0-3,x"), HasSubstr("region \"x\""));
  EXPECT_THAT(parse_error("0-3,x"), HasSubstr("\"0-3,x\""));
  EXPECT_THAT(parse_error("3-1"), HasSubstr("descending"));
  EXPECT_THAT(parse_error("1-"), HasSubstr("region \"1-\""));
  EXPECT_THAT(parse_error("-1"), HasSubstr("region \"-1\""));
  EXPECT_THAT(parse_error("0-3:0"), HasSubstr("group size is 0"));
  EXPECT_THAT(parse_error("0-7:3/2"), HasSubstr("out of groups of 2"));
  EXPECT_THAT(parse_error("1x"), HasSubstr("unexpected \"x\""));
  EXPECT_THAT(parse_error("0x3"), HasSubstr("region \"0x3\""));
}

TEST(ParseCpuList, RejectsHugeNumbersWithoutAllocating) {
  EXPECT_THAT(parse_error("0-4000000000"), HasSubstr("largest supported CPU number"));
  EXPECT_THAT(parse_error("99999999999999999999999"), HasSubstr("largest supported CPU number"));
}

// Issue 13 item 14: a list that repeats a wide range ("0-65535," 16000
// times, 128 kB) expanded every repetition before removing duplicates:
// a billion entries, 4 GB. The result is bounded by the CPUs there can be.
TEST(ParseCpuList, RepeatedRangesCostNoMoreThanOnce) {
  std::string repeated;
  for (int i = 0; i < 16000; ++i) repeated += "0-65535,";
  auto cpus = parse_cpu_list(repeated);
  ASSERT_TRUE(cpus.ok()) << cpus.error().describe();
  EXPECT_EQ(cpus->size(), std::size_t{max_cpu_id} + 1);
  EXPECT_EQ(cpus->front(), 0u);
  EXPECT_EQ(cpus->back(), max_cpu_id);
}

// The CPUs named counting repetitions are bounded too, so that the time is.
TEST(ParseCpuList, RepetitionsBeyondABoundAreRefused) {
  std::string repeated;
  for (int i = 0; i < 600; ++i) repeated += "0-65535:1/2,";
  auto cpus = parse_cpu_list(repeated);
  ASSERT_FALSE(cpus.ok());
  EXPECT_THAT(cpus.error().message,
              HasSubstr("repeats its CPUs too often (more work than 256 passes over every possible CPU)"));
  EXPECT_THAT(parsed("0-65535:1/2,0-65535:1/2"), ::testing::SizeIs(32768u));
  EXPECT_THAT(parsed("0-3:2/8,10-13:1/2"), ElementsAre(0u, 1u, 10u, 12u));  // one group, cut by its pattern
}

TEST(ParseCpuList, LastCpuTokensNeedTheHostSize) {
  EXPECT_THAT(parse_error("2-N"), HasSubstr("\"N\""));
  EXPECT_THAT(parse_error("all"), HasSubstr("\"all\""));

  auto with_last = parse_cpu_list("2-N", 5);
  ASSERT_TRUE(with_last.ok()) << with_last.error().describe();
  EXPECT_THAT(*with_last, ElementsAre(2u, 3u, 4u, 5u));
  auto all = parse_cpu_list("all:1/2", 5);
  ASSERT_TRUE(all.ok()) << all.error().describe();
  EXPECT_THAT(*all, ElementsAre(0u, 2u, 4u));
}

TEST(FormatCpuList, CompactRanges) {
  EXPECT_EQ(format_cpu_list(std::vector<unsigned>{}), "");
  EXPECT_EQ(format_cpu_list(std::vector<unsigned>{3}), "3");
  EXPECT_EQ(format_cpu_list(std::vector<unsigned>{0, 1, 2, 3, 5, 7, 8, 9}), "0-3,5,7-9");
  EXPECT_EQ(format_cpu_list(std::vector<unsigned>{4, 5}), "4-5");
  EXPECT_EQ(format_cpu_list(std::vector<unsigned>{9, 1, 1, 0}), "0-1,9");
}

TEST(FormatCpuList, RoundTripsThroughParse) {
  for (std::string_view text : {"0", "0-3,5,7-9", "1,3,5,7", "0-1023:2/256", "", "10-12,14,16-63"}) {
    const auto cpus = parsed(text);
    EXPECT_EQ(parsed(format_cpu_list(cpus)), cpus) << text;
  }
}

TEST(CpuListContains, BinarySearch) {
  const std::vector<unsigned> cpus{0, 2, 4};
  EXPECT_TRUE(cpu_list_contains(cpus, 2));
  EXPECT_FALSE(cpu_list_contains(cpus, 3));
  EXPECT_FALSE(cpu_list_contains({}, 0));
}

}  // namespace
}  // namespace aether
