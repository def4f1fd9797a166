// Set operations on sorted, duplicate-free CPU lists (parse_cpu_list
// results). Private to the partition module.
#pragma once

#include <algorithm>
#include <iterator>
#include <span>
#include <vector>

namespace aether::partition::detail {

inline std::vector<unsigned> cpu_intersection(std::span<const unsigned> a, std::span<const unsigned> b) {
  std::vector<unsigned> out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

// CPUs of `a` that are not in `b`.
inline std::vector<unsigned> cpu_difference(std::span<const unsigned> a, std::span<const unsigned> b) {
  std::vector<unsigned> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

inline std::vector<unsigned> cpu_union(std::span<const unsigned> a, std::span<const unsigned> b) {
  std::vector<unsigned> out;
  std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

// Every CPU of `part` is in `whole`.
inline bool cpu_subset(std::span<const unsigned> part, std::span<const unsigned> whole) {
  return std::includes(whole.begin(), whole.end(), part.begin(), part.end());
}

inline bool cpu_overlap(std::span<const unsigned> a, std::span<const unsigned> b) {
  return !cpu_intersection(a, b).empty();
}

}  // namespace aether::partition::detail
