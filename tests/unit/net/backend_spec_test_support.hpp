// Parsing a backend's spec the way open_port does (parse_port_spec, then the
// backend's own parser), for the udp and afpacket spec tests.
#pragma once

#include <string>

#include <gtest/gtest.h>

#include "aether/net/port_spec.hpp"

namespace aether::test {

template <class Config>
using BackendSpecParser = Result<Config> (*)(const net::PortSpec&);

template <class Config>
Result<Config> parse_backend_spec(BackendSpecParser<Config> parser, const std::string& text) {
  auto spec = net::parse_port_spec(text);
  if (!spec) return std::move(spec).error();
  return parser(*spec);
}

// The error message for a spec that must be refused ("" and a failure if accepted).
template <class Config>
std::string backend_spec_error(BackendSpecParser<Config> parser, const std::string& text) {
  auto config = parse_backend_spec(parser, text);
  EXPECT_FALSE(config) << text << " was accepted";
  return config ? std::string() : config.error().message;
}

}  // namespace aether::test
