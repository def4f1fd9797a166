// The memif backend's fd owner is the shared one.
#pragma once

#include "aether/core/unique_fd.hpp"

namespace aether::backends::memif {
using FileDescriptor = aether::UniqueFd;
}  // namespace aether::backends::memif
