// AETHER_TRY: propagate a Result's Error in one line (STYLE.md convention 15).
//   AETHER_TRY(auto value, make_thing());   // declares `value`, or returns the Error
//   AETHER_TRY_VOID(do_thing());            // returns the Error of a Result<void>
#pragma once

#include <utility>

#define AETHER_TRY_CONCAT_INNER(a, b) a##b
#define AETHER_TRY_CONCAT(a, b) AETHER_TRY_CONCAT_INNER(a, b)
#define AETHER_TRY_IMPL(result, declaration, expression) \
  auto result = (expression);                             \
  if (!result) return std::move(result).error();          \
  declaration = std::move(result).value()
#define AETHER_TRY(declaration, expression) \
  AETHER_TRY_IMPL(AETHER_TRY_CONCAT(aether_try_, __LINE__), declaration, expression)
#define AETHER_TRY_VOID(expression)                                   \
  do {                                                                \
    if (auto aether_try_void = (expression); !aether_try_void) {      \
      return std::move(aether_try_void).error();                      \
    }                                                                 \
  } while (false)
