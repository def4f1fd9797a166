// The VFIO layer's fd owner is the shared one.
#pragma once

#include "aether/core/unique_fd.hpp"

namespace aether::vfio {
using UniqueFd = aether::UniqueFd;
}  // namespace aether::vfio
