#include "aether/vfio/bar_mapping.hpp"

#include <sys/mman.h>

#include <utility>

namespace aether::vfio {

BarMapping::~BarMapping() { release(); }

BarMapping::BarMapping(BarMapping&& other) noexcept
    : base_(std::exchange(other.base_, nullptr)), length_(std::exchange(other.length_, 0)), bar_(other.bar_) {}

BarMapping& BarMapping::operator=(BarMapping&& other) noexcept {
  if (this != &other) {
    release();
    base_ = std::exchange(other.base_, nullptr);
    length_ = std::exchange(other.length_, 0);
    bar_ = other.bar_;
  }
  return *this;
}

void BarMapping::release() noexcept {
  if (base_ != nullptr) ::munmap(base_, length_);
  base_ = nullptr;
  length_ = 0;
}

}  // namespace aether::vfio
