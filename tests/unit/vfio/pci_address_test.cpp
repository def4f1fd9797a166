#include "aether/vfio/pci_address.hpp"

#include <gtest/gtest.h>

namespace aether::vfio {
namespace {

TEST(PciAddress, ParsesFullAndShortForms) {
  auto full = PciAddress::parse("0000:00:03.0");
  ASSERT_TRUE(full.ok()) << full.error().describe();
  EXPECT_EQ(full->to_string(), "0000:00:03.0");
  auto short_form = PciAddress::parse("3b:1f.7");
  ASSERT_TRUE(short_form.ok());
  EXPECT_EQ(short_form->bus, 0x3b);
  EXPECT_EQ(short_form->device, 0x1f);
  EXPECT_EQ(short_form->function, 7);
  EXPECT_EQ(short_form->to_string(), "0000:3b:1f.7");
  auto domain = PciAddress::parse("10000:00:00.0");
  EXPECT_FALSE(domain.ok());
  EXPECT_EQ(PciAddress::parse("abcd:ef:01.2")->to_string(), "abcd:ef:01.2");
}

TEST(PciAddress, RejectsMalformedTextAndQuotesIt) {
  for (const char* text : {"", "eth0", "00:03", "0000:00:20.0", "0000:00:03.8", "0000:100:03.0", "00:03.0x",
                           "0000:00:03.", ":00:03.0"}) {
    auto parsed = PciAddress::parse(text);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_NE(parsed.error().message.find(std::string("'") + text + "'"), std::string::npos) << parsed.error().message;
  }
}

}  // namespace
}  // namespace aether::vfio
