// The afxdp backend's fd owner is the shared one.
#pragma once

#include "aether/core/unique_fd.hpp"

namespace aether::backends::afxdp {
using FileDescriptor = aether::UniqueFd;
}  // namespace aether::backends::afxdp
