// What else shapes a latency figure on this host: kernel, idle states,
// frequency scaling, RT throttling. Every report carries it.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace aether {

// (key, value) pairs in a fixed order; keys whose source is absent are left out.
std::vector<std::pair<std::string, std::string>> describe_host_environment();

}  // namespace aether
