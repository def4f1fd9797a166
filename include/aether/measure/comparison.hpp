// Factors between two figures, written the way people read them:
// "14.2x lower", "1.31x higher", "same" - never "0.070x", which reads as
// nothing at a glance and hides which side is better.
#pragma once

#include <string>

namespace aether::measure {

// `value` against `reference`, both positive: "N.NNx lower", "N.NNx higher",
// or "same" when they differ by less than 0.5 %. Three significant digits
// ("1.31x", "14.2x", "140x"). "-" when either is missing (<= 0).
std::string format_factor(double value, double reference);

}  // namespace aether::measure
