// Fuzz target: the SPSC ring (ring/) and the mempool's index ring (mem/) at
// several capacities, driven by a sequence of bulk pushes and pops and
// checked against a plain FIFO model. Byte 0 picks the capacity (1..2^12,
// a power of two); each following byte is one operation: bit 7 push/pop,
// bit 6 single/bulk, the rest a count. Invariants: FIFO order, nothing lost
// or duplicated, full and empty exactly at capacity and zero.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <vector>

#include "aether/mem/index_ring.hpp"
#include "aether/ring/spsc_ring.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t capacity = std::size_t{1} << (data[0] % 13);
  auto spsc = aether::SpscRing<std::uint64_t>::create(capacity);
  if (!spsc) std::abort();
  aether::mem::IndexRing index_ring(static_cast<std::uint32_t>(capacity));
  // The index ring rounds a capacity of 1 up to 2; it gets its own model.
  const std::size_t index_capacity = index_ring.capacity();
  if (index_capacity != std::max<std::size_t>(capacity, 2)) std::abort();
  std::deque<std::uint64_t> model;
  std::deque<std::uint32_t> index_model;
  std::uint32_t next_index = 0;
  std::uint64_t next = 0;
  std::vector<std::uint64_t> values;
  std::vector<std::uint32_t> indices;
  for (std::size_t at = 1; at < size; ++at) {
    const bool push = (data[at] & 0x80) != 0;
    const bool bulk = (data[at] & 0x40) != 0;
    const std::size_t count = bulk ? (data[at] & 0x3f) : 1;
    if (push) {
      values.clear();
      for (std::size_t i = 0; i < count; ++i) values.push_back(next + i);
      indices.clear();
      for (std::size_t i = 0; i < count; ++i) indices.push_back(next_index + static_cast<std::uint32_t>(i));
      const std::size_t pushed = bulk ? spsc->push_bulk(values) : (spsc->try_push(values[0]) ? 1 : 0);
      const unsigned indexed = index_ring.push_bulk(indices);
      if (pushed != std::min(count, capacity - model.size())) std::abort();
      if (indexed != std::min(count, index_capacity - index_model.size())) std::abort();
      for (std::size_t i = 0; i < pushed; ++i) model.push_back(next++);
      for (std::size_t i = 0; i < indexed; ++i) index_model.push_back(next_index++);
    } else {
      values.assign(count, ~std::uint64_t{0});
      indices.assign(count, ~std::uint32_t{0});
      const std::size_t popped = bulk ? spsc->pop_bulk(values) : (spsc->try_pop(values[0]) ? 1 : 0);
      const unsigned indexed = index_ring.pop_bulk(std::span<std::uint32_t>(indices.data(), count));
      if (popped != std::min(count, model.size())) std::abort();
      if (indexed != std::min(count, index_model.size())) std::abort();
      for (std::size_t i = 0; i < popped; ++i) {
        if (values[i] != model.front()) std::abort();
        model.pop_front();
      }
      for (std::size_t i = 0; i < indexed; ++i) {
        if (indices[i] != index_model.front()) std::abort();
        index_model.pop_front();
      }
    }
    if (spsc->size_approx() != model.size() || index_ring.size() != index_model.size()) std::abort();
  }
  return 0;
}
