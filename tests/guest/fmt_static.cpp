// fmt's compiled part, for the static guest binaries only.
//
// Debian 12 ships fmt 9.1 as a shared library (libfmt.so) without libfmt.a,
// and a static executable cannot link a .so. fmt keeps the definitions of
// its compiled functions in <fmt/format-inl.h>; including it here emits them
// (vformat, vprint, format_error...), and the explicit instantiations below
// are the templates that <fmt/format.h> declares `extern template` and the
// library normally provides.
#include <fmt/format-inl.h>

FMT_BEGIN_NAMESPACE
namespace detail {

template FMT_API auto dragonbox::to_decimal(float x) noexcept -> dragonbox::decimal_fp<float>;
template FMT_API auto dragonbox::to_decimal(double x) noexcept -> dragonbox::decimal_fp<double>;
template FMT_API locale_ref::locale_ref(const std::locale& loc);
template FMT_API auto locale_ref::get<std::locale>() const -> std::locale;
template FMT_API auto thousands_sep_impl(locale_ref) -> thousands_sep_result<char>;
template FMT_API auto decimal_point_impl(locale_ref) -> char;
template FMT_API void buffer<char>::append(const char*, const char*);
template FMT_API void vformat_to(buffer<char>&, string_view, basic_format_args<FMT_BUFFER_CONTEXT(char)>, locale_ref);

}  // namespace detail
FMT_END_NAMESPACE
